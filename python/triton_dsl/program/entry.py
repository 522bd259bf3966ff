"""`program.main`: the whole command line of a generated model file.

A generated file ends with `program.main(Model, info=..., training=..., performance=...,
optimization=..., script=__file__)` and contains no other logic (docs/architecture.md).
This function parses the flags (cli.py), dispatches to the action (commands.py) and turns
the three ways a run can end badly into the project's conventions: a `UserError` prints one
line `error: ...` on stderr and exits 2; Ctrl-C outside the training loop exits 130; any
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import torch

from triton_dsl.errors import UserError
from triton_dsl.program import commands
from triton_dsl.program.cli import parse_arguments
from triton_dsl.program.context import ProgramContext

EXIT_USER_ERROR = 2


def run(model_class: type, *, info: dict[str, Any], training: dict[str, Any] | None = None,
        performance: dict[str, Any] | None = None, optimization: dict[str, Any] | None = None,
        script: str | None = None, argv: Sequence[str] | None = None) -> int:
    """Runs the command line on `argv` and returns the exit status (raises `UserError`)."""
    context = ProgramContext(model_class, info or {}, training or {}, performance or {},
                             optimization or {}, script)
    prog = os.path.basename(script) if script else None
    args = parse_arguments(argv, prog=prog)
    precision = context.info.get("float32_matmul_precision")
    if precision is not None:  # chosen by `triton compile -O3` (compiler/passes/float32_precision.cpp)
        torch.set_float32_matmul_precision(precision)
    if args.train:
        return commands.train(context, args)
    if args.eval:
        return commands.evaluate_checkpoint(context, args)
    if args.export_onnx:
        return commands.export(context, args, "onnx")
    if args.export_tflite:
        return commands.export(context, args, "tflite")
    if args.export_weights:
        return commands.export(context, args, "weights")
    if args.export_mobile:
        return commands.export(context, args, "mobile")
    return commands.export(context, args, "packed")


def main(model_class: type, *, info: dict[str, Any], training: dict[str, Any] | None = None,
         performance: dict[str, Any] | None = None, optimization: dict[str, Any] | None = None,
         script: str | None = None, argv: Sequence[str] | None = None) -> None:
    """The entry point a generated model file calls; exits the process."""
    try:
        status = run(model_class, info=info, training=training, performance=performance,
                     optimization=optimization, script=script, argv=argv)
    except UserError as error:
        sys.stdout.flush()
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(commands.EXIT_INTERRUPTED)
    sys.exit(status)

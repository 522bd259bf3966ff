"""The command line of every generated model file (`python model.py --train ...`).

`main` is what the generated code calls; `run` does the same and returns the exit status
instead of exiting, for tests and tools. Argument parsing lives in `cli.py` only; the work
lives in library functions (`commands.py` here, `triton_dsl.train` for the trainer).

Every generated file imports this package at the top, also when it is only imported for
its `Model` (by the exporters, benchmarks, notebooks), so the trainer and exporters behind
the command line load only when `main` or `run` is called.
"""

from __future__ import annotations

from typing import Any


def run(model_class: type, **kwargs: Any) -> int:
    """Runs the command line and returns the exit status; see `entry.run`."""
    from triton_dsl.program.entry import run as _run

    return _run(model_class, **kwargs)


def main(model_class: type, **kwargs: Any) -> None:
    """The entry point a generated model file calls; exits the process. See `entry.main`."""
    from triton_dsl.program.entry import main as _main

    _main(model_class, **kwargs)


__all__ = ["main", "run"]

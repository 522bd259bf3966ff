"""What every command needs from the generated file and the flags: model, device, paths.

A generated file hands `program.main` its model class and its sections; `ProgramContext`
keeps them together with the script's stem (the prefix of `<stem>_best.pth`). The helpers
here turn flags into checked objects before any work starts: the device (`--gpu` without a
GPU is an error, not a silent CPU run), the model with its hyper-parameters
(`--num-classes`), the example input the exporters and the latency measurement trace with,
and an output directory known to be writable before the first epoch.
"""

from __future__ import annotations

import inspect
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from triton_dsl.errors import UserError


@dataclass
class ProgramContext:
    """The generated file's contribution to a run (see docs/architecture.md)."""

    model_class: type
    info: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] = field(default_factory=dict)
    optimization: dict[str, Any] = field(default_factory=dict)
    script: str | None = None

    @property
    def stem(self) -> str:
        if self.script:
            return Path(self.script).stem
        return str(self.info.get("name", "model")).lower()

    @property
    def model_name(self) -> str:
        return str(self.info.get("name", self.model_class.__name__))

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The file's hyper-parameters (the constructor's keyword defaults as a fallback)."""
        declared = self.info.get("hyperparameters")
        if declared:
            return dict(declared)
        signature = inspect.signature(self.model_class)
        return {name: p.default for name, p in signature.parameters.items()
                if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}

    def input_shape(self) -> list[Any] | None:
        inputs = self.info.get("inputs") or []
        if inputs and isinstance(inputs[0], dict):
            return list(inputs[0].get("shape") or []) or None
        return None


def resolve_device(gpu: int | None, *, local_rank: int | None = None) -> torch.device:
    """`cuda:N` for `--gpu [N]` (the local rank's GPU when distributed), else the CPU."""
    if gpu is None:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError("--gpu was given but no CUDA GPU is available; leave out --gpu to use "
                        "the CPU")
    index = local_rank if local_rank is not None else gpu
    if index >= torch.cuda.device_count():
        raise UserError(f"--gpu {index}: only {torch.cuda.device_count()} GPU(s) visible")
    return torch.device("cuda", index)


def model_hyperparameters(context: ProgramContext, num_classes: int | None) -> dict[str, Any]:
    """The file's hyper-parameters with `--num-classes` applied."""
    hyper = context.hyperparameters
    if num_classes is not None:
        if "num_classes" not in hyper:
            raise UserError(f"model `{context.model_name}` has no `num_classes` hyper-parameter, "
                            f"so --num-classes cannot change it")
        hyper["num_classes"] = num_classes
    return hyper


def build_model(context: ProgramContext, hyperparameters: dict[str, Any]) -> nn.Module:
    try:
        return context.model_class(**hyperparameters)
    except UserError:
        raise
    except (TypeError, ValueError) as error:
        raise UserError(f"cannot build `{context.model_name}` with {hyperparameters}: "
                        f"{error}") from None


def example_input(context: ProgramContext, fallback_shape: tuple[int, ...] | None = None
                  ) -> torch.Tensor:
    """One batch-1 input of the model's declared shape (symbolic dims from `fallback_shape`)."""
    shape = context.input_shape()
    if shape is None:
        if fallback_shape is None:
            raise UserError(f"model `{context.model_name}` declares no input shape; cannot "
                            f"build an example input")
        return torch.randn(1, *fallback_shape)
    dims = []
    for position, dim in enumerate(shape):
        if isinstance(dim, int) and not isinstance(dim, bool):
            dims.append(dim if position > 0 else 1)
        elif position == 0:
            dims.append(1)
        elif fallback_shape is not None and position - 1 < len(fallback_shape):
            dims.append(int(fallback_shape[position - 1]))
        else:
            raise UserError(f"the input dimension `{dim}` of model `{context.model_name}` is "
                            f"symbolic; cannot build an example input")
    generator = torch.Generator().manual_seed(0)
    return torch.randn(*dims, generator=generator)


def check_output_dir(path: str | os.PathLike) -> Path:
    """Fails now, with one line, if `path` cannot hold the run's files; creates nothing."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"output directory `{path}` cannot be created: `{probe}` is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"output directory `{path}` is not writable")
    if probe == path:
        # os.access can say yes where a write still fails (read-only mounts, ACLs): try one.
        try:
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
                pass
        except OSError as error:
            raise UserError(f"output directory `{path}` is not writable "
                            f"({error.strerror or error})") from None
    return path


def make_output_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create output directory `{path}` "
                        f"({error.strerror or error})") from None
    return path

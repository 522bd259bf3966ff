"""TorchScript for PyTorch's lite interpreter (PyTorch Mobile), from a trained model.

The model is traced (`torch.jit.trace`) in eval mode, so the graph holds exactly the eval
computation: ternary layers produce `alpha * t` from their weights, batch norm uses its
running statistics, dropout is gone. `optimize_for_mobile` then folds batch norm into
convolutions and fuses activations where it can (when this PyTorch build lacks XNNPACK,
which the optimizer needs, the module is frozen instead: weights become constants),
and `_save_for_lite_interpreter` writes the `.ptl` file that
`torch.jit.mobile._load_for_lite_interpreter` and the mobile runtimes load. The file is
written to a temporary name and renamed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from triton_dsl.train.checkpoint import atomic_write


def _mobile_optimizer_available() -> bool:
    # optimize_for_mobile asserts inside C++ when PyTorch was built without XNNPACK.
    xnnpack = getattr(torch.backends, "xnnpack", None)
    return bool(getattr(xnnpack, "enabled", False))


def trace_for_mobile(model: nn.Module, example_input: torch.Tensor) -> torch.jit.ScriptModule:
    """The traced (and, where this PyTorch supports it, mobile-optimized) module."""
    model = model.cpu().eval()
    example = example_input.detach().cpu().float()
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns about Python values turned into constants (in eval mode that is
        # exactly what is wanted: the quantized weights are fixed) and that TorchScript is
        # deprecated in favour of torch.export, which has no lite-interpreter format.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, (example,), check_trace=False)
        if _mobile_optimizer_available():
            from torch.utils.mobile_optimizer import optimize_for_mobile
            return optimize_for_mobile(traced)
        return torch.jit.freeze(traced.eval())


def export_mobile(model: nn.Module, path: str | os.PathLike, *,
                  example_input: torch.Tensor) -> Path:
    """Writes `model` as a lite-interpreter TorchScript file at `path`; returns the path."""
    path = Path(path)
    module = trace_for_mobile(model, example_input)

    def write(temp: str) -> None:
        with warnings.catch_warnings():
            # "use ExecuTorch instead": the lite format is what this export promises.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            module._save_for_lite_interpreter(temp)

    atomic_write(path, write)
    return path

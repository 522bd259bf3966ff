"""Triton DSL's Python runtime: the package the generated PyTorch code imports.

The `torch.nn` building blocks (`layers`, `functional`, `init`, `quant`) are imported here
because every generated model needs them. The command line (`program`, `train`), datasets
(`data`) and exporters (`export`) are imported only where used: they pull in optional
dependencies (torchvision, onnx, the native module) that a model by itself does not need.
"""

from __future__ import annotations

from triton_dsl import functional, init, layers, quant
from triton_dsl.errors import UserError

__version__ = "0.1.0"

__all__ = ["UserError", "__version__", "functional", "init", "layers", "quant"]

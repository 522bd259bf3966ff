"""ONNX export of a trained model, through the compiler's ONNX backend.

There is one ONNX writer, the C++ backend (`triton compile --backend onnx`,
compiler/codegen/onnx/). This module hands it the trained weights: it writes the model's
state_dict and its ternary codes and scales to a temporary safetensors file
(`safetensors.py`) and runs `triton compile SOURCE --backend onnx --weights FILE` as a
subprocess (`triton_dsl.compiler`, the package's way of running the compiler). The graph
keeps the compression: ternary weights are int4 codes (by default) and one float scale per
output channel behind `DequantizeLinear`. The file is written atomically by the compiler
and, when the `onnx` package is installed, checked with `onnx.checker`.

`level=3` asks for the compiler's -O3 integer lowering: layers with 8-bit activations become
integer QDQ groups that onnxruntime runs on its int8 kernels (QLinearConv,
MatMulIntegerToFloat); `output_ranges` (from `calibration.output_ranges`) gives the output
scales of layers whose output feeds no other 8-bit layer.

The compiler builds the graph from the `.triton` source under its default
hyper-parameters; a model built with other values (`--num-classes`) is reported by the
compiler as a weights file whose shapes do not match.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torch import nn

from triton_dsl.errors import UserError
from triton_dsl.export.safetensors import export_tensors, write_safetensors

WEIGHT_CODES = ("int4", "int2", "int8", "float32")


def compile_with_weights(model: nn.Module, path: str | os.PathLike, *, source: str | os.PathLike,
                         flags: list[str], model_name: str | None = None,
                         extra_tensors: dict | None = None) -> Path:
    """`triton compile SOURCE FLAGS --weights W --output PATH` with W the model's trained
    tensors in a temporary safetensors file: how every compiler backend (ONNX here, TFLite
    in `tflite.py`) receives a checkpoint. Returns the path."""
    from triton_dsl.compiler import compile_file

    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"cannot write `{path}`: the directory `{path.parent}` does not exist")
    if model_name:
        flags = [*flags, "--model", model_name]
    with tempfile.TemporaryDirectory(prefix="triton-export-") as directory:
        tensors = export_tensors(model.cpu().eval())
        tensors.update(extra_tensors or {})
        weights = write_safetensors(tensors, Path(directory) / "weights.safetensors")
        compile_file(source, path, *flags, "--weights", str(weights))
    return path


def export_onnx(model: nn.Module, path: str | os.PathLike, *, source: str | os.PathLike,
                model_name: str | None = None, weight_codes: str = "int4",
                check: bool = True, level: int = 2, output_ranges: dict | None = None) -> Path:
    """Writes `model` (compiled from `source`, its entry model `model_name`) as ONNX to
    `path`; returns the path."""
    if weight_codes not in WEIGHT_CODES:
        raise UserError(f"weight codes must be one of {', '.join(WEIGHT_CODES)}, got "
                        f"{weight_codes!r}")
    path = compile_with_weights(model, path, source=source, model_name=model_name,
                                flags=["--backend", "onnx", "--weight-codes", weight_codes,
                                       f"-O{int(level)}"],
                                extra_tensors=output_ranges)
    if check:
        try:
            import onnx
        except ImportError:
            return path
        try:
            onnx.checker.check_model(str(path))
        except onnx.checker.ValidationError as error:  # a compiler bug, not the user's
            raise RuntimeError(f"the compiler wrote an invalid ONNX model: {error}") from None
    return path

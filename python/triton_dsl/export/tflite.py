"""TFLite export of a trained model, through the compiler's TFLite backend.

One writer per format: the TFLite file is written by the C++ backend
(`triton compile --backend tflite`, compiler/codegen/tflite/), which converts the graph of
the compiler's ONNX lowering. This module hands it the trained weights the same way
`onnx.py` does: the model's state_dict and its ternary codes and scales go to a temporary
safetensors file (`safetensors.py`), and `triton compile SOURCE --backend tflite --weights
FILE` runs as a subprocess (`triton_dsl.compiler`). Ternary weights stay int8 codes with
one scale per output channel, dequantized in the graph; the file is written atomically by
the compiler. The model has a static batch of 1.

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


def export_tflite(model: nn.Module, path: str | os.PathLike, *, source: str | os.PathLike,
                  model_name: str | None = None) -> Path:
    """Writes `model` (compiled from `source`, its entry model `model_name`) as TFLite to
    `path`; returns the path."""
    from triton_dsl.compiler import compile_file

    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"cannot write `{path}`: the directory `{path.parent}` does not exist")
    flags = ["--backend", "tflite"]
    if model_name:
        flags += ["--model", model_name]
    with tempfile.TemporaryDirectory(prefix="triton-tflite-") as directory:
        weights = write_safetensors(export_tensors(model.cpu().eval()),
                                    Path(directory) / "weights.safetensors")
        compile_file(source, path, *flags, "--weights", str(weights))
    return path

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

`level=3` and `output_ranges` ask for the integer lowering, as in `export_onnx`: layers with
8-bit activations become int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operators.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from triton_dsl.export.onnx import compile_with_weights


def export_tflite(model: nn.Module, path: str | os.PathLike, *, source: str | os.PathLike,
                  model_name: str | None = None, level: int = 2,
                  output_ranges: dict | None = None) -> Path:
    """Writes `model` (compiled from `source`, its entry model `model_name`) as TFLite to
    `path`; returns the path."""
    return compile_with_weights(model, path, source=source, model_name=model_name,
                                flags=["--backend", "tflite", f"-O{int(level)}"],
                                extra_tensors=output_ranges)

"""The weights file that `triton compile --backend onnx --weights FILE` reads.

A safetensors file (the format of huggingface/safetensors, written here in plain Python:
an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
byte range, then the raw little-endian bytes) holding a model's `state_dict`, plus, for
every ternary layer, the codes and scales its eval-mode forward computes with:
`<layer>.weight.codes` (int8 in {-1, 0, 1}) and `<layer>.weight.scales` (float32, one per
output channel), from `TernaryWeightMixin.ternary_weight` (`triton_dsl.quant`). The compiler
stores those as they are, so the ONNX graph computes with exactly the PyTorch weights; the
latent float weights stay in the file for any other reader.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch
from torch import Tensor, nn

_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
           torch.uint8: "U8", torch.bool: "BOOL"}
_TORCH = {name: dtype for dtype, name in _DTYPES.items()}


def export_tensors(model: nn.Module) -> dict[str, Tensor]:
    """The model's state_dict (on the CPU) plus each ternary layer's codes and scales."""
    from triton_dsl.layers import ternary_layers

    tensors = {name: value.detach().cpu() for name, value in model.state_dict().items()}
    for name, layer in ternary_layers(model):
        codes, scales = layer.ternary_weight()
        tensors[f"{name}.weight.codes"] = codes.cpu()
        tensors[f"{name}.weight.scales"] = scales.cpu()
    return tensors


def write_safetensors(tensors: dict[str, Tensor], path: str | os.PathLike) -> Path:
    """Writes `tensors` to `path` (tensors of other dtypes than `_DTYPES` are refused)."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name]
        if tensor.dtype not in _DTYPES:
            raise ValueError(f"tensor `{name}` has dtype {tensor.dtype}, which safetensors "
                             f"files here do not carry")
        data = tensor.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes() \
            if tensor.numel() else b""
        header[name] = {"dtype": _DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the reference writer does
    path = Path(path)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        handle.writelines(chunks)
    return path


def read_safetensors(path: str | os.PathLike) -> dict[str, Tensor]:
    """Reads a file written by `write_safetensors` (tests and tools)."""
    raw = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    data = raw[8 + size:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        buffer = bytearray(data[begin:end])
        flat = torch.frombuffer(buffer, dtype=_TORCH[entry["dtype"]]) if buffer else \
            torch.empty(0, dtype=_TORCH[entry["dtype"]])
        out[name] = flat.reshape(entry["shape"]).clone()
    return out

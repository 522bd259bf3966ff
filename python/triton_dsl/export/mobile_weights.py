"""Ternary weights of a `--export-mobile` file as 2-bit codes, and the scripted module that
unpacks them (see triton_dsl.export.mobile).

This file has no `from __future__ import annotations`: TorchScript reads the class
attribute annotation of `PackedTernaryWeight.cached` and cannot resolve it as a string.
"""

from typing import List, Optional  # noqa: UP035 (TorchScript reads these annotations)

import torch
from torch import nn

_SHIFTS = (0, 2, 4, 6)  # code i of a byte sits at bits 2i and 2i+1


def pack_codes(codes: torch.Tensor) -> torch.Tensor:
    """Ternary codes in {-1, 0, 1} (any shape) as uint8, four per byte in row-major order:
    0 -> 0b00, +1 -> 0b01, -1 -> 0b10, the first code in the lowest bits; the last byte is
    padded with zeros."""
    flat = codes.reshape(-1).to(torch.int64)
    fields = torch.where(flat < 0, torch.full_like(flat, 2), flat)
    pad = (-fields.numel()) % 4
    fields = torch.cat([fields, fields.new_zeros(pad)]).reshape(-1, 4)
    packed = sum(fields[:, i] << shift for i, shift in enumerate(_SHIFTS))
    return packed.to(torch.uint8)


def unpack_codes(packed: torch.Tensor, count: int) -> torch.Tensor:
    """The first `count` codes of `pack_codes` output, as float32 in {-1, 0, 1}, built from
    tensor operations only (the exported graph runs this on its first call)."""
    shifts = torch.tensor([0, 2, 4, 6], dtype=torch.uint8)
    fields = (packed.unsqueeze(1) >> shifts) & 3
    fields = fields.reshape(-1)[:count]
    return (fields == 1).to(torch.float32) - (fields == 2).to(torch.float32)


class PackedTernaryWeight(nn.Module):
    """A ternary layer's weight in the exported file: 2-bit codes and per-channel scales,
    unpacked into `alpha * t` on the first call and kept for the next ones (`cached`,
    empty in the file)."""

    cached: Optional[torch.Tensor]  # noqa: UP045

    def __init__(self, codes: torch.Tensor, scales: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("packed_codes", pack_codes(codes))
        self.register_buffer("code_scales", scales.to(torch.float32).reshape(-1))
        self.shape: List[int] = list(codes.shape)  # noqa: UP006
        self.cached = None

    def forward(self) -> torch.Tensor:
        cached = self.cached
        if cached is None:
            count = 1
            for size in self.shape:
                count *= size
            codes = unpack_codes(self.packed_codes, count).reshape(self.shape)
            view = [-1] + [1] * (len(self.shape) - 1)
            cached = codes * self.code_scales.reshape(view)
            self.cached = cached
        return cached

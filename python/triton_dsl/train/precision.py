"""Mixed precision: autocast to bfloat16 or float16 on the GPU, with a gradient scaler for fp16.

bf16 keeps float32's exponent range, so it needs no loss scaling; fp16 does, and its
`GradScaler` state is part of every checkpoint so a resumed run keeps the same scale. On
the CPU autocast would mostly make training slower, so a requested mode is switched off
there with a note rather than silently ignored.
"""

from __future__ import annotations

import contextlib
import sys

import torch

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """The autocast context and the gradient scaler for one device and mode."""

    def __init__(self, mode: str, device: torch.device, *, announce: bool = True) -> None:
        if mode != "none" and device.type != "cuda":
            if announce:
                print(f"note: mixed precision `{mode}` applies on the GPU only; "
                      f"training in float32 on the {device.type}", file=sys.stderr)
            mode = "none"
        self.mode = mode
        self.device = device
        self.dtype = _DTYPES.get(mode)
        self.scaler = torch.amp.GradScaler(device.type, enabled=(mode == "fp16"))

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

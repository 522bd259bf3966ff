"""Packed ternary inference on a CUDA GPU with OpenAI Triton kernels: `load(path).run(x)`.

`load("model.tpk")` reads the same file the native CPU engine loads (`tpk.py`), moves the
ternary weights to the GPU in a coalescing-friendly 2-bit layout (`layout.py`) and returns
an `Executor` (`executor.py`) that runs the whole graph: ternary linear and conv2d on the
Triton kernels of `kernels/`, the rest on PyTorch, replayed from a CUDA graph per input
shape. See README.md in this folder. Importing this package needs neither CUDA nor Triton;
`load` imports the kernels (OpenAI Triton, `import triton`), which then need a GPU, or the
CPU interpreter (`TRITON_INTERPRET=1` set before the first `load`).
"""

from __future__ import annotations

import os

from triton_dsl.gpu.tpk import Model, Ternary, read

__all__ = ["Model", "Ternary", "available", "load", "read"]


def available() -> bool:
    """Whether a CUDA GPU and OpenAI Triton are there to run the kernels."""
    try:
        import torch
        import triton  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()


def load(path: str | os.PathLike | bytes, *, device=None, dtype=None, cuda_graphs: bool = True):
    """Reads a `.tpk` file (or its bytes) and prepares it on `device` (default "cuda").
    `dtype` is the activations' type: torch.bfloat16 (default) or torch.float32."""
    import torch

    from triton_dsl.gpu.executor import Executor

    return Executor(read(path), device=device or "cuda", dtype=dtype or torch.bfloat16,
                    cuda_graphs=cuda_graphs)

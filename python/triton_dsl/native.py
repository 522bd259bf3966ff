"""The native packed-ternary engine, from Python: `load(path) -> Engine`.

A thin wrapper over the C++ extension `triton_dsl._native` (built from `runtime/`): it
converts inputs to contiguous float32 numpy arrays, returns numpy arrays, and turns a
missing extension into a clear error. Nothing here depends on torch.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

try:
    from triton_dsl import _native
except ImportError as exc:  # the package works without the extension; this module does not
    _native = None
    _IMPORT_ERROR = exc


def _module():
    if _native is None:
        raise RuntimeError("the native runtime `triton_dsl._native` is not built "
                           f"({_IMPORT_ERROR}); install the package or build runtime/ with "
                           "TRITON_BUILD_PYTHON=ON")
    return _native


def available() -> bool:
    """Whether the compiled extension can be imported."""
    return _native is not None


class Engine:
    """A loaded `.tpk` model. `run(x)` takes and returns float32 numpy arrays."""

    def __init__(self, handle, path: str | None = None) -> None:
        self._handle = handle
        self.path = path

    def run(self, *inputs: Any) -> np.ndarray | tuple[np.ndarray, ...]:
        # The extension converts any array-like to contiguous float32 itself; converting
        # here too would double the per-call cost that dominates small models.
        return self._handle.run(*inputs)

    __call__ = run

    def profile(self, *inputs: Any) -> list[tuple[str, float]]:
        """Runs once and returns (op kind, milliseconds) for every op, in graph order."""
        arrays = [np.ascontiguousarray(np.asarray(x, dtype=np.float32)) for x in inputs]
        return self._handle.profile(*arrays)

    def info(self) -> dict[str, Any]:
        """Format version, sizes, op kinds, thread count and the selected kernels."""
        return self._handle.info()

    def __repr__(self) -> str:
        i = self.info()
        return (f"Engine({self.path!r}, ops={i['ops']}, bits={i['bits']}, "
                f"threads={i['threads']}, isa={i['isa']})")


def load(path: str | os.PathLike, *, threads: int = 0) -> Engine:
    """Loads a `.tpk` file; `threads=0` uses every hardware thread. Raises ValueError when
    the file is missing, truncated, corrupted or of another format version."""
    path = os.fspath(path)
    return Engine(_module().load(path, threads), path)


def load_bytes(data: bytes, *, threads: int = 0) -> Engine:
    """Loads a `.tpk` image from memory."""
    return Engine(_module().load_bytes(bytes(data), threads))


def detected_isa() -> str:
    """The best kernel level this CPU supports: "scalar", "avx2", "avx512" or "amx"."""
    return _module().detected_isa()


def selected_isa() -> str:
    """The level new engines use (the detected one, lowered by TRITON_RT_FORCE_ISA)."""
    return _module().selected_isa()

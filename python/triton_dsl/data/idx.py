"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic (two zero bytes, a type code, the number of dimensions),
then one big-endian uint32 per dimension, then the data in row-major order. Files may be
gzip-compressed (`.gz`) or raw. Everything about the header is validated against the data
that follows, because a truncated download otherwise turns into a reshape error deep in
NumPy; a bad file is one `UserError` line that names it.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from triton_dsl.errors import UserError

# Type code -> NumPy dtype (big-endian, as the format stores multi-byte values).
_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it ends in `.gz`; a bad gzip is a UserError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"`{path}` is corrupt or truncated: {e}") from None
    except OSError as e:
        raise UserError(f"cannot read `{path}`: {e.strerror or e}") from None


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """The array an IDX byte string holds; `path` is only for messages."""
    if len(data) < 4:
        raise UserError(f"`{path}` is not an IDX file: only {len(data)} bytes")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _DTYPES or ndim == 0:
        raise UserError(f"`{path}` is not an IDX file: bad magic 0x{data[:4].hex()}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"`{path}` is truncated: header needs {header} bytes, file has "
                        f"{len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "too long"
        raise UserError(f"`{path}` is {what}: dimensions {'x'.join(map(str, dims))} need "
                        f"{expected} data bytes, file has {actual}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: Path, *, ndim: int, dims: tuple[int | None, ...] = ()) -> np.ndarray:
    """Read and check an IDX file: `ndim` dimensions, and `dims` where not None.

    `dims` lists expected sizes from the first dimension on; None means any size (the
    record count, usually).
    """
    array = parse_idx(read_bytes(path), path)
    if array.ndim != ndim:
        raise UserError(f"`{path}` has {array.ndim} dimensions, expected {ndim}")
    for axis, want in enumerate(dims):
        if want is not None and array.shape[axis] != want:
            shape = "x".join(map(str, array.shape))
            raise UserError(f"`{path}` has shape {shape}, expected dimension {axis} to be "
                            f"{want}")
    return array


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8/int8 array as an IDX file (gzip-compressed when `path` ends in .gz).

    Used to build small datasets in the same format (tests, examples); the bytes of an
    uncompressed result are exactly what `read_idx` expects.
    """
    array = np.ascontiguousarray(array)
    code = _CODES.get(array.dtype)
    if code is None:
        raise ValueError(f"write_idx supports uint8 and int8, got {array.dtype}")
    data = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape) + array.tobytes()
    if path.suffix == ".gz":
        # mtime=0 keeps the output byte-identical across runs.
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(data)
    else:
        path.write_bytes(data)

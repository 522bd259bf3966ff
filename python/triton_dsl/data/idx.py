"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic (two zero bytes, a type code, the number of dimensions),
then one big-endian uint32 per dimension, then the data in row-major order. Files may be
gzip-compressed (`.gz`) or raw. Everything about the header is validated against the data
that follows, because a truncated download otherwise turns into a reshape error deep in
NumPy; a bad file is one `UserError` line that names it.

Reading is bounded by what the header promises: the header is read first, and then exactly
the data bytes its dimensions need plus one (to tell "too long"), never the rest of the
file. A compressed file is decompressed as a stream, so a few megabytes of gzip that would
expand to gigabytes (a "gzip bomb") cost no more memory than the dataset they claim to be;
a header that claims more than `MAX_IDX_BYTES` is refused before any data is read.
"""

from __future__ import annotations

import gzip
import math
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

# The largest IDX file read: 4 GiB, above every IDX dataset in use (EMNIST's largest file
# is 0.55 GB) and below what a header of 32-bit dimensions can claim (exabytes).
MAX_IDX_BYTES = 4 << 30
_CHUNK = 1 << 20


def _read_at_most(f, limit: int) -> bytes:
    """Up to `limit` bytes of `f`, in chunks (a gzip stream inflates one chunk at a time)."""
    parts, left = [], limit
    while left > 0:
        chunk = f.read(min(_CHUNK, left))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_bytes(path: Path, *, limit: int | None = None) -> bytes:
    """The file's content, decompressed when it ends in `.gz`; a bad gzip is a UserError.

    With `limit`, a content longer than `limit` bytes is refused as soon as byte
    `limit + 1` is seen, without decompressing or reading the rest."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read() if limit is None else _read_at_most(f, limit + 1)
        else:
            with path.open("rb") as f:
                data = f.read() if limit is None else _read_at_most(f, limit + 1)
        if limit is not None and len(data) > limit:
            raise UserError(f"`{path}` is too long: its content is more than {limit} bytes")
        return data
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"`{path}` is corrupt or truncated: {e}") from None
    except OSError as e:
        raise UserError(f"cannot read `{path}`: {e.strerror or e}") from None


def _read_idx_bytes(path: Path) -> bytes:
    """Header and data of an IDX file, reading no more than the header says it holds
    (plus one byte, so `parse_idx` reports a longer file as too long)."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            head = _read_at_most(f, 4)
            if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _DTYPES:
                return head  # parse_idx says what is wrong with it
            dims_bytes = _read_at_most(f, 4 * head[3])
            if len(dims_bytes) < 4 * head[3]:
                return head + dims_bytes
            dims = struct.unpack(f">{head[3]}I", dims_bytes)
            claimed = math.prod(dims) * _DTYPES[head[2]].itemsize
            if claimed > MAX_IDX_BYTES:
                raise UserError(f"`{path}` claims dimensions {'x'.join(map(str, dims))}, more "
                                f"than the {MAX_IDX_BYTES >> 30} GiB an IDX file may hold")
            return head + dims_bytes + _read_at_most(f, claimed + 1)
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
        has = f"file has {actual}" if actual < expected else "file has more"
        what = "truncated" if actual < expected else "too long"
        raise UserError(f"`{path}` is {what}: dimensions {'x'.join(map(str, dims))} need "
                        f"{expected} data bytes, {has}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: Path, *, ndim: int, dims: tuple[int | None, ...] = ()) -> np.ndarray:
    """Read and check an IDX file: `ndim` dimensions, and `dims` where not None.

    `dims` lists expected sizes from the first dimension on; None means any size (the
    record count, usually).
    """
    array = parse_idx(_read_idx_bytes(path), path)
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

"""Reads a `.tpk` file into Python objects, for the GPU executor.

The byte layout is the one `export/packed_format.py` writes and `runtime/format/model.cpp`
loads (`docs/packed-format.md`): a 128-byte header, value and tensor tables, variable-size
op records, io ids and a 64-byte aligned data section. `read(path_or_bytes)` parses all of
it with numpy and checks what it reads (magic, version, sizes, section bounds, op counts
against `ops.def`'s ranges, ids in range, invalid 2-bit codes and base-3 bytes), raising
`ValueError` with a one-line message, like the native loader. Ternary tensors come back as
int8 codes `[rows, cols]` plus float32 row scales whatever their storage (2-bit or base-3):
the GPU layout is chosen later (`layout.py`), not here. Nothing here needs torch or a GPU.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import numpy as np

from triton_dsl import packing
from triton_dsl.export.packed_format import (
    ABSENT,
    ACT,
    DATA_ALIGN,
    FLAG_BASE3,
    MAGIC,
    MAX_VALUE_RANK,
    OP,
    TENSOR_F32,
    TENSOR_T2,
    TENSOR_T3,
)

VERSIONS = (1, 2)
OP_NAME = {code: name for name, code in OP.items()}
ACT_NAME = {code: name for name, code in ACT.items()}

# (min_inputs, max_inputs, min_ints, max_ints, min_floats, max_floats, tensors), as in
# runtime/format/ops.def; tests/python/test_gpu_tpk.py checks this table against that file.
OP_COUNTS = {
    "linear": (1, 1, 0, 0, 0, 1, 2), "conv2d": (1, 1, 9, 9, 0, 1, 2),
    "add": (2, 2, 0, 0, 0, 0, 0), "mul": (2, 2, 0, 0, 0, 0, 0),
    "activation": (1, 1, 1, 1, 0, 0, 0), "max_pool2d": (1, 1, 6, 6, 0, 0, 0),
    "avg_pool2d": (1, 1, 7, 7, 0, 0, 0), "adaptive_avg_pool2d": (1, 1, 2, 2, 0, 0, 0),
    "reshape": (1, 1, 1, 6, 0, 0, 0), "permute": (1, 1, 1, 6, 0, 0, 0),
    "concat": (1, 64, 1, 1, 0, 0, 0), "layer_norm": (1, 1, 1, 1, 1, 1, 2),
    "softmax": (1, 1, 1, 1, 0, 0, 0), "matmul": (2, 2, 0, 0, 0, 0, 0),
    "channel_affine": (1, 1, 0, 0, 0, 0, 2), "constant": (0, 0, 0, 0, 0, 0, 1),
    "mean": (1, 1, 1, 7, 0, 0, 0), "scalar_affine": (1, 1, 0, 0, 2, 2, 0),
    "ternary_activation": (1, 1, 1, 1, 2, 2, 0), "slice": (1, 1, 4, 4, 0, 0, 0),
    "expand": (1, 1, 1, 6, 0, 0, 0), "embedding": (1, 1, 0, 0, 0, 0, 1),
    "log_softmax": (1, 1, 1, 1, 0, 0, 0), "sub": (2, 2, 0, 0, 0, 0, 0),
    "div": (2, 2, 0, 0, 0, 0, 0),
}

_HEADER = struct.Struct("<8sIIQ6I10Q")
_VALUE = struct.Struct("<II6q")
_TENSOR = struct.Struct("<II4qQQ")
_OP_HEADER = struct.Struct("<8I")


@dataclass
class Ternary:
    """A ternary weight: codes in {-1, 0, 1} `[rows, cols]` and one scale per row."""

    codes: np.ndarray   # int8 [rows, cols]
    scales: np.ndarray  # float32 [rows]

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.codes.shape)

    def dense(self) -> np.ndarray:
        """The float32 weight `scale[r] * code[r, c]` (for references and fallbacks)."""
        return self.codes.astype(np.float32) * self.scales[:, None]


@dataclass
class OpRecord:
    kind: str
    act: str
    inputs: list[int]
    output: int
    ints: list[int] = field(default_factory=list)
    floats: list[float] = field(default_factory=list)
    tensors: list[int] = field(default_factory=list)


@dataclass
class Model:
    """Everything a `.tpk` file holds. A tensor is a float32 ndarray or a `Ternary`."""

    version: int
    base3: bool
    values: list[tuple[tuple[int, ...], bool]]
    tensors: list[np.ndarray | Ternary]
    ops: list[OpRecord]
    inputs: list[int]
    outputs: list[int]

    def tensor(self, index: int) -> np.ndarray | Ternary | None:
        return None if index == ABSENT else self.tensors[index]


def _fail(message: str):
    raise ValueError(f"invalid .tpk file: {message}")


def _section(data: bytes, ref: tuple[int, int], name: str, size: int) -> memoryview:
    offset, length = ref
    if length != size:
        _fail(f"{name} section has {length} bytes, expected {size}")
    if offset < _HEADER.size or offset + length > len(data):
        _fail(f"{name} section [{offset}, {offset + length}) lies outside the file")
    return memoryview(data)[offset:offset + length]


def _read_tensor(kind: int, dims: tuple[int, ...], payload: bytes, index: int):
    if kind == TENSOR_F32:
        expected = 4 * int(np.prod(dims))
        if len(payload) != expected:
            _fail(f"tensor {index} has {len(payload)} bytes, expected {expected}")
        return np.frombuffer(payload, dtype="<f4").reshape(dims).astype(np.float32)
    if kind not in (TENSOR_T2, TENSOR_T3) or len(dims) != 2:
        _fail(f"tensor {index} has kind {kind} and rank {len(dims)}")
    rows, cols = dims
    row_bytes = packing.t2_row_bytes(cols) if kind == TENSOR_T2 else packing.t3_row_bytes(cols)
    if len(payload) != rows * row_bytes + 4 * rows:
        _fail(f"ternary tensor {index} has {len(payload)} bytes, expected "
              f"{rows * row_bytes + 4 * rows}")
    packed = np.frombuffer(payload, dtype=np.uint8, count=rows * row_bytes).reshape(rows,
                                                                                   row_bytes)
    scales = np.frombuffer(payload, dtype="<f4", offset=rows * row_bytes).astype(np.float32)
    try:
        codes = (packing.decode_t2(packed, cols) if kind == TENSOR_T2
                 else packing.decode_t3(packed, cols))
    except ValueError as exc:
        _fail(f"tensor {index}: {exc}")
    return Ternary(np.ascontiguousarray(codes), scales)


def read(source: str | os.PathLike | bytes) -> Model:
    """Parses a `.tpk` file (a path or its bytes); raises ValueError on a malformed file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        with open(os.fspath(source), "rb") as f:
            data = f.read()
    if len(data) < _HEADER.size:
        _fail(f"{len(data)} bytes is shorter than the 128-byte header")
    (magic, version, flags, file_size, n_values, n_tensors, n_ops, n_inputs, n_outputs,
     _reserved, *refs) = _HEADER.unpack_from(data)
    if magic != MAGIC:
        _fail("bad magic (not a .tpk file)")
    if version not in VERSIONS:
        _fail(f"format version {version}, this reader knows {VERSIONS}")
    if file_size != len(data):
        _fail(f"header says {file_size} bytes, the file has {len(data)}")
    values_ref, tensors_ref, ops_ref, io_ref, data_ref = (
        tuple(refs[i:i + 2]) for i in range(0, 10, 2))
    if data_ref[0] % DATA_ALIGN:
        _fail("data section is not 64-byte aligned")

    values = []
    section = _section(data, values_ref, "values", n_values * _VALUE.size)
    for i in range(n_values):
        rank, vflags, *dims = _VALUE.unpack_from(section, i * _VALUE.size)
        if rank > MAX_VALUE_RANK:
            _fail(f"value {i} has rank {rank}")
        values.append((tuple(dims[:rank]), bool(vflags & 1)))

    blob = _section(data, data_ref, "data", data_ref[1])
    tensors = []
    section = _section(data, tensors_ref, "tensors", n_tensors * _TENSOR.size)
    for i in range(n_tensors):
        kind, rank, *rest = _TENSOR.unpack_from(section, i * _TENSOR.size)
        dims, offset, size = tuple(rest[:rank]), rest[4], rest[5]
        if not 1 <= rank <= 4 or any(d < 1 for d in dims):
            _fail(f"tensor {i} has rank {rank} and dims {dims}")
        if offset % DATA_ALIGN or offset + size > len(blob):
            _fail(f"tensor {i} lies outside the data section or is misaligned")
        tensors.append(_read_tensor(kind, dims, bytes(blob[offset:offset + size]), i))

    ops = []
    section = _section(data, ops_ref, "ops", ops_ref[1])
    cursor, produced = 0, set()
    for i in range(n_ops):
        if cursor + _OP_HEADER.size > len(section):
            _fail(f"op {i} runs past the ops section")
        code, act, *counts, size = _OP_HEADER.unpack_from(section, cursor)
        name = OP_NAME.get(code)
        if name is None:
            _fail(f"op {i} has unknown kind {code}")
        if act not in ACT_NAME:
            _fail(f"op {i} has unknown activation {act}")
        n_in, n_out, n_int, n_float, n_tensor = counts
        lo_in, hi_in, lo_int, hi_int, lo_f, hi_f, n_t = OP_COUNTS[name]
        if not (lo_in <= n_in <= hi_in and n_out == 1 and lo_int <= n_int <= hi_int
                and lo_f <= n_float <= hi_f and n_tensor == n_t):
            _fail(f"op {i} (`{name}`) has counts {counts} outside the op's ranges")
        if size != 32 + 4 * sum(counts) or cursor + size > len(section):
            _fail(f"op {i} has record size {size}")
        at = cursor + _OP_HEADER.size
        words = struct.unpack_from(f"<{n_in + 1}I{n_int}i{n_float}f{n_tensor}I", section, at)
        inputs = list(words[:n_in])
        output = words[n_in]
        ints = list(words[n_in + 1:n_in + 1 + n_int])
        floats = list(words[n_in + 1 + n_int:n_in + 1 + n_int + n_float])
        tensor_ids = list(words[n_in + 1 + n_int + n_float:])
        if any(v >= n_values for v in inputs + [output]):
            _fail(f"op {i} uses a value id out of range")
        if any(t != ABSENT and t >= n_tensors for t in tensor_ids):
            _fail(f"op {i} uses a tensor id out of range")
        if output in produced:
            _fail(f"value {output} is produced twice")
        produced.add(output)
        ops.append(OpRecord(name, ACT_NAME[act], inputs, output, ints, floats, tensor_ids))
        cursor += size

    section = _section(data, io_ref, "io", 4 * (n_inputs + n_outputs))
    io = list(struct.unpack_from(f"<{n_inputs + n_outputs}I", section))
    if any(v >= n_values for v in io):
        _fail("an input or output id is out of range")
    available = set(io[:n_inputs])
    for i, op in enumerate(ops):
        if any(v not in available for v in op.inputs):
            _fail(f"op {i} (`{op.kind}`) reads a value before it is produced")
        available.add(op.output)
    return Model(version, bool(flags & FLAG_BASE3), values, tensors, ops, io[:n_inputs],
                 io[n_inputs:])

"""Serializes an op graph and its tensors into the bytes of a `.tpk` file.

The exporter (`packed.py`) decides *what* goes into the file; this module only knows *how*
it is laid out (`docs/packed-format.md`): the 128-byte header, value/tensor tables, op
records, io ids and the 64-byte aligned data section. Keeping the byte layout in one place
mirrors `runtime/format/layout.h` on the C++ side.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from triton_dsl import packing

MAGIC = b"TRTNTPK\0"
# Version 2 adds the activation scale of linear/conv2d ops (8-bit activations). A file is
# written as version 2 only when it uses one, so other files stay byte-identical to version 1.
FORMAT_VERSION = 2
FORMAT_VERSION_BASE = 1
FLAG_BASE3 = 1
ABSENT = 0xFFFFFFFF
DATA_ALIGN = 64
MAX_VALUE_RANK = 6

class ExportError(ValueError):
    """The model uses something the packed format cannot express."""


TENSOR_F32 = 0
TENSOR_T2 = 1
TENSOR_T3 = 2

# Op kinds and activation codes, as in docs/packed-format.md. The codes are written out, not
# derived from a list position, because the runtime's `runtime/format/ops.def` and
# `runtime/format/model.h` number them independently; `tests/python/test_packed_ops_def.py`
# fails when a name or code here differs from the runtime's, or when the exporter writes an
# op whose input/int/float/tensor counts fall outside the runtime's ranges.
OP = {"linear": 1, "conv2d": 2, "add": 3, "mul": 4, "activation": 5, "max_pool2d": 6,
      "avg_pool2d": 7, "adaptive_avg_pool2d": 8, "reshape": 9, "permute": 10, "concat": 11,
      "layer_norm": 12, "softmax": 13, "matmul": 14, "channel_affine": 15, "constant": 16,
      "mean": 17, "scalar_affine": 18, "ternary_activation": 19, "slice": 20, "expand": 21,
      "embedding": 22, "log_softmax": 23, "sub": 24, "div": 25}
ACT = {"none": 0, "relu": 1, "relu6": 2, "gelu": 3, "gelu_tanh": 4, "silu": 5, "sigmoid": 6,
       "tanh": 7}


@dataclass
class Tensor:
    kind: int
    dims: tuple[int, ...]
    payload: bytes


@dataclass
class Op:
    kind: str
    inputs: list[int]
    output: int
    ints: list[int] = field(default_factory=list)
    floats: list[float] = field(default_factory=list)
    tensors: list[int] = field(default_factory=list)
    act: str = "none"


@dataclass
class Graph:
    """What a `.tpk` file holds, before serialization."""

    values: list[tuple[tuple[int, ...], bool]] = field(default_factory=list)
    tensors: list[Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    base3: bool = False

    def add_value(self, shape: tuple[int, ...], batch_leading: bool = True) -> int:
        if len(shape) > MAX_VALUE_RANK:
            raise ValueError(f"values of rank {len(shape)} are not supported (at most 6)")
        self.values.append((tuple(int(d) for d in shape), batch_leading))
        return len(self.values) - 1

    def add_float(self, array) -> int:
        array = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
        if array.ndim == 0:
            array = array.reshape(1)
        if not 1 <= array.ndim <= 4:
            raise ValueError(f"float tensors of rank {array.ndim} are not supported")
        self.tensors.append(Tensor(TENSOR_F32, tuple(array.shape), array.tobytes()))
        return len(self.tensors) - 1

    def add_ternary(self, codes, scales, bits: str) -> int:
        codes = np.asarray(codes).reshape(np.asarray(codes).shape[0], -1)
        kind = TENSOR_T2 if bits == "2" else TENSOR_T3
        if kind == TENSOR_T3:
            self.base3 = True
        payload = packing.ternary_payload(codes, scales, bits)
        self.tensors.append(Tensor(kind, tuple(codes.shape), payload))
        return len(self.tensors) - 1


def _align(n: int, a: int = DATA_ALIGN) -> int:
    return -(-n // a) * a


def serialize(graph: Graph) -> bytes:
    values = b"".join(
        struct.pack("<II6q", len(shape), 1 if batch else 0,
                    *(list(shape) + [0] * (MAX_VALUE_RANK - len(shape))))
        for shape, batch in graph.values)

    tensor_offsets, cursor = [], 0
    for t in graph.tensors:
        tensor_offsets.append(cursor)
        cursor = _align(cursor + len(t.payload))
    tensors = b"".join(
        struct.pack("<II4qQQ", t.kind, len(t.dims), *(list(t.dims) + [0] * (4 - len(t.dims))),
                    off, len(t.payload))
        for t, off in zip(graph.tensors, tensor_offsets))

    op_bytes = []
    for op in graph.ops:
        counts = (len(op.inputs), 1, len(op.ints), len(op.floats), len(op.tensors))
        size = 32 + 4 * sum(counts)
        op_bytes.append(
            struct.pack("<8I", OP[op.kind], ACT[op.act], *counts, size)
            + struct.pack(f"<{len(op.inputs)}I", *op.inputs)
            + struct.pack("<I", op.output)
            + struct.pack(f"<{len(op.ints)}i", *op.ints)
            + struct.pack(f"<{len(op.floats)}f", *op.floats)
            + struct.pack(f"<{len(op.tensors)}I", *op.tensors))
    ops = b"".join(op_bytes)
    io = struct.pack(f"<{len(graph.inputs) + len(graph.outputs)}I",
                     *graph.inputs, *graph.outputs)

    header_size = 128
    values_off = header_size
    tensors_off = values_off + len(values)
    ops_off = tensors_off + len(tensors)
    io_off = ops_off + len(ops)
    data_off = _align(io_off + len(io))
    data = bytearray(cursor)
    for t, off in zip(graph.tensors, tensor_offsets):
        data[off:off + len(t.payload)] = t.payload
    file_size = data_off + len(data)

    version = FORMAT_VERSION if any(op.kind in ("linear", "conv2d") and op.floats
                                    for op in graph.ops) else FORMAT_VERSION_BASE
    header = struct.pack(
        "<8sIIQ6I10Q", MAGIC, version, FLAG_BASE3 if graph.base3 else 0, file_size,
        len(graph.values), len(graph.tensors), len(graph.ops), len(graph.inputs),
        len(graph.outputs), 0,
        values_off, len(values), tensors_off, len(tensors), ops_off, len(ops),
        io_off, len(io), data_off, len(data))
    assert len(header) == header_size
    body = header + values + tensors + ops + io
    return body + b"\0" * (data_off - len(body)) + bytes(data)

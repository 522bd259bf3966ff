"""The GPU engine's `.tpk` reader and its 2-bit GPU layout (no GPU and no Triton needed).

The reader (`triton_dsl.gpu.tpk`) must parse exactly what the exporter writes: files from
`save_packed` on small models (2-bit and base-3) come back with the exporter's graph, op
for op, and ternary codes and scales equal to the layers' own. Its op table must match the
runtime's `ops.def`, and malformed files are rejected with a message. The layout tests pin
the K-major word packing (`triton_dsl.gpu.layout`) bit for bit.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from triton_dsl import layers as L
from triton_dsl.export.packed import build_graph, save_packed
from triton_dsl.export.packed_format import OP, TENSOR_F32, serialize
from triton_dsl.gpu import layout, tpk


class _ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = L.TernaryConv2d(3, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.fc = L.TernaryLinear(6 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = nn.functional.max_pool2d(x, 2)
        return torch.softmax(self.fc(x.flatten(1)), dim=-1)


@pytest.mark.parametrize("bits", ["2", "1.6"])
def test_reads_what_the_exporter_writes(tmp_path, bits):
    model = _ConvNet().eval()
    x = torch.randn(2, 3, 8, 8)
    path = tmp_path / "m.tpk"
    save_packed(model, path, example_input=x, bits=bits)
    graph, _ = build_graph(model, x, bits)
    read = tpk.read(path)
    assert read.base3 == (bits == "1.6")
    assert [op.kind for op in read.ops] == [op.kind for op in graph.ops]
    for got, want in zip(read.ops, graph.ops):
        assert (got.inputs, got.output, got.ints, got.tensors, got.act) == (
            want.inputs, want.output, want.ints, want.tensors, want.act)
        assert got.floats == pytest.approx(want.floats)
    assert [v[0] for v in read.values] == [v[0] for v in graph.values]
    assert (read.inputs, read.outputs) == (graph.inputs, graph.outputs)
    codes, _ = model.fc.ternary_weight()
    fc = read.tensors[read.ops[-2].tensors[0]]
    assert isinstance(fc, tpk.Ternary)
    np.testing.assert_array_equal(fc.codes, codes.to(torch.int8).numpy())
    for t, want in zip(read.tensors, graph.tensors):
        if want.kind == TENSOR_F32:
            np.testing.assert_array_equal(t.reshape(-1).view(np.uint8),
                                          np.frombuffer(want.payload, dtype=np.uint8))
    # The bytes are the same whichever way they are handed over.
    assert [op.kind for op in tpk.read(path.read_bytes()).ops] == [op.kind for op in read.ops]


def test_op_table_matches_the_runtime(repo_root):
    rows = re.findall(r"^OP\((\w+), (\d+), ([\d, ]+)\)", (repo_root / "runtime" / "format" /
                                                           "ops.def").read_text(), re.MULTILINE)
    assert len(rows) == len(tpk.OP_COUNTS) == len(OP)
    for name, code, counts in rows:
        assert tpk.OP_NAME[int(code)] in tpk.OP_COUNTS
        assert tpk.OP_COUNTS[tpk.OP_NAME[int(code)]] == tuple(
            int(c) for c in counts.split(",")), name


def _small_file() -> bytes:
    model = nn.Sequential(L.TernaryLinear(20, 7)).eval()
    graph, _ = build_graph(model, torch.randn(1, 20))
    return serialize(graph)


@pytest.mark.parametrize("corrupt, message", [
    (lambda b: b"XXXXXXXX" + b[8:], "bad magic"),
    (lambda b: b[:8] + (9).to_bytes(4, "little") + b[12:], "format version 9"),
    (lambda b: b[:-1], "header says"),
    (lambda b: b[:100], "shorter than the 128-byte header"),
])
def test_rejects_malformed_files(corrupt, message):
    with pytest.raises(ValueError, match=message):
        tpk.read(corrupt(_small_file()))


def test_rejects_the_invalid_2bit_code():
    data = bytearray(_small_file())
    header = tpk.read(bytes(data))
    assert isinstance(header.tensors[0], tpk.Ternary)
    data_offset = int.from_bytes(data[112:120], "little")
    data[data_offset] |= 0b11  # weight 0 of row 0 becomes code 11
    with pytest.raises(ValueError, match="invalid 2-bit ternary code"):
        tpk.read(bytes(data))


def test_kmajor_words_bit_layout():
    codes = np.zeros((2, 17), dtype=np.int8)
    codes[0, 0], codes[0, 15], codes[1, 1], codes[1, 16] = 1, -1, -1, 1
    words = layout.pack_kmajor(codes).view(np.uint32)
    assert words.shape == (2, 2)  # [ceil(17 / 16), N]

    def word(**codes_at):  # zero weights (offset code 01) except where given
        w = layout.ZERO_WORD
        for pos, code in codes_at.items():
            i = int(pos[1:])
            w = (w & ~(3 << 2 * i)) | (code << 2 * i)
        return w & 0xFFFFFFFF

    # offset codes: -1 -> 00, 0 -> 01, +1 -> 10; the padding past K = 17 is zero weights
    assert words[0, 0] == word(p0=0b10, p15=0b00)
    assert words[0, 1] == word(p1=0b00)
    assert words[1, 0] == layout.ZERO_WORD and words[1, 1] == word(p0=0b10)


@pytest.mark.parametrize("shape", [(1, 1), (5, 16), (7, 33), (64, 100)])
def test_kmajor_round_trip(shape):
    codes = np.random.default_rng(1).integers(-1, 2, size=shape).astype(np.int8)
    np.testing.assert_array_equal(layout.unpack_kmajor(layout.pack_kmajor(codes), shape[1]),
                                  codes)


def test_conv_columns_become_tap_major():
    o, c, kh, kw = 2, 3, 2, 2
    codes = np.arange(o * c * kh * kw).reshape(o, c * kh * kw)
    hwc = layout.conv_columns_to_hwc(codes, c, kh, kw)
    # column (kh=1, kw=0, c=2) comes from PyTorch's (c=2, kh=1, kw=0)
    assert hwc[1, (1 * kw + 0) * c + 2] == codes[1, 2 * kh * kw + 1 * kw + 0]

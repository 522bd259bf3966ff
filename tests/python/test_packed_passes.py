"""The packed exporter's steps on their own: the layer registry, batch-norm folding and
activation fusion (`export/packed_layers.py`, `export/packed_passes.py`), and the
`fuse_bn` switch that the `optimization` section sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from triton_dsl import layers as L
from triton_dsl.export import packed_layers, packed_passes
from triton_dsl.export.packed import build_graph, load_packed, save_packed
from triton_dsl.export.packed_format import ABSENT, ACT, ExportError, Graph, Op


def _floats(graph: Graph, tensor: int) -> np.ndarray:
    return np.frombuffer(graph.tensors[tensor].payload, dtype="<f4")


def _linear_then(kind: str, *, bias: bool, extra_reader: bool = False) -> Graph:
    """x -> linear(2x3 weight) -> KIND -> output (and the linear's value as an output too
    when `extra_reader`)."""
    g = Graph()
    x = g.add_value((1, 3))
    g.inputs.append(x)
    w = g.add_float(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = g.add_float(np.array([1.0, -1.0])) if bias else ABSENT
    y = g.add_value((1, 2))
    g.ops.append(Op("linear", [x], y, tensors=[w, b]))
    z = g.add_value((1, 2))
    if kind == "channel_affine":
        inv = g.add_float(np.array([2.0, 0.5]))
        offset = g.add_float(np.array([0.25, 3.0]))
        g.ops.append(Op("channel_affine", [y], z, tensors=[inv, offset]))
    else:
        g.ops.append(Op("activation", [y], z, ints=[ACT["relu"]]))
    g.outputs.append(z)
    if extra_reader:
        g.outputs.append(y)
    return g


@pytest.mark.parametrize("bias", [True, False])
def test_fold_batch_norm_scales_rows_and_shifts_the_bias(bias):
    g = packed_passes.fold_batch_norm(_linear_then("channel_affine", bias=bias))
    assert [op.kind for op in g.ops] == ["linear"]
    (op,) = g.ops
    np.testing.assert_allclose(_floats(g, op.tensors[0]).reshape(2, 3),
                               np.arange(6).reshape(2, 3) * np.array([[2.0], [0.5]]))
    old_bias = np.array([1.0, -1.0]) if bias else np.zeros(2)
    np.testing.assert_allclose(_floats(g, op.tensors[1]), old_bias * [2.0, 0.5] + [0.25, 3.0])
    # The affine's value and tensors are gone; what is left is numbered densely.
    assert len(g.values) == 2 and g.outputs == [op.output] == [1]
    assert len(g.tensors) == 2


def test_fold_batch_norm_leaves_a_value_with_other_readers_alone():
    g = packed_passes.fold_batch_norm(_linear_then("channel_affine", bias=True,
                                                   extra_reader=True))
    assert [op.kind for op in g.ops] == ["linear", "channel_affine"]
    np.testing.assert_array_equal(_floats(g, g.ops[0].tensors[0]), np.arange(6))


def test_fuse_activations_sets_the_producers_activation():
    g = packed_passes.fuse_activations(_linear_then("activation", bias=True))
    assert [(op.kind, op.act) for op in g.ops] == [("linear", "relu")]
    assert len(g.values) == 2 and g.outputs == [1]
    kept = packed_passes.fuse_activations(_linear_then("activation", bias=True,
                                                       extra_reader=True))
    assert [(op.kind, op.act) for op in kept.ops] == [("linear", "none"), ("activation", "none")]


def test_an_activation_after_a_reshape_is_not_fused():
    g = Graph()
    x = g.add_value((1, 4))
    y = g.add_value((1, 2, 2))
    z = g.add_value((1, 2, 2))
    g.inputs, g.outputs = [x], [z]
    g.ops = [Op("reshape", [x], y, ints=[0, 2, 2]), Op("activation", [y], z, ints=[1])]
    assert [op.kind for op in packed_passes.fuse_activations(g).ops] == ["reshape",
                                                                         "activation"]


def test_the_registry_goes_by_class_and_its_bases():
    assert packed_layers.lowering_for(L.TernaryConv2d(in_channels=1, out_channels=1,
                                                      kernel_size=1), "c") \
        is packed_layers.conv2d
    assert packed_layers.lowering_for(L.TernaryConv1d(in_channels=1, out_channels=1,
                                                      kernel_size=1), "c") \
        is packed_layers.conv1d
    assert packed_layers.lowering_for(L.ReLU(), "r") is packed_layers.activation


def test_an_unknown_layer_is_an_error_naming_its_class_and_path():
    model = nn.Sequential(nn.Conv3d(2, 2, 3))
    with pytest.raises(ExportError, match=r"layer `0` of type torch\.nn\.modules\.conv\.Conv3d"
                                          r" cannot be exported"):
        build_graph(model, torch.randn(1, 2, 4, 4, 4))


def test_a_ternary_looking_3d_layer_is_not_taken_for_a_2d_convolution():
    class TernaryConv3d(nn.Conv3d):
        """Has `ternary_weight` and `kernel_size` like TernaryConv2d, but is 3-d."""

        def ternary_weight(self):
            return torch.sign(self.weight).to(torch.int8), torch.ones(self.out_channels)

    model = nn.Sequential(nn.Identity(), TernaryConv3d(2, 2, 3))
    with pytest.raises(ExportError, match=r"layer `1` of type .*TernaryConv3d"):
        build_graph(model, torch.randn(1, 2, 4, 4, 4))


def test_a_1d_convolution_is_a_conv2d_of_height_1_between_reshapes():
    torch.manual_seed(0)
    model = nn.Sequential(
        L.TernaryConv1d(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1,
                        dilation=2, bias=False),
        L.BatchNorm1d(num_features=4), L.ReLU()).eval()
    with torch.no_grad():
        model[1].running_var.uniform_(0.5, 2.0)
    graph, ternary = build_graph(model, torch.randn(2, 3, 11))
    assert ternary == 4 * 3 * 3
    assert [(op.kind, op.act) for op in graph.ops] == [
        ("reshape", "none"), ("conv2d", "relu"), ("reshape", "none")]
    first, conv, last = graph.ops
    assert first.ints == [0, 0, 1, -1] and last.ints == [0, 0, -1]
    assert conv.ints == [1, 3, 1, 2, 0, 1, 1, 2, 1]  # kh kw sh sw ph pw dh dw groups
    assert graph.values[conv.inputs[0]][0] == (2, 3, 1, 11)
    assert graph.values[last.output][0] == (2, 4, 5) and graph.outputs == [last.output]
    assert conv.tensors[1] != ABSENT  # the folded batch norm's shift became a bias
    unfused, _ = build_graph(model, torch.randn(2, 3, 11), fuse_bn=False)
    assert [(op.kind, op.act) for op in unfused.ops] == [
        ("reshape", "none"), ("conv2d", "none"), ("reshape", "none"),
        ("channel_affine", "relu")]


def test_batch_norm_is_not_folded_through_a_reshape_that_moves_channels():
    g = Graph()
    x = g.add_value((1, 2, 1, 3))
    g.inputs.append(x)
    w = g.add_float(np.ones((2, 2, 1, 1), np.float32))
    y = g.add_value((1, 2, 1, 3))
    g.ops.append(Op("conv2d", [x], y, ints=[1, 1, 1, 1, 0, 0, 1, 1, 1], tensors=[w, ABSENT]))
    flat = g.add_value((1, 6))
    g.ops.append(Op("reshape", [y], flat, ints=[0, -1]))
    z = g.add_value((1, 6))
    g.ops.append(Op("channel_affine", [flat], z, tensors=[g.add_float(np.full(6, 2.0)),
                                                           g.add_float(np.zeros(6))]))
    g.outputs.append(z)
    assert [op.kind for op in packed_passes.fold_batch_norm(g).ops] == [
        "conv2d", "reshape", "channel_affine"]


@pytest.mark.parametrize("tokens", [5, 6])
def test_batch_norm_over_tokens_is_not_folded_into_a_linear_layer(tmp_path, tokens):
    """On [N, T, F] a BatchNorm1d normalizes dimension 1 (T), which the linear layer's
    per-row (F) scales cannot hold: it stays a channel_affine, and the engine agrees. (Folded,
    T != F failed to export and T == F exported wrong numbers.)"""
    torch.manual_seed(0)
    model = nn.Sequential(L.TernaryLinear(in_features=6, out_features=6),
                          L.BatchNorm1d(num_features=tokens))
    with torch.no_grad():
        model[1].running_mean.uniform_(-1.0, 1.0)
        model[1].running_var.uniform_(0.5, 2.0)
    model.eval()
    example = torch.randn(2, tokens, 6)
    graph, _ = build_graph(model, example)
    assert [op.kind for op in graph.ops] == ["linear", "channel_affine"]
    pytest.importorskip("triton_dsl._native")
    save_packed(model, tmp_path / "t.tpk", example_input=example)
    with torch.no_grad():
        want = model(example).numpy()
    got = load_packed(tmp_path / "t.tpk").run(example.numpy())
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4


def test_fuse_bn_false_keeps_batch_norm_as_its_own_op(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        L.TernaryConv2d(in_channels=3, out_channels=4, kernel_size=3, padding=1, bias=False),
        L.BatchNorm2d(num_features=4), L.ReLU(), L.Flatten(),
        L.TernaryLinear(in_features=4 * 6 * 6, out_features=3))
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    model.eval()
    example = torch.randn(2, 3, 6, 6)
    fused, _ = build_graph(model, example)
    unfused, _ = build_graph(model, example, fuse_bn=False)
    assert [op.kind for op in fused.ops] == ["conv2d", "reshape", "linear"]
    assert [(op.kind, op.act) for op in unfused.ops] == [
        ("conv2d", "none"), ("channel_affine", "relu"), ("reshape", "none"), ("linear", "none")]
    pytest.importorskip("triton_dsl._native")
    save_packed(model, tmp_path / "u.tpk", example_input=example, fuse_bn=False)
    with torch.no_grad():
        want = model(example).numpy()
    got = load_packed(tmp_path / "u.tpk").run(example.numpy())
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4

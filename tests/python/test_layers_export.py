"""Tests that the built-in layers survive the three ways models leave PyTorch: `torch.fx`
(the packed exporter), `torch.jit.trace` (`--export-mobile`) and `torch.onnx.export`
(the TorchScript-based path). Each traced form must compute what the module computes.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from test_layers import CASES
from torch import fx, nn

from triton_dsl import functional as F
from triton_dsl import layers as L


class SmallNet(nn.Module):
    """One of each kind of layer a seed model uses, in a shape-agnostic forward."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = L.TernaryConv2d(in_channels=3, out_channels=8, kernel_size=3, padding=1)
        self.norm = L.BatchNorm2d(num_features=8)
        self.act = L.TernaryActivation(method="ternary")
        self.depthwise = L.TernaryConv2d(in_channels=8, out_channels=8, kernel_size=3,
                                         groups=8, scaling="per_layer", bias=False)
        self.pool = L.AdaptiveAvgPool2d(output_size=2)
        self.embed = L.TernaryLinear(in_features=8, out_features=16)
        self.attention = L.MultiHeadAttention(embed_dim=16, num_heads=4)
        self.head = L.Sequential(L.LayerNorm(normalized_shape=16), L.GELU(),
                                 L.Linear(in_features=16, out_features=5))

    def forward(self, x):
        x = self.depthwise(self.act(self.norm(self.stem(x))))
        tokens = F.transpose(F.flatten(self.pool(x), start_dim=2), 1, 2)  # [B, 4, 8]
        tokens = self.attention(F.relu6(self.embed(tokens)))
        return self.head(F.mean(tokens, dim=1))


def _model() -> SmallNet:
    model = SmallNet()
    model.train()(torch.randn(4, 3, 8, 8))  # non-trivial batch-norm statistics
    return model.eval()


def test_layer_tracer_keeps_builtin_layers_whole():
    model = _model()
    graph_module = L.symbolic_trace(model)
    called = [n.target for n in graph_module.graph.nodes if n.op == "call_module"]
    assert called == ["stem", "norm", "act", "depthwise", "pool", "embed", "attention",
                      "head.0", "head.1", "head.2"]
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(graph_module(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["TernaryLinear", "TernaryConv2d", "TernaryConv1d",
                                  "TernaryActivation", "MultiHeadAttention"])
@pytest.mark.parametrize("train", [False, True])
def test_layers_trace_through_with_plain_fx(name, train):
    """fx can also open the ternary layers up: the quantization becomes graph nodes."""
    kwargs, make_input = CASES[name]
    layer = L.BUILTIN_LAYERS[name](**kwargs).train(train)
    graph_module = fx.symbolic_trace(layer)
    x = make_input().requires_grad_()
    torch.testing.assert_close(graph_module(x), layer(x))
    if train:  # the straight-through estimators are part of the traced graph
        graph_module(x).sum().backward()
        assert x.grad is not None
        assert all(p.grad is not None for p in graph_module.parameters())


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_layer_jit_traces(name):
    kwargs, make_input = CASES[name]
    layer = L.BUILTIN_LAYERS[name](**kwargs).eval()
    example = make_input()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace's deprecation notice
        traced = torch.jit.trace(layer, (example,))
    with torch.no_grad():
        torch.testing.assert_close(traced(example), layer(example))


def test_model_jit_traces_for_other_batch_sizes():
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (torch.randn(2, 3, 8, 8),))
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_model_exports_to_onnx_and_matches_onnxruntime():
    onnxruntime = pytest.importorskip("onnxruntime")
    model = _model()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated
        torch.onnx.export(model, (torch.randn(2, 3, 8, 8),), buffer, dynamo=False,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    session = onnxruntime.InferenceSession(buffer.getvalue(),
                                           providers=["CPUExecutionProvider"])
    x = torch.randn(5, 3, 8, 8)
    (y,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(y, model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_eval_traces_hold_quantized_weights_as_constants():
    layer = L.TernaryLinear(in_features=8, out_features=4).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(layer, (torch.randn(2, 8),))
        buffer = io.BytesIO()
        torch.onnx.export(layer, (torch.randn(2, 8),), buffer, dynamo=False)
    assert "aten::sign" not in str(traced.graph)
    onnx = pytest.importorskip("onnx")
    graph = onnx.load_from_string(buffer.getvalue()).graph
    assert sorted(node.op_type for node in graph.node) == ["Constant", "Gemm"]
    (constant,) = [node for node in graph.node if node.op_type == "Constant"]
    weight = onnx.numpy_helper.to_array(constant.attribute[0].t)
    np.testing.assert_array_equal(weight, layer.quantized_weight().numpy())
    # A training-mode trace keeps the quantization (and its gradient) in the graph.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(layer.train(), (torch.randn(2, 8),), check_trace=False)
    assert "aten::sign" in str(traced.graph)

"""Trained ternary quantization (`quantization: "ttq"`, or `weights: "ttq"` in a
quantization section): a layer learns one positive and one negative scale.

The weight it computes with takes exactly the values {positive, 0, -negative}; the
gradient reaches both scales and the latent weight (TTQ's gradients, normalized: see
`triton_dsl.quant.ttq_straight_through`); the packed
export stores the layer's float weight (its two scales are not one per channel), and the ONNX
and TFLite backends compute the same weight from the latent weight and the scales.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.runtimes import (
    assert_exports_match,
    load_program,
    relative_error,
)
from fixtures.training import train_steps

from triton_dsl import layers as L
from triton_dsl import native, quant
from triton_dsl.compiler import compile_file
from triton_dsl.export.packed import save_packed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples/quantization/ttq_resnet.triton"


def test_ttq_weight_values_and_gradients():
    torch.manual_seed(0)
    layer = L.TernaryLinear(in_features=16, out_features=8, quantization="ttq")
    start = float(layer.ttq_positive)
    assert start > 0 and float(layer.ttq_negative) == start
    with torch.no_grad():
        layer.ttq_positive.fill_(0.3)
        layer.ttq_negative.fill_(0.2)
    w_q = layer.quantized_weight()
    torch.testing.assert_close(torch.unique(w_q), torch.tensor([-0.2, 0.0, 0.3]))
    pos, neg = quant.ttq_masks(layer.weight, layer.threshold)
    assert 0 < float(pos.sum()) and 0 < float(neg.sum())
    x = torch.randn(4, 16)
    layer.train()
    out = layer(x)
    out.sum().backward()
    assert layer.ttq_positive.grad is not None and layer.ttq_negative.grad is not None
    g = torch.ones(4, 8).t() @ x  # d(sum(x W^T))/dW
    # each scale's gradient is the mean of the weight gradient over its mask (TTQ's sum
    # divided by the count: see quant.ttq_straight_through)
    torch.testing.assert_close(layer.ttq_positive.grad, (g * pos).sum() / pos.sum())
    torch.testing.assert_close(layer.ttq_negative.grad, -(g * neg).sum() / neg.sum())
    # the latent weight's gradient is the weight gradient scaled by positive / m, 1 and
    # negative / m, m the mean of the two scales
    m = 0.25
    scale = (0.3 / m) * pos + (0.2 / m) * neg + (1 - pos - neg)
    torch.testing.assert_close(layer.weight.grad, g * scale)
    with pytest.raises(ValueError, match="two scales"):
        layer.ternary_weight()


def test_ttq_model_trains_and_exports(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    module = load_program(compile_file(EXAMPLE, tmp_path / "ttq_resnet.py"))
    torch.manual_seed(0)
    model = module.Model()
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = float(model.stem.ttq_positive)
    train_steps(model, x, y, optimizer, 3)
    assert float(model.stem.ttq_positive) != before  # the scales are trained
    model.eval()
    with torch.no_grad():
        want = model(x).numpy()
    target = tmp_path / "ttq.tpk"
    report = save_packed(model, target, example_input=x[:1])
    assert report.ternary_weights == model.classifier.weight.numel()  # TTQ layers travel as float
    assert relative_error(np.asarray(native.load(target).run(x.numpy())), want) <= 1e-4
    assert_exports_match(model, EXAMPLE, x, want, tmp_path, tflite_rows=2)


def test_ttq_scales_train_under_torch_compile():
    """`torch.compile` traces the layer (`_is_tracing`): the scales must get the same
    gradients as in eager mode, not be cut off by a straight-through detach."""
    grads = []
    for compiled in (False, True):
        torch.manual_seed(0)
        layer = L.TernaryLinear(in_features=16, out_features=8, quantization="ttq").train()
        x = torch.randn(4, 16, generator=torch.Generator().manual_seed(3))
        run = torch.compile(layer, backend="eager", fullgraph=True) if compiled else layer
        run(x).square().sum().backward()
        grads.append((layer.ttq_positive.grad, layer.ttq_negative.grad, layer.weight.grad))
    for eager, traced in zip(*grads, strict=True):
        assert traced is not None
        torch.testing.assert_close(traced, eager)

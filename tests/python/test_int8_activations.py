"""8-bit activations (`activation_bits: 8`): the fake-quantizing layers, their export to the
packed format (version 2, an activation scale per op) and parity of the native engine with
PyTorch eval mode on models compiled from `.triton` sources.

Parity tolerance (docs/packed-format.md, "8-bit activations"): the engine quantizes every
input exactly as PyTorch does and its integer dot products are exact, so outputs differ by
float rounding only (relative error <= 1e-4 of the output's largest magnitude), except where
a value feeding a later 8-bit layer lies within float rounding of a rounding boundary of
the quantizer: there one int8 step flips, changing the affected outputs by at most
s_in * sum_k |w[o, k]| of the layers downstream. Such elements must stay below 1% of the
outputs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.programs import load_model_module
from torch import nn

from triton_dsl import layers as L
from triton_dsl import quant
from triton_dsl.errors import UserError
from triton_dsl.export.packed import save_packed

RELATIVE_TOLERANCE = 1e-4
MAX_FLIPPED_FRACTION = 0.01

MLP_SOURCE = """
model Mlp8 {
    layer fc1: TernaryLinear { in_features: 48, out_features: 64, activation_bits: 8 }
    layer fc2: TernaryLinear { in_features: 64, out_features: 32, activation_bits: 8 }
    layer fc3: TernaryLinear { in_features: 32, out_features: 4, activation_bits: 8 }
    forward(x: Tensor[batch, 48]) -> Tensor[batch, 4] {
        x = relu(fc1(x))
        x = relu(fc2(x))
        return fc3(x)
    }
}
"""

CONV_SOURCE = """
model Conv8 {
    layer conv1: TernaryConv2d { in_channels: 3, out_channels: 16, kernel_size: 3, padding: 1,
                                 activation_bits: 8 }
    layer bn1: BatchNorm2d { num_features: 16 }
    layer conv2: TernaryConv2d { in_channels: 16, out_channels: 24, kernel_size: 3, stride: 2,
                                 padding: 1, activation_bits: 8 }
    layer fc: TernaryLinear { in_features: 24, out_features: 4, activation_bits: 8 }
    forward(x: Tensor[batch, 3, 12, 12]) -> Tensor[batch, 4] {
        x = relu(bn1(conv1(x)))
        x = relu(conv2(x))
        x = adaptive_avg_pool2d(x, output_size: 1)
        x = flatten(x, start_dim: 1)
        return fc(x)
    }
}
"""

CONV1D_SOURCE = """
model Conv1d8 {
    layer conv1: TernaryConv1d { in_channels: 10, out_channels: 16, kernel_size: 5, padding: 2,
                                 activation_bits: 8 }
    layer bn1: BatchNorm1d { num_features: 16 }
    layer conv2: TernaryConv1d { in_channels: 16, out_channels: 24, kernel_size: 3, stride: 2,
                                 dilation: 2, activation_bits: 8 }
    layer fc: TernaryLinear { in_features: 24, out_features: 4, activation_bits: 8 }
    forward(x: Tensor[batch, 10, 30]) -> Tensor[batch, 4] {
        x = relu(bn1(conv1(x)))
        x = relu(conv2(x))
        return fc(mean(x, dim: 2))
    }
}
"""

# MobileNet's inverted residual: expand (ReLU6) -> depthwise stride 2 (ReLU6) -> project,
# all 8-bit, so the engine hands the activations from one to the next in 8 bits.
INVERTED_RESIDUAL_SOURCE = """
model Inverted8 {
    layer expand: TernaryConv2d { in_channels: 8, out_channels: 40, kernel_size: 1, bias: false,
                                  activation_bits: 8 }
    layer expand_bn: BatchNorm2d { num_features: 40 }
    layer depthwise: TernaryConv2d { in_channels: 40, out_channels: 40, kernel_size: 3, stride: 2,
                                     padding: 1, groups: 40, bias: false, activation_bits: 8 }
    layer depthwise_bn: BatchNorm2d { num_features: 40 }
    layer project: TernaryConv2d { in_channels: 40, out_channels: 12, kernel_size: 1, bias: false,
                                   activation_bits: 8 }
    layer fc: TernaryLinear { in_features: 12, out_features: 4, activation_bits: 8 }
    forward(x: Tensor[batch, 8, 14, 14]) -> Tensor[batch, 4] {
        x = relu6(expand_bn(expand(x)))
        x = relu6(depthwise_bn(depthwise(x)))
        x = project(x)
        x = adaptive_avg_pool2d(x, output_size: 1)
        x = flatten(x, start_dim: 1)
        return fc(x)
    }
}
"""


class _EncoderBlock8(nn.Module):
    """A pre-norm transformer block whose attention projections and MLP have 8-bit
    activations (the MLP's GELU is fused into its first layer and handed on in 8 bits)."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = L.MultiHeadAttention(dim, num_heads=4)
        self.attn.qkv._init_activation_bits(8)
        self.attn.proj._init_activation_bits(8)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = L.TernaryLinear(dim, 2 * dim, activation_bits=8)
        self.act = nn.GELU()
        self.fc2 = L.TernaryLinear(2 * dim, dim, activation_bits=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


# -- the layers -------------------------------------------------------------------------------

def test_activation_bits_is_validated_and_only_8_adds_a_buffer():
    assert "input_amax" not in L.TernaryLinear(4, 3).state_dict()
    layer = L.TernaryLinear(4, 3, activation_bits=8)
    assert "input_amax" in layer.state_dict()
    assert "activation_bits=8" in repr(layer)
    with pytest.raises(UserError, match="activation_bits"):
        L.TernaryLinear(4, 3, activation_bits=16)
    with pytest.raises(UserError, match="activation_bits"):
        L.TernaryConv2d(3, 4, 3, activation_bits=4)
    assert "input_amax" in L.TernaryConv1d(3, 4, 3, activation_bits=8).state_dict()


def test_forward_backward_shapes_and_ste_gradient():
    layer = L.TernaryLinear(6, 5, activation_bits=8)
    x = torch.randn(7, 6, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.shape == (7, 6) and layer.weight.grad.shape == (5, 6)
    conv = L.TernaryConv2d(3, 4, 3, padding=1, activation_bits=8)
    xc = torch.randn(2, 3, 5, 5, requires_grad=True)
    assert conv(xc).shape == (2, 4, 5, 5)
    conv(xc).sum().backward()
    assert xc.grad.shape == xc.shape
    conv1d = L.TernaryConv1d(3, 4, 3, stride=2, activation_bits=8)
    xs = torch.randn(2, 3, 9, requires_grad=True)
    conv1d(xs).sum().backward()
    assert conv1d(xs).shape == (2, 4, 4) and xs.grad.shape == xs.shape

    # The straight-through gradient: identity inside [-amax, amax], zero outside.
    amax = torch.tensor(1.0)
    x = torch.tensor([-2.0, -1.0, -0.3, 0.0, 0.5, 1.0, 3.0], requires_grad=True)
    quant.fake_quantize_int8(x, amax).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_quantization_rounds_half_to_even_and_clamps():
    amax = torch.tensor(127.0)  # s = 1
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 126.6, 300.0, -300.0])
    got = quant.fake_quantize_int8(x, amax, with_gradient=False)
    assert got.tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 127.0, 127.0, -127.0]


def test_amax_follows_an_ema_in_training_and_is_fixed_in_eval():
    layer = L.TernaryLinear(4, 2, activation_bits=8)
    layer(torch.full((3, 4), 2.0))
    assert layer.input_amax.item() == pytest.approx(2.0)  # the first batch sets it
    layer(torch.full((3, 4), 4.0))
    m = quant.INPUT_AMAX_MOMENTUM
    assert layer.input_amax.item() == pytest.approx((1 - m) * 2.0 + m * 4.0)
    layer.eval()
    stored = layer.input_amax.item()
    x = torch.randn(5, 4) * 10
    with torch.no_grad():
        out = layer(x)
    assert layer.input_amax.item() == stored
    scale = torch.tensor(stored, dtype=torch.float32) / 127
    x_hat = torch.round(x / scale).clamp(-127, 127) * scale
    torch.testing.assert_close(out, nn.functional.linear(x_hat, layer.quantized_weight(),
                                                         layer.bias))
    # The buffer survives a state_dict round trip.
    other = L.TernaryLinear(4, 2, activation_bits=8)
    other.load_state_dict(layer.state_dict())
    assert other.input_amax.item() == stored


def test_training_with_int8_activations_learns():
    torch.manual_seed(1)
    teacher = torch.randn(16, 3)
    x = torch.randn(512, 16)
    y = (x @ teacher).argmax(dim=1)
    model = nn.Sequential(L.TernaryLinear(16, 32, activation_bits=8), nn.ReLU(),
                          L.TernaryLinear(32, 3, activation_bits=8))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


# -- export and parity ------------------------------------------------------------------------

def _compile(triton_compiler: Path, source: str, directory: Path):
    src = directory / "model.triton"
    src.write_text(source)
    out = directory / "model.py"
    result = subprocess.run([str(triton_compiler), "compile", str(src), "-o", str(out)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return load_model_module(out)


def _train_a_little(model: nn.Module, shape: tuple[int, ...], classes: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for step in range(8):
        x = torch.randn(32, *shape, generator=torch.Generator().manual_seed(step))
        y = torch.arange(32) % classes
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def parity_numbers(got: np.ndarray, want: np.ndarray) -> dict[str, float]:
    """Max abs difference, the max difference relative to max|want|, and the fraction of
    elements off by more than RELATIVE_TOLERANCE * max|want|."""
    diff = np.abs(got - want)
    peak = max(float(np.abs(want).max()), 1e-12)
    return {"max_abs": float(diff.max()), "max_rel": float(diff.max()) / peak,
            "off_fraction": float((diff > RELATIVE_TOLERANCE * peak).mean()),
            "elements": float(diff.size)}


@pytest.mark.parametrize("source,shape", [(MLP_SOURCE, (48,)), (CONV_SOURCE, (3, 12, 12)),
                                          (CONV1D_SOURCE, (10, 30)),
                                          (INVERTED_RESIDUAL_SOURCE, (8, 14, 14))],
                         ids=["mlp", "conv", "conv1d", "inverted_residual"])
@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_engine_matches_pytorch_eval(triton_compiler, tmp_path, monkeypatch, source, shape, isa):
    native = pytest.importorskip("triton_dsl.native")
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    torch.manual_seed(3)
    model = _compile(triton_compiler, source, tmp_path).Model()
    _train_a_little(model, shape, 4)
    path = tmp_path / "model.tpk"
    save_packed(model, path, example_input=torch.randn(2, *shape))
    assert path.read_bytes()[8] == 2  # format version 2: the file carries activation scales
    engine = native.load(path, threads=2)
    if source is INVERTED_RESIDUAL_SOURCE:
        # Every op works image by image: a batch larger than the two threads goes through
        # the graph two images at a time (batch 3 and 64 below).
        assert engine.info()["batch_chunk"] == 2
    for batch in (1, 3, 64):
        x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(100 + batch))
        with torch.no_grad():
            want = model(x).numpy()
        got = engine.run(x.numpy())
        numbers = parity_numbers(got, want)
        assert numbers["off_fraction"] <= MAX_FLIPPED_FRACTION, numbers
        # A flipped step moves an output by at most one quantization step of a downstream
        # layer times that layer's sum |w|; bound it loosely by 5% of the output range.
        assert numbers["max_rel"] < 0.05, numbers


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_attention_projections_run_with_8bit_activations(tmp_path, monkeypatch, isa):
    native = pytest.importorskip("triton_dsl.native")
    from triton_dsl.export.packed import build_graph
    monkeypatch.setenv("TRITON_RT_FORCE_ISA", isa)
    torch.manual_seed(5)
    model = _EncoderBlock8()
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 10, 32))  # sets every input_amax
    model.eval()
    example = torch.randn(1, 10, 32)
    graph, _ = build_graph(model, example)
    linears = [op for op in graph.ops if op.kind == "linear"]
    assert len(linears) == 4 and all(len(op.floats) == 1 for op in linears)
    path = tmp_path / "block.tpk"
    save_packed(model, path, example_input=example)
    engine = native.load(path, threads=2)
    assert engine.info()["int8_handoffs"] == 1  # fc1 (GELU) -> fc2
    # Both skip connections fold into the projection before them (out_proj, fc2).
    assert engine.info()["residual_adds"] == 2
    for batch in (1, 3):
        x = torch.randn(batch, 10, 32, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = model(x).numpy()
        numbers = parity_numbers(engine.run(x.numpy()), want)
        assert numbers["off_fraction"] <= MAX_FLIPPED_FRACTION, numbers
        assert numbers["max_rel"] < 0.05, numbers


def test_files_without_8bit_layers_stay_version_1(tmp_path):
    model = nn.Sequential(L.TernaryLinear(8, 4), nn.ReLU()).eval()
    path = tmp_path / "plain.tpk"
    save_packed(model, path, example_input=torch.randn(1, 8))
    assert path.read_bytes()[8] == 1


def test_float_weights_with_int8_inputs_export_and_match(tmp_path):
    native = pytest.importorskip("triton_dsl.native")
    model = nn.Sequential(L.TernaryLinear(8, 6, quantization="none", activation_bits=8))
    model(torch.randn(16, 8))  # training mode: sets input_amax
    model.eval()
    path = tmp_path / "float.tpk"
    save_packed(model, path, example_input=torch.randn(1, 8))
    x = torch.randn(4, 8)
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(native.load(path).run(x.numpy()), want, rtol=1e-5, atol=1e-5)

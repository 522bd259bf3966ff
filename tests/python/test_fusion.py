"""`F.fused` (triton_dsl.fusion), what -O2 emits for a layer + batch norm + activation.

In evaluation without gradients it folds the norm into the layer; everywhere else it is the
unfused chain. These tests hold it to the unfused chain: the same outputs (to float
rounding) for every layer kind it accepts, a cache that follows weight and statistic
updates, identical training (outputs, gradients, running statistics), and identical
exports: the packed exporter traces a -O2 program to the same `.tpk` bytes as -O0's.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from triton_dsl import functional as F
from triton_dsl import layers as L
from triton_dsl.compiler import compile_file

ACTIVATIONS = [None, "relu", "relu6", "silu", "gelu"]
CHAIN = {None: lambda y: y, "relu": torch.relu, "relu6": nn.functional.relu6,
         "silu": nn.functional.silu, "gelu": nn.functional.gelu}


def _trained_norm(norm: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    n = norm.num_features
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
        norm.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        norm.weight.copy_(torch.randn(n, generator=g))  # negative scales included
        norm.bias.copy_(torch.randn(n, generator=g) * 0.2)
    return norm


def _cases():
    return {
        "ternary_conv2d": (lambda: L.TernaryConv2d(in_channels=4, out_channels=6, kernel_size=3,
                                                   padding=1, bias=False),
                           lambda: L.BatchNorm2d(num_features=6), (2, 4, 7, 5)),
        "ternary_conv2d_8bit": (lambda: L.TernaryConv2d(in_channels=4, out_channels=6, kernel_size=3,
                                                        stride=2, bias=True, activation_bits=8),
                                lambda: L.BatchNorm2d(num_features=6), (2, 4, 9, 9)),
        "depthwise": (lambda: L.TernaryConv2d(in_channels=6, out_channels=6, kernel_size=3,
                                              padding=1, groups=6, bias=False),
                      lambda: L.BatchNorm2d(num_features=6), (1, 6, 5, 5)),
        "float_conv2d": (lambda: L.Conv2d(in_channels=3, out_channels=5, kernel_size=1),
                         lambda: L.BatchNorm2d(num_features=5), (2, 3, 4, 4)),
        "ternary_conv1d": (lambda: L.TernaryConv1d(in_channels=3, out_channels=5, kernel_size=3),
                           lambda: L.BatchNorm1d(num_features=5), (2, 3, 11)),
        "ternary_linear": (lambda: L.TernaryLinear(in_features=7, out_features=5),
                           lambda: L.BatchNorm1d(num_features=5), (3, 7)),
        "float_linear": (lambda: L.Linear(in_features=7, out_features=5, bias=False),
                         lambda: L.BatchNorm1d(num_features=5), (3, 7)),
    }


def _pair(case: str, seed: int = 0):
    make_layer, make_norm, shape = _cases()[case]
    torch.manual_seed(seed)
    layer, norm = make_layer(), _trained_norm(make_norm(), seed)
    if getattr(layer, "activation_bits", 32) == 8:
        layer.set_input_amax(2.5)
    return layer.eval(), norm.eval(), torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 1))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("case", list(_cases()))
def test_folded_evaluation_matches_the_chain(case, activation):
    layer, norm, x = _pair(case)
    with torch.no_grad():
        want = CHAIN[activation](norm(layer(x)))
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            got = F.fused(layer, x, norm=norm, activation=activation)
        assert got.shape == want.shape
        assert _rel(got, want) < 1e-5, (case, activation, context.__name__)


def test_the_fold_cache_follows_updates():
    layer, norm, x = _pair("ternary_conv2d")
    with torch.no_grad():
        first = F.fused(layer, x, norm=norm)
        assert torch.equal(F.fused(layer, x, norm=norm), first)  # cached, same answer
        norm.running_mean.add_(0.5)
        assert _rel(F.fused(layer, x, norm=norm), norm(layer(x))) < 1e-5
        layer.weight.mul_(-1.0)
        assert _rel(F.fused(layer, x, norm=norm), norm(layer(x))) < 1e-5
    layer.train()
    norm.train()
    layer(x)  # a training pass, then back to evaluation
    layer.eval()
    norm.eval()
    with torch.inference_mode():
        got = F.fused(layer, x, norm=norm, activation="relu")
    with torch.no_grad():
        assert _rel(got, torch.relu(norm(layer(x)))) < 1e-5


def test_training_is_the_chain():
    layer, norm, x = _pair("ternary_conv2d")
    layer2, norm2 = copy.deepcopy(layer).train(), copy.deepcopy(norm).train()
    layer.train()
    norm.train()
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    y1 = F.fused(layer, x1, norm=norm, activation="relu")
    y2 = torch.relu(norm2(layer2(x2)))
    assert torch.equal(y1, y2)
    y1.square().sum().backward()
    y2.square().sum().backward()
    assert torch.equal(x1.grad, x2.grad)
    assert torch.equal(layer.weight.grad, layer2.weight.grad)
    assert torch.equal(norm.running_mean, norm2.running_mean)
    assert torch.equal(norm.running_var, norm2.running_var)


def test_evaluation_with_gradients_is_the_chain():
    """Saliency maps and other eval-mode gradients see the unfused chain."""
    layer, norm, x = _pair("float_conv2d")
    x = x.requires_grad_(True)
    y = F.fused(layer, x, norm=norm, activation="relu")
    y.sum().backward()
    assert x.grad is not None and layer.weight.grad is not None


def test_unknown_activation_is_an_error():
    layer, norm, x = _pair("float_linear")
    with pytest.raises(ValueError, match="unknown activation"):
        F.fused(layer, x, norm=norm, activation="tanh")


SMALL_NET = """
model Small {
    layer conv: TernaryConv2d { in_channels: 3, out_channels: 8, kernel_size: 3, padding: 1, bias: false }
    layer bn: BatchNorm2d { num_features: 8 }
    layer fc: TernaryLinear { in_features: 8, out_features: 4 }
    layer bn1: BatchNorm1d { num_features: 4 }
    forward(x: Tensor[batch, 3, 8, 8]) -> Tensor[batch, 4] {
        y = relu6(bn(conv(x)))
        return relu(bn1(fc(y.mean(dim: [2, 3]))))
    }
}
"""


def _compiled(tmp_path, level: str):
    import importlib.util

    source = tmp_path / "small.triton"
    source.write_text(SMALL_NET)
    path = compile_file(source, tmp_path / f"small_{level}.py", f"-{level}")
    spec = importlib.util.spec_from_file_location(f"small_{level}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path.read_text()


def test_levels_compute_the_same_model_and_export_the_same_file(triton_compiler, monkeypatch, tmp_path):
    from triton_dsl.export.packed import save_packed

    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    modules = {}
    for level in ("O0", "O2", "O3"):
        modules[level], text = _compiled(tmp_path, level)
        assert ("F.fused(" in text) == (level != "O0")
        assert ("channels_last" in text) == (level == "O3")
    torch.manual_seed(0)
    reference = modules["O0"].Model()
    for m in reference.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            _trained_norm(m, 3)
    reference.eval()
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        want = reference(x)
    packed = {}
    for level, module in modules.items():
        model = module.Model()
        model.load_state_dict(reference.state_dict())
        model.eval()
        with torch.inference_mode():
            assert _rel(model(x), want) < 1e-5, level
        target = tmp_path / f"{level}.tpk"
        save_packed(model, target, example_input=x[:1])
        packed[level] = target.read_bytes()
    assert packed["O2"] == packed["O0"]
    assert packed["O3"] == packed["O0"]

"""Tests of `triton_dsl.layers`: every built-in layer builds from its required attributes and
runs; the ternary layers compute with the hand-computed `alpha * t` (the convolutions as
torch's own of the quantized weight), pass gradients to their latent weights, train a CPU
step, keep PyTorch's state dict keys, and never serve a stale eval-mode cache.
"""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from torch import nn

from triton_dsl import layers as L
from triton_dsl.errors import UserError

# Each built-in layer's required attributes and an input it accepts.
CASES = {
    "TernaryLinear": ({"in_features": 6, "out_features": 4}, lambda: torch.randn(3, 6)),
    "TernaryConv2d": ({"in_channels": 3, "out_channels": 4, "kernel_size": 3},
                      lambda: torch.randn(2, 3, 8, 8)),
    "TernaryConv1d": ({"in_channels": 3, "out_channels": 4, "kernel_size": 3},
                      lambda: torch.randn(2, 3, 10)),
    "TernaryActivation": ({}, lambda: torch.randn(2, 5)),
    "Linear": ({"in_features": 6, "out_features": 4}, lambda: torch.randn(3, 6)),
    "Conv2d": ({"in_channels": 3, "out_channels": 4, "kernel_size": 3},
               lambda: torch.randn(2, 3, 8, 8)),
    "BatchNorm1d": ({"num_features": 5}, lambda: torch.randn(4, 5)),
    "BatchNorm2d": ({"num_features": 3}, lambda: torch.randn(2, 3, 4, 4)),
    "LayerNorm": ({"normalized_shape": 5}, lambda: torch.randn(2, 7, 5)),
    "ReLU": ({}, lambda: torch.randn(2, 5)),
    "ReLU6": ({}, lambda: torch.randn(2, 5) * 8),
    "GELU": ({}, lambda: torch.randn(2, 5)),
    "SiLU": ({}, lambda: torch.randn(2, 5)),
    "Sigmoid": ({}, lambda: torch.randn(2, 5)),
    "Tanh": ({}, lambda: torch.randn(2, 5)),
    "Softmax": ({}, lambda: torch.randn(2, 5)),
    "Dropout": ({}, lambda: torch.randn(2, 5)),
    "Identity": ({}, lambda: torch.randn(2, 5)),
    "Flatten": ({}, lambda: torch.randn(2, 3, 4)),
    "MaxPool2d": ({"kernel_size": 2}, lambda: torch.randn(1, 2, 4, 4)),
    "AvgPool2d": ({"kernel_size": 2}, lambda: torch.randn(1, 2, 4, 4)),
    "AdaptiveAvgPool2d": ({"output_size": 1}, lambda: torch.randn(1, 2, 5, 5)),
    "Embedding": ({"num_embeddings": 10, "embedding_dim": 4},
                  lambda: torch.tensor([[1, 2, 9]])),
    "Sequential": ({}, lambda: torch.randn(2, 5)),
    "MultiHeadAttention": ({"embed_dim": 8, "num_heads": 2}, lambda: torch.randn(2, 5, 8)),
}

# What each layer computes, from torch itself, for the layers without parameters.
REFERENCES = {
    "ReLU": torch.relu, "ReLU6": nn.functional.relu6, "GELU": nn.functional.gelu,
    "SiLU": nn.functional.silu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
    "Softmax": lambda x: torch.softmax(x, dim=-1), "Identity": lambda x: x,
    "Flatten": lambda x: x.flatten(1), "MaxPool2d": lambda x: nn.functional.max_pool2d(x, 2),
    "AvgPool2d": lambda x: nn.functional.avg_pool2d(x, 2),
    "AdaptiveAvgPool2d": lambda x: x.mean(dim=(2, 3), keepdim=True),
    "Dropout": lambda x: x, "Sequential": lambda x: x,
}


def test_every_builtin_layer_has_a_case():
    assert set(CASES) == set(L.BUILTIN_LAYERS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_builtin_layer_builds_with_defaults_and_runs(name):
    kwargs, make_input = CASES[name]
    layer = L.BUILTIN_LAYERS[name](**kwargs)
    x = make_input()
    for mode in (True, False):
        layer.train(mode)
        with torch.no_grad():
            y = layer(x)
        assert torch.isfinite(y).all()
    if name in REFERENCES:  # eval mode, so dropout is the identity
        torch.testing.assert_close(y, REFERENCES[name](x))
    assert name in repr(layer)


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip(name):
    kwargs, make_input = CASES[name]
    cls = L.BUILTIN_LAYERS[name]
    torch.manual_seed(1)
    source = cls(**kwargs).eval()
    x = make_input()
    if name.startswith("BatchNorm"):
        source.train()(make_input())  # move the running statistics off their defaults
        source.eval()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(2)
    target = cls(**kwargs).eval()
    target.load_state_dict(torch.load(buffer, weights_only=True))
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


def test_ternary_layers_keep_pytorch_parameter_names():
    assert set(L.TernaryLinear(3, 2).state_dict()) == {"weight", "bias"}
    assert set(L.TernaryConv2d(3, 2, 3, bias=False).state_dict()) == {"weight"}
    assert set(L.TernaryConv1d(3, 2, 3).state_dict()) == {"weight", "bias"}
    assert set(L.MultiHeadAttention(8, 2).state_dict()) == {
        "qkv.weight", "qkv.bias", "proj.weight", "proj.bias"}


def test_float_checkpoint_loads_into_ternary_layer():
    plain = nn.Linear(3, 2)
    layer = L.TernaryLinear(3, 2)
    layer.load_state_dict(plain.state_dict())
    assert torch.equal(layer.weight, plain.weight)


# Same weights as test_quant: per channel w_q = [[0.7, 0, -0.7], [0, 0.35, -0.35]],
# per layer w_q = 0.525 * [[1, 0, -1], [0, 1, -1]].
W = torch.tensor([[0.9, -0.1, -0.5], [0.2, 0.4, -0.3]])
BIAS = torch.tensor([0.1, -0.2])
X = torch.tensor([[1.0, 2.0, 3.0]])


def _linear(**kwargs) -> L.TernaryLinear:
    layer = L.TernaryLinear(in_features=3, out_features=2, **kwargs)
    with torch.no_grad():
        layer.weight.copy_(W)
        if layer.bias is not None:
            layer.bias.copy_(BIAS)
    return layer


@pytest.mark.parametrize("train", [False, True])
def test_ternary_linear_output_matches_hand_computation(train):
    layer = _linear().train(train)
    # [0.7 * 1 - 0.7 * 3 + 0.1, 0.35 * 2 - 0.35 * 3 - 0.2] = [-1.3, -0.55]
    torch.testing.assert_close(layer(X), torch.tensor([[-1.3, -0.55]]))
    with torch.no_grad():
        torch.testing.assert_close(layer(X), torch.tensor([[-1.3, -0.55]]))


def test_ternary_linear_per_layer_scaling():
    layer = _linear(scaling="per_layer", bias=False).eval()
    # 0.525 * [1 - 3, 2 - 3] = [-1.05, -0.525]
    with torch.no_grad():
        torch.testing.assert_close(layer(X), torch.tensor([[-1.05, -0.525]]))


def test_ternary_conv_output_matches_hand_computation():
    conv = L.TernaryConv2d(in_channels=1, out_channels=2, kernel_size=[1, 3], bias=False).eval()
    with torch.no_grad():
        conv.weight.copy_(W.reshape(2, 1, 1, 3))
        y = conv(X.reshape(1, 1, 1, 3))
    torch.testing.assert_close(y.flatten(), torch.tensor([-1.4, -0.35]))


def test_ternary_conv1d_output_matches_hand_computation():
    conv = L.TernaryConv1d(in_channels=1, out_channels=2, kernel_size=3, bias=False).eval()
    with torch.no_grad():
        conv.weight.copy_(W.reshape(2, 1, 3))
        y = conv(X.reshape(1, 1, 3))
    assert y.shape == (1, 2, 1)
    torch.testing.assert_close(y.flatten(), torch.tensor([-1.4, -0.35]))


@pytest.mark.parametrize("geometry", [
    # (in, out, kernel, stride, padding, dilation, groups)
    (4, 6, 3, 1, 1, 1, 1), (4, 4, 3, 2, 1, 1, 4), (6, 3, 5, 1, 4, 2, 3), (3, 8, 1, 1, 0, 1, 1)])
def test_ternary_conv1d_is_torch_conv1d_of_the_quantized_weight(geometry):
    cin, cout, kernel, stride, padding, dilation, groups = geometry
    conv = L.TernaryConv1d(in_channels=cin, out_channels=cout, kernel_size=kernel,
                           stride=stride, padding=padding, dilation=dilation,
                           groups=groups).eval()
    x = torch.randn(2, cin, 17)
    codes, scales = conv.ternary_weight()
    assert codes.shape == (cout, cin // groups, kernel) and scales.shape == (cout,)
    reference = nn.functional.conv1d(x, scales[:, None, None] * codes, conv.bias, stride=stride,
                                     padding=padding, dilation=dilation, groups=groups)
    with torch.no_grad():
        y = conv(x)
    assert y.shape == (2, cout, (17 + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1)
    torch.testing.assert_close(y, reference)


def test_ternary_conv1d_trains_a_cpu_step():
    torch.manual_seed(4)
    model = nn.Sequential(
        L.TernaryConv1d(in_channels=8, out_channels=16, kernel_size=3, padding=1, bias=False),
        L.BatchNorm1d(num_features=16), L.ReLU(),
        L.TernaryConv1d(in_channels=16, out_channels=16, kernel_size=3, stride=2, groups=16),
        nn.Flatten(), L.TernaryLinear(in_features=16 * 9, out_features=3))
    x, target = torch.randn(32, 8, 20), torch.randint(0, 3, (32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(2):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        for layer in (model[0], model[3]):  # the straight-through estimator reached them
            assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
        optimizer.step()
        losses.append(loss.item())
    assert losses[1] < losses[0]


def test_depthwise_ternary_conv_quantizes_each_channel():
    conv = L.TernaryConv2d(in_channels=4, out_channels=4, kernel_size=3, padding=1, groups=4).eval()
    x = torch.randn(2, 4, 6, 6)
    codes, scales = conv.ternary_weight()
    assert codes.shape == (4, 1, 3, 3) and scales.shape == (4,)
    reference = nn.functional.conv2d(x, scales[:, None, None, None] * codes, conv.bias,
                                     padding=1, groups=4)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), reference)


def test_ternary_weight_and_quantized_weight_agree():
    layer = _linear()
    codes, scales = layer.ternary_weight()
    assert codes.dtype == torch.int8
    assert torch.equal(codes, torch.tensor([[1, 0, -1], [0, 1, -1]], dtype=torch.int8))
    torch.testing.assert_close(scales, torch.tensor([0.7, 0.35]))
    torch.testing.assert_close(layer.quantized_weight(), scales[:, None] * codes)
    assert not layer.quantized_weight().requires_grad


def test_float_layer_has_no_ternary_form():
    layer = _linear(quantization="none").eval()
    assert not layer.is_ternary
    with torch.no_grad():
        torch.testing.assert_close(layer(X), X @ W.T + BIAS)
    with pytest.raises(ValueError):
        layer.ternary_weight()
    assert [name for name, _ in L.ternary_layers(nn.Sequential(layer, _linear()))] == ["1"]


def test_gradients_reach_latent_weights_through_ste():
    layer = _linear()
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    layer(x).sum().backward()
    # Identity STE: dL/dW[o, i] = sum over the batch of x[:, i], for every output o.
    torch.testing.assert_close(layer.weight.grad, x.sum(0).expand(2, 3))
    torch.testing.assert_close(layer.bias.grad, torch.tensor([2.0, 2.0]))


def test_clipped_ste_blocks_gradients_of_large_weights():
    layer = _linear(gradient_estimator="clipped_ste")
    with torch.no_grad():
        layer.weight[0, 0] = 1.5
        layer.weight[1, 2] = -3.0
    layer(X).sum().backward()
    expected = X.expand(2, 3).clone()
    expected[0, 0] = 0.0
    expected[1, 2] = 0.0
    torch.testing.assert_close(layer.weight.grad, expected)


def test_gradients_flow_in_eval_mode_too():
    layer = _linear().eval()
    layer(X).sum().backward()
    torch.testing.assert_close(layer.weight.grad, X.expand(2, 3))


def test_stochastic_layer_is_random_in_training_and_deterministic_in_eval():
    torch.manual_seed(3)
    layer = L.TernaryLinear(64, 32, quantization="stochastic")
    x = torch.randn(4, 64)
    first, second = layer(x), layer(x)
    assert not torch.equal(first, second)
    layer.eval()
    deterministic = _reference_linear(layer, x)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), deterministic)
        torch.testing.assert_close(layer(x), deterministic)
    torch.testing.assert_close(layer(x), deterministic)  # with gradients enabled


def _reference_linear(layer: L.TernaryLinear, x: torch.Tensor) -> torch.Tensor:
    codes, scales = layer.ternary_weight()
    return x @ (scales[:, None] * codes).T + layer.bias.detach()


def test_eval_cache_follows_optimizer_steps_and_loads():
    layer = L.TernaryLinear(16, 8)
    x = torch.randn(3, 16)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    for _ in range(3):
        layer.train()
        optimizer.zero_grad()
        layer(x).pow(2).sum().backward()
        optimizer.step()
        layer.eval()
        with torch.no_grad():
            torch.testing.assert_close(layer(x), _reference_linear(layer, x))
    with torch.no_grad():
        layer.weight.mul_(-1.0)  # in place, as an optimizer would
        torch.testing.assert_close(layer(x), _reference_linear(layer, x))
        other = L.TernaryLinear(16, 8)
        layer.load_state_dict(other.state_dict())
        torch.testing.assert_close(layer(x), _reference_linear(other, x))
        layer.threshold = 0.2
        torch.testing.assert_close(layer(x), _reference_linear(layer, x))
        layer.weight = nn.Parameter(torch.randn(8, 16))
        torch.testing.assert_close(layer(x), _reference_linear(layer, x))


@pytest.mark.parametrize("optimizer", ["fused_adam", "fused_sgd"])
def test_eval_cache_sees_fused_optimizer_steps(optimizer):
    """Fused optimizers write parameters without bumping their version counters."""
    layer = L.TernaryLinear(16, 8).eval()
    x = torch.randn(3, 16)
    step = (torch.optim.Adam(layer.parameters(), lr=0.5, fused=True) if optimizer == "fused_adam"
            else torch.optim.SGD(layer.parameters(), lr=0.5, momentum=0.9, fused=True))
    version = layer.weight._version
    with torch.no_grad():
        layer(x)  # fills the cache
    layer.weight.grad = torch.randn(8, 16)  # a step with no forward pass in between
    step.step()
    assert layer.weight._version == version  # the case the step counter exists for
    with torch.no_grad():
        torch.testing.assert_close(layer(x), _reference_linear(layer, x))


def test_eval_cache_is_dropped_by_training_forwards_and_mode_changes():
    layer = L.TernaryLinear(16, 8).eval()
    x = torch.randn(3, 16)
    with torch.no_grad():
        layer(x)
    layer(x)  # a forward that needs gradients: training is under way
    assert layer._eval_cache is None
    with torch.no_grad():
        layer(x)
        layer.weight.data.mul_(-1.0)  # `.data` writes bypass the version counter...
        layer.eval()  # ...so setting the mode again is what refreshes the cache
        torch.testing.assert_close(layer(x), _reference_linear(layer, x))
        layer.weight.data.mul_(-1.0)
        layer.clear_cache()
        torch.testing.assert_close(layer(x), _reference_linear(layer, x))


def test_eval_cache_is_reused_while_the_weight_is_unchanged():
    layer = L.TernaryLinear(16, 8).eval()
    with torch.no_grad():
        layer(torch.randn(2, 16))
        cached = layer._eval_cache[2]
        layer(torch.randn(2, 16))
        assert layer._eval_cache[2] is cached


def test_inference_mode_cache_does_not_leak_into_autograd():
    layer = L.TernaryLinear(4, 3).eval()
    layer.requires_grad_(False)
    with torch.inference_mode():
        layer(torch.randn(1, 4))
    x = torch.randn(2, 4, requires_grad=True)
    layer(x).sum().backward()  # would fail if an inference tensor were saved for backward
    assert x.grad is not None


def test_modules_with_a_filled_cache_copy_and_pickle():
    layer = _linear().eval()
    with torch.no_grad():
        expected = layer(X)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        with torch.no_grad():
            torch.testing.assert_close(clone(X), expected)
        with torch.no_grad():
            clone.weight.zero_()
        assert not torch.equal(clone(X), expected)


def test_multi_head_attention_matches_a_manual_computation():
    attention = L.MultiHeadAttention(embed_dim=8, num_heads=2).eval()
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        qkv = x @ attention.qkv.quantized_weight().T + attention.qkv.bias
        q, k, v = (qkv[..., i * 8:(i + 1) * 8].reshape(3, 5, 2, 4).transpose(1, 2)
                   for i in range(3))
        weights = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(3, 5, 8)
        expected = mixed @ attention.proj.quantized_weight().T + attention.proj.bias
        torch.testing.assert_close(attention(x), expected)


def test_float_multi_head_attention_uses_float_projections():
    attention = L.MultiHeadAttention(embed_dim=8, num_heads=4, quantization="none")
    assert type(attention.qkv) is L.Linear and type(attention.proj) is L.Linear
    assert L.ternary_layers(attention) == []


def test_ternary_activation_layer():
    layer = L.TernaryActivation(method="ternary", clip_value=1.0, threshold=0.5)
    x = torch.tensor([-2.0, -0.6, 0.3, 0.5, 0.7], requires_grad=True)
    y = layer(x)
    torch.testing.assert_close(y, torch.tensor([-1.0, -1.0, 0.0, 0.0, 1.0]))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0]))
    assert "method='ternary'" in repr(layer)


def test_reset_parameters_uses_pytorch_initialization():
    torch.manual_seed(5)
    ours = L.TernaryConv2d(3, 8, 3)
    torch.manual_seed(5)
    theirs = nn.Conv2d(3, 8, 3)
    assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    ours.reset_parameters()
    assert not torch.equal(ours.weight, theirs.weight)
    torch.manual_seed(6)
    ours_1d = L.TernaryConv1d(3, 8, 5)
    torch.manual_seed(6)
    theirs_1d = nn.Conv1d(3, 8, 5)
    assert torch.equal(ours_1d.weight, theirs_1d.weight)
    assert torch.equal(ours_1d.bias, theirs_1d.bias)


@pytest.mark.parametrize(("cls", "kwargs"), [
    (L.TernaryLinear, {"in_features": 3, "out_features": 2, "quantization": "binary"}),
    (L.TernaryLinear, {"in_features": 3, "out_features": 2, "scaling": "per_tensor"}),
    (L.TernaryConv2d, {"in_channels": 3, "out_channels": 4, "kernel_size": 1, "groups": 2}),
    (L.TernaryConv1d, {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 4}),
    (L.TernaryConv1d, {"in_channels": 4, "out_channels": 4, "kernel_size": 3,
                       "activation_bits": 16}),
    (L.TernaryActivation, {"method": "binary"}),
    (L.TernaryActivation, {"clip_value": 0.0}),
    (L.MultiHeadAttention, {"embed_dim": 10, "num_heads": 3}),
])
def test_bad_attributes_are_one_line_user_errors(cls, kwargs):
    with pytest.raises(UserError) as info:
        cls(**kwargs)
    assert "\n" not in str(info.value)


def test_is_leaf_keeps_sequential_transparent():
    assert L.is_leaf(L.TernaryLinear(2, 2)) and L.is_leaf(L.MultiHeadAttention(4, 2))
    assert not L.is_leaf(L.Sequential(L.ReLU())) and not L.is_leaf(nn.Linear(2, 2))

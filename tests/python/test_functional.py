"""Tests of `triton_dsl.functional`: each built-in function against the torch operation it
stands for, the language-specific behaviours (`repeat` tiles along dim 0, `dropout` obeys
its training flag, `softmax` defaults to the last dimension), and traceability.
"""

from __future__ import annotations

import pytest
import torch
from torch import fx, nn

from triton_dsl import functional as F

X = torch.randn(2, 3, 4, 5)
A = torch.randn(3, 4)
B = torch.randn(3, 4)

# (language call, torch reference)
EQUIVALENTS = {
    "relu": (lambda: F.relu(A), lambda: torch.relu(A)),
    "relu6": (lambda: F.relu6(A * 8), lambda: torch.clamp(A * 8, 0, 6)),
    "leaky_relu": (lambda: F.leaky_relu(A, 0.2), lambda: torch.where(A > 0, A, 0.2 * A)),
    "gelu": (lambda: F.gelu(A), lambda: nn.functional.gelu(A)),
    "silu": (lambda: F.silu(A), lambda: A * torch.sigmoid(A)),
    "hardswish": (lambda: F.hardswish(A), lambda: A * torch.clamp(A + 3, 0, 6) / 6),
    "sigmoid": (lambda: F.sigmoid(A), lambda: 1 / (1 + torch.exp(-A))),
    "tanh": (lambda: F.tanh(A), lambda: torch.tanh(A)),
    "softmax": (lambda: F.softmax(A), lambda: torch.exp(A) / torch.exp(A).sum(-1, keepdim=True)),
    "log_softmax": (lambda: F.log_softmax(A, dim=0), lambda: torch.log_softmax(A, 0)),
    "flatten": (lambda: F.flatten(X, start_dim=1), lambda: X.reshape(2, 60)),
    "reshape": (lambda: F.reshape(X, [6, -1]), lambda: X.reshape(6, 20)),
    "permute": (lambda: F.permute(X, [0, 2, 3, 1]), lambda: X.permute(0, 2, 3, 1)),
    "transpose": (lambda: F.transpose(X, 1, 3), lambda: X.transpose(1, 3)),
    "squeeze": (lambda: F.squeeze(X[:, :1], dim=1), lambda: X[:, 0]),
    "unsqueeze": (lambda: F.unsqueeze(A, 1), lambda: A[:, None]),
    "concatenate": (lambda: F.concatenate([A, B], dim=1), lambda: torch.cat([A, B], 1)),
    "cat": (lambda: F.cat([A, B]), lambda: torch.cat([A, B], 0)),
    "stack": (lambda: F.stack([A, B], dim=1), lambda: torch.stack([A, B], 1)),
    "chunk": (lambda: torch.stack(F.chunk(A, 2, dim=1)), lambda: torch.stack([A[:, :2], A[:, 2:]])),
    "split": (lambda: torch.stack(F.split(A, 2, dim=1)), lambda: torch.stack([A[:, :2], A[:, 2:]])),
    "add": (lambda: F.add(A, B), lambda: A + B),
    "subtract": (lambda: F.subtract(A, 1.5), lambda: A - 1.5),
    "multiply": (lambda: F.multiply(A, B), lambda: A * B),
    "divide": (lambda: F.divide(A, 2.0), lambda: A / 2.0),
    "floor_div": (lambda: F.floor_div(torch.tensor([7, -7]), 2), lambda: torch.tensor([3, -4])),
    "matmul": (lambda: F.matmul(A, B.T), lambda: A @ B.T),
    "sqrt": (lambda: F.sqrt(A.abs()), lambda: A.abs() ** 0.5),
    "exp": (lambda: F.exp(A), lambda: torch.exp(A)),
    "log": (lambda: F.log(A.abs()), lambda: torch.log(A.abs())),
    "abs": (lambda: F.abs(A), lambda: A.abs()),
    "pow": (lambda: F.pow(A, 2), lambda: A * A),
    "clamp": (lambda: F.clamp(A, min=-0.5, max=0.5), lambda: torch.clamp(A, -0.5, 0.5)),
    "maximum": (lambda: F.maximum(A, B), lambda: torch.where(A > B, A, B)),
    "minimum": (lambda: F.minimum(A, B), lambda: torch.where(A < B, A, B)),
    "where": (lambda: F.where(A > 0, A, 0.0), lambda: torch.relu(A)),
    "mean": (lambda: F.mean(X, dim=[2, 3], keepdim=True), lambda: X.mean((2, 3), keepdim=True)),
    "sum": (lambda: F.sum(X, dim=1), lambda: X.sum(1)),
    "max": (lambda: F.max(A, dim=1), lambda: A.max(1).values),
    "min": (lambda: F.min(A), lambda: A.min()),
    "argmax": (lambda: F.argmax(A, dim=1), lambda: A.argmax(1)),
    "adaptive_avg_pool2d": (lambda: F.adaptive_avg_pool2d(X, 1),
                            lambda: X.mean((2, 3), keepdim=True)),
    "avg_pool2d": (lambda: F.avg_pool2d(X, 2), lambda: nn.functional.avg_pool2d(X, 2, 2)),
    "max_pool2d": (lambda: F.max_pool2d(X, [2, 2], stride=1),
                   lambda: nn.functional.max_pool2d(X, 2, 1)),
    "dropout": (lambda: F.dropout(A, 0.5, training=False), lambda: A),
    "layer_norm": (lambda: F.layer_norm(X, 5),
                   lambda: (X - X.mean(-1, keepdim=True))
                   / torch.sqrt(X.var(-1, unbiased=False, keepdim=True) + 1e-5)),
    "linear": (lambda: F.linear(A, B, torch.ones(3)), lambda: A @ B.T + 1),
    "conv2d": (lambda: F.conv2d(X, torch.ones(1, 3, 1, 1)), lambda: X.sum(1, keepdim=True)),
    "repeat": (lambda: F.repeat(A[:1], 3), lambda: torch.cat([A[:1]] * 3)),
    "expand": (lambda: F.expand(A[None], 2), lambda: torch.stack([A, A])),
    "sign": (lambda: F.sign(torch.tensor([-2.0, 0.0, 3.0])), lambda: torch.tensor([-1.0, 0.0, 1.0])),
    "round": (lambda: F.round(torch.tensor([0.5, 1.5, -1.2])), lambda: torch.tensor([0.0, 2.0, -1.0])),
    "stop_gradient": (lambda: F.stop_gradient(A), lambda: A),
    "ternarize": (lambda: F.ternarize(torch.tensor([[0.9, -0.1, -0.5]])),
                  lambda: torch.tensor([[0.7, 0.0, -0.7]])),
}


def test_every_builtin_function_is_tested():
    assert set(EQUIVALENTS) == set(F.BUILTIN_FUNCTIONS)


@pytest.mark.parametrize("name", sorted(EQUIVALENTS))
def test_function_matches_torch(name):
    ours, reference = EQUIVALENTS[name]
    torch.testing.assert_close(ours(), reference(), check_dtype=False)


def test_builtin_names_with_a_trailing_underscore_are_the_same_functions():
    assert F.sum is F.sum_ and F.max is F.max_ and F.min is F.min_
    assert F.abs is F.abs_ and F.pow is F.pow_


def test_reshape_and_permute_accept_separate_ints():
    assert F.reshape(X, 6, 20).shape == (6, 20)
    assert F.permute(X, 3, 2, 1, 0).shape == (5, 4, 3, 2)


def test_expand_with_several_sizes_is_pytorchs():
    token = torch.arange(3.0).reshape(1, 1, 3)
    assert F.expand(token, 4, -1, -1).shape == (4, 1, 3)
    assert F.expand(token, [2, 5, 3]).shape == (2, 5, 3)
    assert F.expand(token, 2).shape == (2, 1, 3)  # one int: `repeat`


def test_stop_gradient_blocks_the_gradient():
    x = torch.ones(3, requires_grad=True)
    (F.stop_gradient(x) * 2 + x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_repeat_tiles_along_the_first_dimension():
    token = torch.arange(3.0).reshape(1, 1, 3)
    assert F.repeat(token, 4).shape == (4, 1, 3)
    rows = torch.tensor([[1.0], [2.0]])
    # Tiling, not interleaving: [1, 2, 1, 2], not [1, 1, 2, 2].
    assert F.repeat(rows, 2).flatten().tolist() == [1.0, 2.0, 1.0, 2.0]
    assert F.repeat(torch.tensor([5.0, 6.0]), 2).tolist() == [5.0, 6.0, 5.0, 6.0]


def test_dropout_is_active_only_in_training():
    x = torch.ones(1000)
    assert torch.equal(F.dropout(x, p=0.5, training=False), x)
    dropped = F.dropout(x, p=0.5, training=True)
    assert set(dropped.unique().tolist()) == {0.0, 2.0}
    assert 400 < int((dropped == 0).sum()) < 600


def test_layer_norm_positional_eps_is_eps():
    torch.testing.assert_close(F.layer_norm(X, [5], 0.5),
                               nn.functional.layer_norm(X, [5], eps=0.5))
    weight = torch.full((5,), 2.0)
    torch.testing.assert_close(F.layer_norm(X, 5, weight=weight), 2 * F.layer_norm(X, 5))


def test_ternarize_passes_gradients_straight_through():
    w = torch.tensor([[0.9, -0.1, -0.5]], requires_grad=True)
    F.ternarize(w).sum().backward()
    torch.testing.assert_close(w.grad, torch.ones(1, 3))


class ClassToken(nn.Module):
    """The ViT pattern: a [1, 1, d] token tiled to the batch size read from the input."""

    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 4))

    def forward(self, x):
        tokens = F.repeat(self.cls_token, x.shape[0])
        x = F.concatenate([tokens, x], dim=1)
        x = F.dropout(x, p=0.1, training=self.training)
        return F.softmax(F.mean(x, dim=1))


def test_functions_trace_with_fx_for_any_batch_size():
    model = ClassToken().eval()
    graph_module = fx.symbolic_trace(model)
    for batch in (1, 3):
        x = torch.randn(batch, 5, 4)
        torch.testing.assert_close(graph_module(x), model(x))

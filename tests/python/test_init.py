"""Tests of `triton_dsl.init.tensor`, the initializer behind `param` and `state` tensors:
shapes, dtypes, the statistics of each random method, and one-line errors for bad options.
"""

from __future__ import annotations

import pytest
import torch

from triton_dsl import init as I
from triton_dsl.errors import UserError


def test_constant_methods():
    assert torch.equal(I.tensor([2, 3]), torch.zeros(2, 3))
    assert torch.equal(I.tensor(4, init="ones"), torch.ones(4))
    assert torch.equal(I.tensor([2], init="constant", value=0.5), torch.full((2,), 0.5))
    assert I.tensor([2, 3]).dtype == torch.float32


def test_normal_has_the_requested_moments():
    t = I.tensor([200, 200], init="normal", mean=1.0, std=0.02)
    assert abs(t.mean().item() - 1.0) < 1e-3
    assert abs(t.std().item() - 0.02) < 1e-3


def test_trunc_normal_defaults_to_two_standard_deviations():
    t = I.tensor([1, 1, 20000], init="trunc_normal", std=0.02)
    assert t.abs().max().item() <= 0.04
    assert 0.015 < t.std().item() < 0.02  # truncation narrows the spread
    t = I.tensor([5000], init="trunc_normal", a=-0.5, b=0.25)
    assert t.min().item() >= -0.5 and t.max().item() <= 0.25


def test_uniform_bounds():
    t = I.tensor([10000], init="uniform")
    assert 0.0 <= t.min().item() and t.max().item() < 1.0
    t = I.tensor([10000], init="uniform", a=-3.0, b=-2.0)
    assert -3.0 <= t.min().item() and t.max().item() <= -2.0
    t = I.tensor([10000], init="uniform", low=5.0, high=5.5)
    assert 5.0 <= t.min().item() and t.max().item() <= 5.5


def test_fan_based_methods_follow_pytorch():
    for method, fill in [("xavier_uniform", torch.nn.init.xavier_uniform_),
                         ("xavier_normal", torch.nn.init.xavier_normal_),
                         ("kaiming_normal", torch.nn.init.kaiming_normal_),
                         ("kaiming_uniform", torch.nn.init.kaiming_uniform_)]:
        torch.manual_seed(7)
        ours = I.tensor([16, 8], init=method)
        torch.manual_seed(7)
        theirs = fill(torch.empty(16, 8))
        assert torch.equal(ours, theirs), method


def test_kaiming_options():
    t = I.tensor([256, 1000], init="kaiming_normal", mode="fan_out", nonlinearity="relu")
    # std = sqrt(2 / fan_out) = sqrt(2 / 256)
    assert abs(t.std().item() - (2 / 256) ** 0.5) < 2e-3


@pytest.mark.parametrize(("shape", "kwargs"), [
    ([2, 2], {"init": "orthogonal"}),
    ([4], {"init": "xavier_uniform"}),
    ([2, -1], {}),
    ([3], {"init": "uniform", "a": 1.0, "b": 0.0}),
    ([3, 3], {"init": "kaiming_normal", "mode": "fan_avg"}),
    ([3], {"init": "uniform", "a": 0.0, "low": 1.0}),
])
def test_bad_options_are_one_line_user_errors(shape, kwargs):
    with pytest.raises(UserError) as info:
        I.tensor(shape, **kwargs)
    assert "\n" not in str(info.value)

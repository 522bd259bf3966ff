"""Tests of `triton_dsl.quant`: the ternarization formulas against hand-computed numbers,
stochastic rounding's expectation, straight-through gradients and activation quantization.

The expected values are worked out by hand in the comments, from the contract's formulas,
so these tests check the formulas themselves rather than the code against itself.
"""

from __future__ import annotations

import pytest
import torch

from triton_dsl import quant
from triton_dsl.errors import UserError

# Row 0: mean|w| = (0.9 + 0.1 + 0.5) / 3 = 0.5, delta = 0.35 -> t = [1, 0, -1],
#        alpha = (0.9 + 0.5) / 2 = 0.7
# Row 1: mean|w| = (0.2 + 0.4 + 0.3) / 3 = 0.3, delta = 0.21 -> t = [0, 1, -1],
#        alpha = (0.4 + 0.3) / 2 = 0.35
# Per layer: mean|w| = 2.4 / 6 = 0.4, delta = 0.28 -> t = [[1, 0, -1], [0, 1, -1]],
#        alpha = (0.9 + 0.5 + 0.4 + 0.3) / 4 = 0.525
W = torch.tensor([[0.9, -0.1, -0.5], [0.2, 0.4, -0.3]])
T = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])
W_Q_PER_CHANNEL = torch.tensor([[0.7, 0.0, -0.7], [0.0, 0.35, -0.35]])
W_Q_PER_LAYER = torch.tensor([[0.525, 0.0, -0.525], [0.0, 0.525, -0.525]])


def test_deterministic_per_channel_matches_hand_computation():
    t, alpha = quant.ternarize(W, threshold=0.7, scaling="per_channel")
    assert torch.equal(t, T)
    torch.testing.assert_close(alpha, torch.tensor([[0.7], [0.35]]))
    torch.testing.assert_close(quant.quantize_weight(W), W_Q_PER_CHANNEL)


def test_deterministic_per_layer_matches_hand_computation():
    t, alpha = quant.ternarize(W, scaling="per_layer")
    assert torch.equal(t, T)
    torch.testing.assert_close(alpha, torch.tensor([[0.525]]))
    torch.testing.assert_close(quant.quantize_weight(W, scaling="per_layer"), W_Q_PER_LAYER)


def test_ternary_is_an_alias_of_deterministic():
    torch.testing.assert_close(quant.quantize_weight(W, quantization="ternary"), W_Q_PER_CHANNEL)


def test_threshold_moves_the_cutoff():
    # threshold 0 keeps every nonzero weight: alpha = mean|w| of each row (0.5 and 0.3).
    w_q = quant.quantize_weight(W, threshold=0.0)
    torch.testing.assert_close(w_q, torch.tensor([[0.5, -0.5, -0.5], [0.3, 0.3, -0.3]]))
    # threshold 1.9 keeps only |w| > 0.95 in row 0 and > 0.57 in row 1: nothing survives,
    # and alpha is 0 rather than 0/0.
    w_q = quant.quantize_weight(W, threshold=1.9)
    assert torch.equal(w_q, torch.zeros_like(W))


def test_convolution_weights_are_scaled_per_output_channel():
    w = torch.randn(4, 3, 3, 3)
    t, alpha = quant.ternarize(w)
    assert t.shape == w.shape and alpha.shape == (4, 1)
    for c in range(4):
        row = w[c].abs().flatten()
        keep = row > 0.7 * row.mean()
        assert torch.equal(t[c].flatten(), w[c].flatten().sign() * keep)
        torch.testing.assert_close(alpha[c, 0], row[keep].mean())


def test_none_returns_the_float_weight():
    assert quant.quantize_weight(W, quantization="none") is W


def test_codes_and_scales_reproduce_the_quantized_weight():
    codes, scales = quant.codes_and_scales(W)
    assert codes.dtype == torch.int8 and torch.equal(codes, T.to(torch.int8))
    assert scales.dtype == torch.float32 and scales.shape == (2,)
    torch.testing.assert_close(scales[:, None] * codes, W_Q_PER_CHANNEL)
    # A per-layer scale is repeated for each channel.
    codes, scales = quant.codes_and_scales(W, scaling="per_layer")
    torch.testing.assert_close(scales, torch.tensor([0.525, 0.525]))


def test_stochastic_keeps_signs_with_probability_proportional_to_magnitude():
    # Probabilities |w| / max|w| = [1, 0.5, 0.25, 0]; rows are independent draws.
    row = torch.tensor([0.8, -0.4, 0.2, 0.0])
    w = row.repeat(20000, 1)
    t, alpha = quant.ternarize(w, quantization="stochastic", stochastic_draw=True)
    assert set(t.unique().tolist()) <= {-1.0, 0.0, 1.0}
    torch.testing.assert_close(t.mean(0), torch.tensor([1.0, -0.5, 0.25, 0.0]), atol=0.02, rtol=0)
    # alpha is the mean |w| of the kept entries of each row.
    kept = t != 0
    torch.testing.assert_close(alpha[:, 0], (w.abs() * kept).sum(1) / kept.sum(1))


def test_stochastic_without_draw_is_deterministic():
    t, _ = quant.ternarize(W, quantization="stochastic", stochastic_draw=False)
    assert torch.equal(t, T)


def test_stochastic_all_zero_channel_stays_zero():
    w = torch.zeros(2, 5)
    w_q = quant.quantize_weight(w, quantization="stochastic", stochastic_draw=True)
    assert torch.equal(w_q, w)


def test_straight_through_gradient_is_identity():
    w = torch.tensor([[0.3, -2.0, 1.5, 0.0]], requires_grad=True)
    w_q = quant.quantize_weight(w.detach())
    out = quant.straight_through(w, w_q, "ste")
    torch.testing.assert_close(out, w_q)
    out.backward(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    torch.testing.assert_close(w.grad, torch.tensor([[1.0, 2.0, 3.0, 4.0]]))


def test_clipped_straight_through_zeroes_gradient_where_magnitude_exceeds_one():
    w = torch.tensor([[0.3, -2.0, 1.5, 1.0]], requires_grad=True)
    w_q = quant.quantize_weight(w.detach())
    out = quant.straight_through(w, w_q, "clipped_ste")
    torch.testing.assert_close(out, w_q)
    out.backward(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    # |w| = 1 is still inside the clip range.
    torch.testing.assert_close(w.grad, torch.tensor([[1.0, 0.0, 0.0, 4.0]]))


def test_ternary_activation_values_and_clipped_gradient():
    x = torch.tensor([-3.0, -0.7, -0.2, 0.0, 0.4, 0.9, 2.5], requires_grad=True)
    # clip 2, threshold 0.25 -> zero where |x| <= 0.5
    y = quant.quantize_activation(x, method="ternary", clip_value=2.0, threshold=0.25)
    torch.testing.assert_close(y, torch.tensor([-2.0, -2.0, 0.0, 0.0, 0.0, 2.0, 2.0]))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]))


def test_sign_activation_is_binary():
    x = torch.tensor([-3.0, -0.1, 0.0, 0.1, 3.0])
    y = quant.quantize_activation(x, method="sign", clip_value=1.0)
    torch.testing.assert_close(y, torch.tensor([-1.0, -1.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize(("check", "value"), [
    (quant.check_quantization, "ternery"),
    (quant.check_scaling, "per_row"),
    (quant.check_gradient_estimator, "identity"),
    (quant.check_threshold, -0.1),
])
def test_bad_settings_are_user_errors(check, value):
    with pytest.raises(UserError) as info:
        check(value)
    assert "\n" not in str(info.value)

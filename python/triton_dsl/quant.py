"""Ternarization of weights and activations, with straight-through gradients.

This module holds the arithmetic behind every ternary layer, as plain tensor functions, so
the layers, the packed exporter and the size report all compute the same codes and scales.
The formulas are the contract in `docs/architecture.md` (TWN-style):

    deterministic:  delta = threshold * mean|w|        t = sign(w) * [|w| > delta]
                    alpha = mean(|w| over t != 0)      w_q = alpha * t
    stochastic:     keep sign(w) with probability min(1, |w| / max|w|), else 0; alpha as above

The integer weight quantizers ("int8", "int4": the quantization section's `weights: "int8"`)
are symmetric with one scale per row: s = max|w| / qmax, w_q = s * clamp(round(w / s), -qmax,
qmax), qmax 127 or 7 (`integer_rows`); their gradient is the straight-through one below.

Every statistic is taken per output channel (dim 0 of the weight) for "per_channel" scaling,
or over the whole tensor for "per_layer". A channel (or layer) whose codes are all zero gets
alpha = 0, so its quantized weight is exactly zero rather than NaN.

8-bit activations (`activation_bits: 8`) are symmetric per-tensor int8 with one scale per
layer input, s = amax / 127, amax being a running (EMA) estimate of max|x|:

    q = clamp(round_half_to_even(x / s), -127, 127)        x_hat = q * s

computed in float32 exactly as the native engine computes it (a true division, not a
multiply by 1/s), so both quantize every value identically. The backward is the identity
where |x| <= amax and zero outside (`fake_quantize_int8`).

Gradients: the forward value is `w_q`, the backward is the identity ("ste") or the identity
masked to |w| <= 1 ("clipped_ste"). Both are written with `detach` (`straight_through`)
rather than as a custom `autograd.Function`: plain tensor ops trace with `torch.jit.trace`,
`torch.fx` and `torch.onnx.export` without special cases.

Everything here is vectorized over channels (no Python loops), because it runs on every
training step of every ternary layer.
"""

from __future__ import annotations

import torch
from torch import Tensor

from triton_dsl.errors import UserError

QUANTIZATION_METHODS = ("deterministic", "stochastic", "ternary", "ttq", "int8", "int4", "none")
# The integer weight quantizers and their largest code: symmetric, so codes lie in
# [-qmax, qmax] and zero is exact.
INTEGER_WEIGHT_QMAX = {"int8": 127, "int4": 7}
SCALING_MODES = ("per_channel", "per_layer")
GRADIENT_ESTIMATORS = ("ste", "clipped_ste")
ACTIVATION_METHODS = ("sign", "ternary")
ACTIVATION_BITS = (8, 32)
# The running max|x| of an 8-bit layer's input: amax <- (1 - m) * amax + m * max|x| per
# training batch, the first batch setting it outright (amax is 0 until then).
INPUT_AMAX_MOMENTUM = 0.1
# Keeps s positive for a layer that never saw a nonzero input (the native format needs s > 0).
MIN_INPUT_AMAX = 1e-8
INT8_MAX = 127.0


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        options = ", ".join(f'"{c}"' for c in choices)
        raise UserError(f"`{what}` must be one of {options}, got {value!r}")
    return value


def check_quantization(value: str) -> str:
    """Validates a `quantization` attribute; "ternary" is kept (callers treat it as
    "deterministic")."""
    return _check_choice("quantization", value, QUANTIZATION_METHODS)


def check_scaling(value: str) -> str:
    return _check_choice("scaling", value, SCALING_MODES)


def check_gradient_estimator(value: str) -> str:
    return _check_choice("gradient_estimator", value, GRADIENT_ESTIMATORS)


def check_activation_bits(value: int) -> int:
    if isinstance(value, bool) or value not in ACTIVATION_BITS:
        raise UserError(f"`activation_bits` must be 8 or 32, got {value!r}")
    return int(value)


def check_threshold(value: float) -> float:
    value = float(value)
    if not value >= 0.0:  # also rejects NaN
        raise UserError(f"`threshold` must be a non-negative number, got {value}")
    return value


def _rows(w: Tensor, per_channel: bool) -> Tensor:
    """The weight viewed as [groups, n]: one row per output channel, or a single row."""
    return w.flatten(1) if per_channel else w.reshape(1, -1)


def _positive_(difference: Tensor) -> Tensor:
    """[difference > 0] as 0.0/1.0, computed in place on a temporary the caller owns.

    Written as sign() clamped at 0 rather than as a comparison because comparison kernels,
    which produce bool tensors, run several times slower on CPU than float arithmetic, and
    this runs on every weight at every training step. For IEEE floats with subnormals
    (PyTorch's default) a - b > 0 exactly when a > b, so `_positive_(a - b)` is [a > b].
    """
    return difference.sign_().clamp_min_(0.0)


def _scales(magnitude: Tensor, keep: Tensor) -> Tensor:
    """alpha = mean of |w| over the kept entries of each row, 0 for a row that keeps none.
    Overwrites `magnitude`, a temporary of the caller's."""
    count = keep.sum(dim=1, keepdim=True).clamp_min_(1.0)
    return magnitude.mul_(keep).sum(dim=1, keepdim=True).div_(count)


# The functions below create their temporaries and then update them in place: quantization
# runs under no_grad on the hot paths, and fewer allocations make a visible difference to
# the step time of a small model on CPU. (Under autograd, PyTorch's version counters would
# raise rather than silently differentiate through an overwritten value.)

def _deterministic_rows(w: Tensor, threshold: float, per_channel: bool) -> tuple[Tensor, Tensor]:
    rows = _rows(w, per_channel)
    magnitude = rows.abs()
    delta = magnitude.mean(dim=1, keepdim=True).mul_(threshold)
    keep = _positive_(magnitude - delta)
    return rows.sign().mul_(keep), _scales(magnitude, keep)


def _stochastic_rows(w: Tensor, per_channel: bool) -> tuple[Tensor, Tensor]:
    rows = _rows(w, per_channel)
    magnitude = rows.abs()
    peak = magnitude.amax(dim=1, keepdim=True)
    # A row of zeros would divide 0 by 0; dividing by 1 instead gives it probability 0.
    peak = peak + (peak == 0).to(peak.dtype)
    keep = _positive_((magnitude / peak).sub_(torch.rand_like(rows)))  # P(keep) = |w| / peak
    return rows.sign().mul_(keep), _scales(magnitude, keep)


def _ternary_rows(w: Tensor, quantization: str, threshold: float, scaling: str,
                  stochastic_draw: bool) -> tuple[Tensor, Tensor]:
    per_channel = scaling == "per_channel"
    if quantization == "stochastic" and stochastic_draw:
        return _stochastic_rows(w, per_channel)
    return _deterministic_rows(w, threshold, per_channel)


def ternarize(w: Tensor, *, quantization: str = "deterministic", threshold: float = 0.7,
              scaling: str = "per_channel", stochastic_draw: bool = False
              ) -> tuple[Tensor, Tensor]:
    """Returns (t, alpha): t has w's shape and dtype with values in {-1, 0, 1}; alpha has
    shape [rows, 1] (rows = output channels, or 1 for per-layer scaling).

    A "stochastic" layer keeps each weight's sign with probability min(1, |w| / max|w|)
    when `stochastic_draw` is set (training), so E[t] = w / max|w|; otherwise, and for
    every other method, the deterministic threshold rule applies.
    """
    t_rows, alpha = _ternary_rows(w, quantization, threshold, scaling, stochastic_draw)
    return t_rows.reshape_as(w), alpha


def quantize_weight(w: Tensor, *, quantization: str = "deterministic", threshold: float = 0.7,
                    scaling: str = "per_channel", stochastic_draw: bool = False) -> Tensor:
    """w_q = alpha * t, the float weight a ternary layer computes with (no gradient trick;
    see `straight_through`). "none" returns w itself."""
    if quantization == "none":
        return w
    if quantization in INTEGER_WEIGHT_QMAX:
        codes, scale = integer_rows(w, INTEGER_WEIGHT_QMAX[quantization], scaling)
        return codes.mul_(scale).reshape_as(w)
    t_rows, alpha = _ternary_rows(w, quantization, threshold, scaling, stochastic_draw)
    return t_rows.mul_(alpha).reshape_as(w)


def integer_rows(w: Tensor, qmax: int, scaling: str = "per_channel") -> tuple[Tensor, Tensor]:
    """Symmetric integer quantization of a weight ("int8": qmax 127, "int4": qmax 7), as
    (codes [rows, n], scale [rows, 1]) in w's dtype:

        s = max|w| / qmax (per output channel, or over the layer)
        codes = clamp(round_half_to_even(w / s), -qmax, qmax)        w_q = s * codes

    computed in float32 with a true division, as the compiler's ONNX/TFLite lowering does,
    so both give the same codes. A row that is all zero gets s = 0 and codes 0."""
    rows = _rows(w, scaling == "per_channel")
    scale = rows.abs().amax(dim=1, keepdim=True).div_(float(qmax))
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = torch.round(rows / safe).clamp_(-qmax, qmax)
    return codes, scale


def straight_through(w: Tensor, w_q: Tensor, gradient_estimator: str = "ste") -> Tensor:
    """The value of `w_q` with the gradient of the identity ("ste"), or of the identity
    masked to |w| <= 1 ("clipped_ste").

    `w - w.detach()` is exactly zero with the identity as its gradient, so adding it keeps
    the forward value bit-identical to `w_q` (the form `w + (w_q - w).detach()` would round).
    """
    passthrough = w - w.detach()
    if gradient_estimator == "clipped_ste":
        # 1 where |w| <= 1: the complement of [|w| - 1 > 0]
        passthrough = passthrough * (1.0 - _positive_(w.detach().abs().sub_(1.0)))
    return w_q.detach() + passthrough


def ttq_masks(w: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """Trained ternary quantization's two masks (float, no gradient): w > delta and
    w < -delta, with delta = threshold * mean|w| over the whole layer."""
    w = w.detach()
    delta = threshold * w.abs().mean()
    return (w > delta).to(w.dtype), (w < -delta).to(w.dtype)


def ttq_weight(w: Tensor, positive: Tensor, negative: Tensor, threshold: float) -> Tensor:
    """w_q = positive * [w > delta] - negative * [w < -delta] (Zhu et al., "Trained Ternary
    Quantization"): the two scales are learned parameters, so the gradient reaches them
    here; no gradient reaches `w` (see `ttq_straight_through`)."""
    pos, neg = ttq_masks(w, threshold)
    return positive * pos - negative * neg


def ttq_straight_through(w: Tensor, positive: Tensor, negative: Tensor,
                         threshold: float) -> Tensor:
    """The value of `ttq_weight`, with TTQ's gradients normalized so that they hold at the
    learning rates our recipes use:

    - each scale gets the *mean* of the weight gradient over its mask (TTQ: the sum). The
      sum over a layer's hundreds of thousands of weights moved the scales by several times
      their size in one SGD step at lr 0.2 (they changed sign after the first step, and a
      ResNet-18 trained to 27.7% on CIFAR-10); the mean is the sum divided by a count, the
      same direction, and Adam, which TTQ was published with, is indifferent to the factor;
    - the latent weight gets the gradient scaled by positive / m where w > delta, by
      negative / m where w < -delta and by 1 in between, m being the mean of the two scales'
      magnitudes (TTQ: by the scale itself). TTQ's latent weights live in [-1, 1]; ours keep
      their initialization's size, where the raw scale (about mean|w|) would shrink every
      step of the latent weights by that factor against weight decay. The ratio keeps
      TTQ's asymmetry between the two sides.
    """
    pos, neg = ttq_masks(w, threshold)
    p_value, n_value = positive.detach(), negative.detach()
    # value exactly `positive` (the added term is 0), gradient divided by the mask's count
    p = p_value + (positive - p_value) / pos.sum().clamp_min(1.0)
    n = n_value + (negative - n_value) / neg.sum().clamp_min(1.0)
    w_q = p * pos - n * neg
    m = 0.5 * (p_value.abs() + n_value.abs())
    m = torch.where(m > 0, m, torch.ones_like(m))
    scale = (p_value / m) * pos + (n_value / m) * neg + (1.0 - pos - neg)
    return w_q + (w - w.detach()) * scale


def codes_and_scales(w: Tensor, *, threshold: float = 0.7, scaling: str = "per_channel"
                     ) -> tuple[Tensor, Tensor]:
    """The deterministic ternary form of a weight for export: int8 codes in {-1, 0, 1} of
    w's shape, and float32 scales of shape [out_channels] (a per-layer scale is repeated
    for every channel, so consumers need not care which scaling a layer used)."""
    with torch.no_grad():
        t, alpha = ternarize(w.detach(), threshold=threshold, scaling=scaling)
        scales = alpha.reshape(-1).to(torch.float32).expand(w.shape[0]).contiguous()
        return t.to(torch.int8), scales


def quantize_activation(x: Tensor, *, method: str = "ternary", clip_value: float = 1.0,
                        threshold: float = 0.5, with_gradient: bool = True) -> Tensor:
    """Activation quantization with a clipped straight-through gradient.

    "sign":    clip_value * (+1 if x >= 0 else -1)
    "ternary": clip_value * sign(x) * [|x| > threshold * clip_value]
    The backward pass is 1 where |x| <= clip_value and 0 outside, so saturated activations
    stop pulling their inputs. `with_gradient=False` returns the bare values (inference).
    """
    sign = x.sign()
    if method == "sign":
        q = (sign + (1.0 - sign.abs())) * clip_value  # sign(0) counts as +1
    else:
        q = sign * _positive_(x.abs() - threshold * clip_value) * clip_value
    if not with_gradient:
        return q
    inside = 1.0 - _positive_(x.detach().abs().sub_(clip_value))  # [|x| <= clip_value]
    return q.detach() + (x - x.detach()) * inside


def update_input_amax_(amax: Tensor, x: Tensor, momentum: float = INPUT_AMAX_MOMENTUM) -> None:
    """One training step of the running max|x| (in place, no gradient): the EMA of the
    batch maxima, the first batch (amax still 0) setting it outright."""
    with torch.no_grad():
        batch_max = x.detach().abs().amax().to(amax.dtype)
        ema = amax * (1.0 - momentum) + batch_max * momentum
        amax.copy_(torch.where(amax > 0, ema, batch_max))


def int8_scale(amax: Tensor) -> Tensor:
    """s = amax / 127 as a float32 scalar tensor: the value the packed file stores."""
    return amax.detach().to(torch.float32).clamp_min(MIN_INPUT_AMAX) / INT8_MAX


def fake_quantize_int8(x: Tensor, amax: Tensor, with_gradient: bool = True) -> Tensor:
    """x_hat = clamp(round_half_to_even(x / s), -127, 127) * s with s = int8_scale(amax); the
    gradient passes (identity) where |x| <= amax and is zero outside. `with_gradient=False`
    returns the bare values (inference)."""
    scale = int8_scale(amax).to(x.dtype)
    x_hat = torch.round(x.detach() / scale).clamp_(-INT8_MAX, INT8_MAX).mul_(scale)
    if not with_gradient:
        return x_hat
    inside = 1.0 - _positive_(x.detach().abs() - scale * INT8_MAX)  # [|x| <= 127 s]
    return x_hat + (x - x.detach()) * inside

"""Property tests of ternarization on random weights (hypothesis): the invariants every
consumer relies on, checked over shapes, scales and thresholds rather than a few examples.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from triton_dsl import quant

weights = st.builds(
    lambda rows, cols, seed, scale: torch.randn(
        rows, cols, generator=torch.Generator().manual_seed(seed)) * scale,
    rows=st.integers(1, 6), cols=st.integers(1, 9), seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([1e-3, 0.05, 1.0, 30.0]),
)
thresholds = st.floats(0.0, 1.0)
scalings = st.sampled_from(["per_channel", "per_layer"])


@settings(max_examples=40, deadline=None)
@given(w=weights, threshold=thresholds, scaling=scalings)
def test_codes_and_scales_describe_the_quantized_weight(w, threshold, scaling):
    codes, scales = quant.codes_and_scales(w, threshold=threshold, scaling=scaling)
    assert set(codes.unique().tolist()) <= {-1, 0, 1}
    assert torch.all(scales >= 0)
    w_q = quant.quantize_weight(w, threshold=threshold, scaling=scaling)
    torch.testing.assert_close(w_q, scales[:, None] * codes)
    # Codes keep the sign of the weight they replace.
    assert torch.all(codes * w.sign() >= 0)


@settings(max_examples=40, deadline=None)
@given(w=weights, threshold=thresholds, scaling=scalings)
def test_scale_is_the_mean_magnitude_of_the_kept_weights(w, threshold, scaling):
    t, alpha = quant.ternarize(w, threshold=threshold, scaling=scaling)
    groups = [(w[r], t[r], alpha[r, 0]) for r in range(w.shape[0])] if scaling == "per_channel" \
        else [(w, t, alpha[0, 0])]
    for values, codes, scale in groups:
        kept = codes != 0
        expected = values.abs()[kept].mean() if kept.any() else torch.tensor(0.0)
        torch.testing.assert_close(scale, expected)
        # Everything kept is larger than everything dropped.
        if kept.any() and (~kept).any():
            assert values.abs()[kept].min() > values.abs()[~kept].max()


@settings(max_examples=40, deadline=None)
@given(w=weights, threshold=thresholds, scaling=scalings)
def test_quantizing_twice_changes_nothing(w, threshold, scaling):
    # |w_q| is alpha on kept entries, so mean|w_q| * threshold < alpha keeps them all again.
    once = quant.quantize_weight(w, threshold=threshold, scaling=scaling)
    twice = quant.quantize_weight(once, threshold=threshold, scaling=scaling)
    torch.testing.assert_close(twice, once)

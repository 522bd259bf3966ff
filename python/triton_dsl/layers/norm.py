"""Normalization layers: `BatchNorm1d`, `BatchNorm2d` and `LayerNorm`.

Thin subclasses of the `torch.nn` classes whose signatures are exactly the language's
attributes (PyTorch's extra options such as `track_running_stats` keep their defaults).
State dict keys are PyTorch's, so checkpoints move between the two freely.

`eps` must be a positive finite number: PyTorch takes NaN or a negative value silently and
every output becomes NaN (or the square root of a negative variance) at the first batch.
"""

from __future__ import annotations

import math

from torch import nn

from triton_dsl.errors import UserError


def check_eps(eps: float, layer: str) -> float:
    """`eps` when it is a positive finite number, else a one-line UserError."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) \
            or eps <= 0:
        raise UserError(f"`{layer}` needs a positive finite `eps`, got {eps!r}")
    return float(eps)


class BatchNorm1d(nn.BatchNorm1d):
    """Batch normalization over [batch, features] or [batch, features, length]."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True) -> None:
        super().__init__(num_features, eps=check_eps(eps, "BatchNorm1d"), momentum=momentum,
                         affine=affine)


class BatchNorm2d(nn.BatchNorm2d):
    """Batch normalization over [batch, channels, height, width]."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True) -> None:
        super().__init__(num_features, eps=check_eps(eps, "BatchNorm2d"), momentum=momentum,
                         affine=affine)


class LayerNorm(nn.LayerNorm):
    """Normalization over the trailing `normalized_shape` dimensions of each sample."""

    def __init__(self, normalized_shape: int | list[int], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        super().__init__(normalized_shape, eps=check_eps(eps, "LayerNorm"),
                         elementwise_affine=elementwise_affine)

"""Normalization layers: `BatchNorm1d`, `BatchNorm2d` and `LayerNorm`.

Thin subclasses of the `torch.nn` classes whose signatures are exactly the language's
attributes (PyTorch's extra options such as `track_running_stats` keep their defaults).
State dict keys are PyTorch's, so checkpoints move between the two freely.
"""

from __future__ import annotations

from torch import nn


class BatchNorm1d(nn.BatchNorm1d):
    """Batch normalization over [batch, features] or [batch, features, length]."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine)


class BatchNorm2d(nn.BatchNorm2d):
    """Batch normalization over [batch, channels, height, width]."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine)


class LayerNorm(nn.LayerNorm):
    """Normalization over the trailing `normalized_shape` dimensions of each sample."""

    def __init__(self, normalized_shape: int | list[int], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        super().__init__(normalized_shape, eps=eps, elementwise_affine=elementwise_affine)

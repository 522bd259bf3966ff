"""Pooling layers: `MaxPool2d`, `AvgPool2d` and `AdaptiveAvgPool2d`.

The `torch.nn` classes with the language's signatures. A `stride` left out (None) equals
`kernel_size`, as in PyTorch; list-valued sizes become tuples so `repr` and TorchScript see
PyTorch's usual types.
"""

from __future__ import annotations

from torch import nn

from triton_dsl.layers.ternary import _size


class MaxPool2d(nn.MaxPool2d):
    """The maximum over each `kernel_size` window."""

    def __init__(self, kernel_size: int | list[int], stride: int | list[int] | None = None,
                 padding: int | list[int] = 0) -> None:
        super().__init__(_size(kernel_size), stride=None if stride is None else _size(stride),
                         padding=_size(padding))


class AvgPool2d(nn.AvgPool2d):
    """The mean over each `kernel_size` window (padding counts as zeros, as in PyTorch)."""

    def __init__(self, kernel_size: int | list[int], stride: int | list[int] | None = None,
                 padding: int | list[int] = 0) -> None:
        super().__init__(_size(kernel_size), stride=None if stride is None else _size(stride),
                         padding=_size(padding))


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """Averages into a fixed `output_size` grid whatever the input size; 1 is global pooling."""

    def __init__(self, output_size: int | list[int]) -> None:
        super().__init__(_size(output_size))

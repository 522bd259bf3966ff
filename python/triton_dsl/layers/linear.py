"""Float fully connected and convolution layers: `Linear` and `Conv2d`.

They are `nn.Linear` and `nn.Conv2d` with the language's attribute names and defaults as
their whole signature, so generated code that passes every attribute by keyword and a
schema test comparing signatures both see exactly the language's view. A file that wants
float layers (a first or last layer kept at full precision) uses these.
"""

from __future__ import annotations

from torch import nn

from triton_dsl.layers.ternary import _check_groups, _size


class Linear(nn.Linear):
    """y = x W^T + b, with float weights."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)


class Conv2d(nn.Conv2d):
    """A float 2-D convolution; `groups=in_channels` makes it depthwise."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | list[int],
                 stride: int | list[int] = 1, padding: int | list[int] = 0,
                 dilation: int | list[int] = 1, groups: int = 1, bias: bool = True) -> None:
        _check_groups(in_channels, out_channels, groups)
        super().__init__(in_channels, out_channels, _size(kernel_size), stride=_size(stride),
                         padding=_size(padding), dilation=_size(dilation), groups=groups,
                         bias=bias)

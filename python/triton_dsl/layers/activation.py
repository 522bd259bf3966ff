"""Activation layers: `ReLU`, `ReLU6`, `GELU`, `SiLU`, `Sigmoid`, `Tanh` and `Softmax`.

Each is the `torch.nn` class with the language's signature. None of them offers PyTorch's
`inplace` flag: an in-place activation can overwrite a tensor that a residual connection
or the straight-through estimator still needs, and the speed gain is small.
`Softmax` defaults to the last dimension, as the language says, where `nn.Softmax` has no
default and warns.
"""

from __future__ import annotations

from torch import nn


class ReLU(nn.ReLU):
    """max(x, 0)."""

    def __init__(self) -> None:
        super().__init__()


class ReLU6(nn.ReLU6):
    """min(max(x, 0), 6), the activation MobileNetV2 uses because it quantizes well."""

    def __init__(self) -> None:
        super().__init__()


class GELU(nn.GELU):
    """x * Phi(x); `approximate: "tanh"` uses the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__(approximate=approximate)


class SiLU(nn.SiLU):
    """x * sigmoid(x)."""

    def __init__(self) -> None:
        super().__init__()


class Sigmoid(nn.Sigmoid):
    """1 / (1 + exp(-x))."""

    def __init__(self) -> None:
        super().__init__()


class Tanh(nn.Tanh):
    """tanh(x)."""

    def __init__(self) -> None:
        super().__init__()


class Softmax(nn.Softmax):
    """exp(x) / sum(exp(x)) along `dim`."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim)

"""Every built-in layer of the Triton language, as a `torch.nn.Module` of the same name.

Generated code builds models from these (`L.TernaryLinear(in_features=..., ...)`); each
class's constructor takes exactly the language's attributes, by the same names and with the
same defaults (the contract in `docs/architecture.md`). `BUILTIN_LAYERS` maps each language
name to its class; the schema test checks it against the compiler's list.
"""

from __future__ import annotations

from torch import nn

from triton_dsl.layers.activation import GELU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Tanh
from triton_dsl.layers.attention import MultiHeadAttention
from triton_dsl.layers.containers import Dropout, Embedding, Flatten, Identity, Sequential
from triton_dsl.layers.linear import Conv2d, Linear
from triton_dsl.layers.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from triton_dsl.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from triton_dsl.layers.ternary import (
    TernaryActivation,
    TernaryConv1d,
    TernaryConv2d,
    TernaryLinear,
    TernaryWeightMixin,
)
from triton_dsl.layers.tracing import LayerTracer, symbolic_trace

BUILTIN_LAYERS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (
        TernaryLinear, TernaryConv2d, TernaryConv1d, TernaryActivation, Linear, Conv2d,
        BatchNorm1d, BatchNorm2d, LayerNorm, ReLU, ReLU6, GELU, SiLU, Sigmoid, Tanh, Softmax, Dropout,
        Identity, Flatten, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Embedding, Sequential,
        MultiHeadAttention,
    )
}


def is_leaf(module: nn.Module) -> bool:
    """Whether a tracer should keep `module` as one opaque call: every built-in layer except
    `Sequential`, whose children are layers in their own right."""
    return isinstance(module, tuple(BUILTIN_LAYERS.values())) and not isinstance(
        module, nn.Sequential)


def ternary_layers(model: nn.Module) -> list[tuple[str, TernaryWeightMixin]]:
    """(qualified name, layer) for every layer of `model` whose weight is ternary codes with
    one scale per channel (not TTQ's two scales), in registration order: what the packed
    exporter and the size report iterate over."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, TernaryWeightMixin) and m.has_codes]


__all__ = [  # noqa: RUF022 (the built-ins first, in the contract's order)
    "TernaryLinear", "TernaryConv2d", "TernaryConv1d", "TernaryActivation", "Linear", "Conv2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "ReLU", "ReLU6", "GELU", "SiLU", "Sigmoid", "Tanh",
    "Softmax", "Dropout", "Identity", "Flatten", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "Embedding", "Sequential", "MultiHeadAttention",
    "BUILTIN_LAYERS", "LayerTracer", "TernaryWeightMixin", "is_leaf", "symbolic_trace",
    "ternary_layers",
]

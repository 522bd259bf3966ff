"""The language's built-in functions, callable from any `forward` without declaring a layer.

Generated code calls these as `F.relu(x)`, `F.flatten(x, start_dim=1)`, with the language's
argument names. Most are one-line wrappers over `torch`: the point of the module is a fixed
vocabulary with the language's names and defaults (`softmax` defaults to the last dimension,
`repeat` tiles along the first), not new arithmetic. Names that are Python builtins also
exist with a trailing underscore (`sum_`, `max_`, ...), the spelling the compiler's schema
records for them.

Every function is built from tensor operations only, with no Python branching on tensor
values or shapes, so a model's forward traces with `torch.fx` (the packed exporter),
`torch.jit.trace` and `torch.onnx.export`. `dropout` takes the module's training flag
explicitly (`training=self.training` in generated code), because a function has no mode.
`BUILTIN_FUNCTIONS` maps every language name to its function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as torch_f

from triton_dsl import quant
from triton_dsl.fusion import fused  # noqa: F401  (generated code's `F.fused`, -O2)

Dims = int | Sequence[int]


def _dims(first: Any, more: tuple[Any, ...]) -> Any:
    """Accepts both `reshape(x, [2, 3])` and `reshape(x, 2, 3)`."""
    return (first, *more) if more else first


def _dim_arg(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


# --- activations -------------------------------------------------------------------------

def relu(x: Tensor) -> Tensor:
    return torch.relu(x)


def relu6(x: Tensor) -> Tensor:
    return torch_f.relu6(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return torch_f.leaky_relu(x, negative_slope)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return torch_f.gelu(x, approximate=approximate)


def silu(x: Tensor) -> Tensor:
    return torch_f.silu(x)


def hardswish(x: Tensor) -> Tensor:
    return torch_f.hardswish(x)


def sigmoid(x: Tensor) -> Tensor:
    return torch.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return torch.tanh(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return torch.softmax(x, dim=dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return torch.log_softmax(x, dim=dim)


# --- shape -------------------------------------------------------------------------------

def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return torch.flatten(x, start_dim, end_dim)


def reshape(x: Tensor, shape: Dims, *more: int) -> Tensor:
    return x.reshape(_dims(shape, more))


def permute(x: Tensor, dims: Dims, *more: int) -> Tensor:
    return x.permute(_dims(dims, more))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    return x.transpose(dim0, dim1)


def squeeze(x: Tensor, dim: Dims | None = None) -> Tensor:
    return x.squeeze() if dim is None else x.squeeze(_dim_arg(dim))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    return x.unsqueeze(dim)


def concatenate(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return torch.cat(list(tensors), dim=dim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return torch.stack(list(tensors), dim=dim)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return torch.chunk(x, chunks, dim=dim)


def split(x: Tensor, split_size: int | list[int], dim: int = 0) -> tuple[Tensor, ...]:
    return torch.split(x, split_size, dim=dim)


def repeat(t: Tensor, n: int) -> Tensor:
    """Tiles `t` n times along its first dimension: [1, 1, d] -> [n, 1, d], and
    [2, d] -> [2n, d] as t, t, ..., t. `torch.tile` tiles the trailing dimension for a
    short `dims`, so the first dimension is moved last and back; this needs no knowledge
    of t's rank, which keeps the function traceable when `n` is a traced batch size."""
    return torch.tile(t.movedim(0, -1), (n,)).movedim(-1, 0)


def expand(t: Tensor, sizes: Dims, *more: int) -> Tensor:
    """With one int, `repeat` (the language's older meaning); with several sizes or a list,
    PyTorch's `expand`: size-1 dimensions broadcast, -1 keeps a dimension."""
    if isinstance(sizes, int) and not more:
        return repeat(t, sizes)
    return t.expand(_dims(sizes, more))


# --- arithmetic --------------------------------------------------------------------------

def add(a: Tensor, b: Tensor | float) -> Tensor:
    return torch.add(a, b)


def subtract(a: Tensor, b: Tensor | float) -> Tensor:
    return torch.sub(a, b)


def multiply(a: Tensor, b: Tensor | float) -> Tensor:
    return torch.mul(a, b)


def divide(a: Tensor, b: Tensor | float) -> Tensor:
    return torch.div(a, b)


def floor_div(a: Tensor, b: Tensor | float) -> Tensor:
    """Division rounded toward minus infinity (the language's `//` is a comment)."""
    return torch.div(a, b, rounding_mode="floor")


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return torch.matmul(a, b)


def sqrt(x: Tensor) -> Tensor:
    return torch.sqrt(x)


def exp(x: Tensor) -> Tensor:
    return torch.exp(x)


def log(x: Tensor) -> Tensor:
    return torch.log(x)


def abs_(x: Tensor) -> Tensor:
    return torch.abs(x)


def pow_(x: Tensor, exponent: Tensor | float) -> Tensor:
    return torch.pow(x, exponent)


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    return torch.clamp(x, min=min, max=max)


def maximum(a: Tensor, b: Tensor) -> Tensor:
    return torch.maximum(a, b)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    return torch.minimum(a, b)


def where(condition: Tensor, a: Tensor | float, b: Tensor | float) -> Tensor:
    return torch.where(condition, a, b)


# --- reductions --------------------------------------------------------------------------

def mean(x: Tensor, dim: Dims | None = None, keepdim: bool = False) -> Tensor:
    return x.mean() if dim is None else x.mean(dim=_dim_arg(dim), keepdim=keepdim)


def sum_(x: Tensor, dim: Dims | None = None, keepdim: bool = False) -> Tensor:
    return x.sum() if dim is None else x.sum(dim=_dim_arg(dim), keepdim=keepdim)


def max_(x: Tensor, dim: Dims | None = None, keepdim: bool = False) -> Tensor:
    """The largest value (along `dim`); values only, like `amax`."""
    return x.amax() if dim is None else x.amax(dim=_dim_arg(dim), keepdim=keepdim)


def min_(x: Tensor, dim: Dims | None = None, keepdim: bool = False) -> Tensor:
    return x.amin() if dim is None else x.amin(dim=_dim_arg(dim), keepdim=keepdim)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return torch.argmax(x, dim=dim, keepdim=keepdim)


# --- layers as functions -----------------------------------------------------------------

def adaptive_avg_pool2d(x: Tensor, output_size: Dims) -> Tensor:
    return torch_f.adaptive_avg_pool2d(x, _dim_arg(output_size))


def avg_pool2d(x: Tensor, kernel_size: Dims, stride: Dims | None = None,
               padding: Dims = 0) -> Tensor:
    return torch_f.avg_pool2d(x, _dim_arg(kernel_size), _dim_arg(stride), _dim_arg(padding))


def max_pool2d(x: Tensor, kernel_size: Dims, stride: Dims | None = None,
               padding: Dims = 0) -> Tensor:
    return torch_f.max_pool2d(x, _dim_arg(kernel_size), _dim_arg(stride), _dim_arg(padding))


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zeroes elements with probability p and rescales the rest, only when `training`."""
    return torch_f.dropout(x, p=p, training=training)


def layer_norm(x: Tensor, normalized_shape: Dims, eps: float = 1e-5, *,
               weight: Tensor | None = None, bias: Tensor | None = None) -> Tensor:
    """Normalizes over the trailing `normalized_shape` dimensions; `weight` and `bias`
    (keyword only, so a positional `eps` stays `eps`) apply a learned affine map."""
    from triton_dsl.layers.norm import check_eps

    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    return torch_f.layer_norm(x, shape, weight, bias, check_eps(eps, "layer_norm"))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    return torch_f.linear(x, weight, bias)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Dims = 1,
           padding: Dims = 0, dilation: Dims = 1, groups: int = 1) -> Tensor:
    return torch_f.conv2d(x, weight, bias, _dim_arg(stride), _dim_arg(padding),
                          _dim_arg(dilation), groups)


def ternarize(w: Tensor, threshold: float = 0.7, scaling: str = "per_channel",
              gradient_estimator: str = "ste") -> Tensor:
    """alpha * t for a user-declared `param` weight, with straight-through gradients, so
    a custom `layer` can be ternary like the built-in ones (deterministic rule)."""
    w_q = quant.quantize_weight(w.detach(), threshold=threshold, scaling=scaling)
    return quant.straight_through(w, w_q, gradient_estimator)


def sign(x: Tensor) -> Tensor:
    return torch.sign(x)


def round_(x: Tensor) -> Tensor:
    return torch.round(x)


def stop_gradient(x: Tensor) -> Tensor:
    return x.detach()


# Aliases: the language accepts both spellings.
cat = concatenate
sum = sum_
max = max_
min = min_
abs = abs_
pow = pow_
round = round_

BUILTIN_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: globals()[name]
    for name in (
        "relu", "relu6", "leaky_relu", "gelu", "silu", "hardswish", "sigmoid", "tanh",
        "softmax", "log_softmax", "flatten", "reshape", "permute", "transpose", "squeeze",
        "unsqueeze", "concatenate", "cat", "stack", "chunk", "split", "repeat", "expand",
        "add", "subtract", "multiply", "divide", "floor_div", "matmul", "sqrt", "exp", "log",
        "abs", "pow", "clamp", "maximum", "minimum", "where", "mean", "sum", "max", "min",
        "argmax", "adaptive_avg_pool2d", "avg_pool2d", "max_pool2d", "dropout", "layer_norm",
        "linear", "conv2d", "ternarize", "sign", "round", "stop_gradient",
    )
}

"""The packed exporter's lowering of layers: one registry from layer class to lowering.

`lowering_for(module)` looks the module's class (then its base classes, in method
resolution order) up in `LOWERINGS`, so `triton_dsl.layers.TernaryConv2d` lowers as the
`nn.Conv2d` it derives from and a layer with no entry (a 3-d convolution, a user's own
module) is an `ExportError` naming its class and its path in the model, never a guess
from attribute names. Each lowering receives the builder (`packed.py`'s `_Builder`), the
fx node and the module, and emits ops; batch norm is emitted unfolded (`channel_affine`) and
activations unfused (`activation`): `packed_passes.py` folds and fuses them afterwards.

To lower a new layer: write a function here and register its class with `@lowers(...)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import fx, nn

from triton_dsl import layers as L
from triton_dsl.export.packed_format import ABSENT, ExportError, Op

Lowering = Callable[["_Builder", fx.Node, nn.Module], None]  # noqa: F821 (packed._Builder)

LOWERINGS: dict[type, Lowering] = {}


def lowers(*classes: type):
    """Registers the decorated function as the lowering of `classes` (and subclasses)."""
    def register(fn: Lowering) -> Lowering:
        for cls in classes:
            LOWERINGS[cls] = fn
        return fn
    return register


def lowering_for(module: nn.Module, path: str) -> Lowering:
    for cls in type(module).__mro__:
        if cls in LOWERINGS:
            return LOWERINGS[cls]
    cls = type(module)
    raise ExportError(f"layer `{path}` of type {cls.__module__}.{cls.__qualname__} cannot be "
                      "exported to the packed format (no lowering is registered for it in "
                      "triton_dsl.export.packed_layers)")


def pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).cpu().numpy()


def is_ternary(module: nn.Module) -> bool:
    """A layer whose weight is exported packed: a ternary layer that is not a
    `quantization: "none"` (float) instance, nor TTQ (two scales per layer) nor an
    integer-weight ("int8"/"int4") one: those export `float_weight`."""
    return callable(getattr(module, "ternary_weight", None)) and \
        bool(getattr(module, "has_codes", getattr(module, "is_ternary", True)))


def input_scale(module: nn.Module) -> list[float]:
    """The op's floats: [s] for a layer with 8-bit activations (its input scale, float32
    amax / 127), none otherwise."""
    scale_of = getattr(module, "input_scale", None)
    scale = scale_of() if callable(scale_of) else None
    return [] if scale is None else [scale]


def float_weight(module: nn.Module) -> np.ndarray:
    """The float32 weight a layer without packed codes computes with: `quantized_weight()`
    where it has one (TTQ, integer weights; the weight itself for "none"), else `weight`."""
    quantized = getattr(module, "quantized_weight", None)
    return as_numpy(quantized() if callable(quantized) else module.weight)


def weight_tensor(b, module: nn.Module) -> int:
    """The packed ternary weight of a ternary layer, else its float weight."""
    if not is_ternary(module):
        return b.graph.add_float(float_weight(module))
    codes, scales = module.ternary_weight()
    codes = torch.as_tensor(codes).detach().to(torch.int8).cpu().numpy()
    scales = np.broadcast_to(as_numpy(torch.as_tensor(scales)).reshape(-1), (codes.shape[0],))
    b.ternary_weights += codes.size
    return b.graph.add_ternary(codes.reshape(codes.shape[0], -1), scales, b.bits)


def bias_tensor(b, module: nn.Module) -> int:
    bias = getattr(module, "bias", None)
    return ABSENT if bias is None else b.graph.add_float(as_numpy(bias))


@lowers(nn.Linear)
def linear(b, node: fx.Node, m: nn.Module) -> None:
    weight = weight_tensor(b, m)
    b.op(node, "linear", [node.args[0]], floats=input_scale(m),
         tensors=[weight, bias_tensor(b, m)])


@lowers(nn.Conv2d)
def conv2d(b, node: fx.Node, m: nn.Conv2d) -> None:
    if m.padding_mode != "zeros":
        raise ExportError(f"conv padding_mode `{m.padding_mode}` is not supported")
    if isinstance(m.padding, str):
        raise ExportError("string padding is not supported; give the padding in pixels")
    weight = weight_tensor(b, m)
    kh, kw = pair(m.kernel_size)
    sh, sw = pair(m.stride)
    ph, pw = pair(m.padding)
    dh, dw = pair(m.dilation)
    b.op(node, "conv2d", [node.args[0]], ints=[kh, kw, sh, sw, ph, pw, dh, dw, int(m.groups)],
         floats=input_scale(m), tensors=[weight, bias_tensor(b, m)])


@lowers(nn.Conv1d)
def conv1d(b, node: fx.Node, m: nn.Conv1d) -> None:
    """A 1-d convolution is the engine's conv2d over an image of height 1: [N, C, L] is
    reshaped to [N, C, 1, L], convolved with a 1 x k kernel (stride (1, s), padding (0, p),
    dilation (1, d)) and reshaped back, so it needs no op of its own. The weight
    [O, C/groups, k] is the 2-d one [O, C/groups, 1, k] in the same order; the passes fold a
    following batch norm and fuse an activation through the second reshape."""
    if m.padding_mode != "zeros":
        raise ExportError(f"conv padding_mode `{m.padding_mode}` is not supported")
    if isinstance(m.padding, str):
        raise ExportError("string padding is not supported; give the padding in samples")
    x = node.args[0]
    if len(b.shape(x)) != 3:
        raise ExportError(f"1-d convolution `{node.target}` needs a [batch, channels, length] "
                          f"input, got shape {list(b.shape(x))}")
    batch, channels, length = b.shape(x)
    out_batch, out_channels, out_length = b.shape(node)
    if is_ternary(m):
        weight = weight_tensor(b, m)
    else:
        weight = b.graph.add_float(float_weight(m)[:, :, None, :])
    (k,), (s,), (p,), (d,) = m.kernel_size, m.stride, m.padding, m.dilation
    image = b.graph.add_value((batch, channels, 1, length))
    b.emit(Op("reshape", [b.val(x)], image, ints=[0, 0, 1, -1]))
    rows = b.graph.add_value((out_batch, out_channels, 1, out_length))
    b.emit(Op("conv2d", [image], rows, ints=[1, int(k), 1, int(s), 0, int(p), 1, int(d),
                                              int(m.groups)],
              floats=input_scale(m), tensors=[weight, bias_tensor(b, m)]))
    b.emit(Op("reshape", [rows], b.new_value(node), ints=[0, 0, -1]))


@lowers(L.MultiHeadAttention)
def attention(b, node: fx.Node, m: nn.Module) -> None:
    """`triton_dsl.layers.MultiHeadAttention` (an fx leaf), lowered to primitive ops."""
    x = node.args[0]
    batch, n, e = b.shape(x)
    h, d = m.num_heads, m.head_dim

    def value(kind: str, src: list[int], shape, **kw) -> int:
        out = b.graph.add_value(tuple(shape))
        b.emit(Op(kind, src, out, **kw))
        return out

    qkv_weight = weight_tensor(b, m.qkv)
    qkv = value("linear", [b.val(x)], (batch, n, 3 * e), floats=input_scale(m.qkv),
                tensors=[qkv_weight, bias_tensor(b, m.qkv)])
    heads = value("reshape", [qkv], (batch, n, 3, h, d), ints=[0, 0, 3, h, d])
    heads = value("permute", [heads], (3, batch, h, n, d), ints=[2, 0, 3, 1, 4])
    parts = []
    for i in range(3):
        part = value("slice", [heads], (1, batch, h, n, d), ints=[0, i, i + 1, 1])
        parts.append(value("reshape", [part], (batch, h, n, d), ints=[-1, h, n, d]))
    attended = b.graph.add_value((batch, h, n, d))
    b.emit_attention(parts[0], parts[1], parts[2], (batch, h, n, d), (batch, h, n, d),
                     1.0 / math.sqrt(d), attended)
    merged = value("permute", [attended], (batch, n, h, d), ints=[0, 2, 1, 3])
    merged = value("reshape", [merged], (batch, n, e), ints=[0, 0, e])
    out = b.graph.add_value(b.shape(node))
    proj_weight = weight_tensor(b, m.proj)
    b.emit(Op("linear", [merged], out, floats=input_scale(m.proj),
              tensors=[proj_weight, bias_tensor(b, m.proj)]))
    b.value_of[node] = out
    b.creator[out] = node


@lowers(L.TernaryActivation)
def ternary_activation(b, node: fx.Node, m: nn.Module) -> None:
    method = str(getattr(m, "method", "ternary"))
    b.op(node, "ternary_activation", [node.args[0]], ints=[0 if method == "sign" else 1],
         floats=[float(m.clip_value), float(m.threshold)])


@lowers(nn.BatchNorm1d, nn.BatchNorm2d)
def batch_norm(b, node: fx.Node, m: nn.Module) -> None:
    """Per-channel `y = x * inv + offset`; `packed_passes.fold_batch_norm` folds it into the
    layer before it where it can."""
    if m.running_mean is None:
        raise ExportError(f"batch norm `{node.target}` has no running statistics")
    inv, offset = batch_norm_affine(m)
    b.op(node, "channel_affine", [node.args[0]],
         tensors=[b.graph.add_float(inv), b.graph.add_float(offset)])


def batch_norm_affine(m: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The eval-mode batch norm as a per-channel scale and shift (float32)."""
    scale = as_numpy(m.weight) if m.weight is not None else np.ones(m.num_features, np.float32)
    shift = as_numpy(m.bias) if m.bias is not None else np.zeros(m.num_features, np.float32)
    inv = scale / np.sqrt(as_numpy(m.running_var) + m.eps)
    return inv, shift - as_numpy(m.running_mean) * inv


_ACTIVATIONS = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.SiLU: "silu", nn.Sigmoid: "sigmoid",
                nn.Tanh: "tanh"}


@lowers(*_ACTIVATIONS)
def activation(b, node: fx.Node, m: nn.Module) -> None:
    name = next(v for k, v in _ACTIVATIONS.items() if isinstance(m, k))
    b.activation(node, node.args[0], name)


@lowers(nn.GELU)
def gelu(b, node: fx.Node, m: nn.GELU) -> None:
    b.activation(node, node.args[0], "gelu_tanh" if m.approximate == "tanh" else "gelu")


@lowers(nn.Dropout, nn.Identity)
def identity(b, node: fx.Node, m: nn.Module) -> None:
    b.alias(node, node.args[0])


@lowers(nn.Flatten)
def flatten(b, node: fx.Node, m: nn.Module) -> None:
    b.reshape(node, node.args[0])


@lowers(nn.MaxPool2d, nn.AvgPool2d)
def pool(b, node: fx.Node, m: nn.Module) -> None:
    b.pool(node, node.args[0], m.kernel_size, m.stride, m.padding, isinstance(m, nn.MaxPool2d),
           getattr(m, "count_include_pad", True), getattr(m, "ceil_mode", False),
           getattr(m, "dilation", 1))


@lowers(nn.AdaptiveAvgPool2d)
def adaptive_avg_pool2d(b, node: fx.Node, m: nn.Module) -> None:
    b.op(node, "adaptive_avg_pool2d", [node.args[0]], ints=list(b.shape(node)[-2:]))


@lowers(nn.LayerNorm)
def layer_norm(b, node: fx.Node, m: nn.LayerNorm) -> None:
    b.layer_norm(node, node.args[0], m.normalized_shape, m.weight, m.bias, m.eps)


@lowers(nn.Softmax)
def softmax(b, node: fx.Node, m: nn.Softmax) -> None:
    b.op(node, "softmax", [node.args[0]], ints=[b.dim(node, m.dim if m.dim is not None else -1)])


@lowers(nn.Embedding)
def embedding(b, node: fx.Node, m: nn.Embedding) -> None:
    b.op(node, "embedding", [node.args[0]], tensors=[b.graph.add_float(as_numpy(m.weight))])

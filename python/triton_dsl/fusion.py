"""`F.fused`: a layer with its batch norm and activation as one step, what `-O2` emits.

The compiler's passes `batch-norm-folding` and `activation-fusion` turn
`relu(bn(conv(x)))` into `F.fused(self.conv, x, norm=self.bn, activation="relu")`. The
modules stay as they were, so a checkpoint loads into a program compiled at any level.

- Training, tracing (`torch.fx`, `torch.jit.trace`, `torch.compile`) or any call with
  gradients enabled runs exactly the unfused chain `activation(norm(layer(x)))`: batch
  statistics are used and updated, and exporters see the three steps they know.
- Evaluation without gradients (`torch.no_grad()` / `torch.inference_mode()`, which the
  generated program's `--eval` uses) folds the norm's running statistics into the layer:
  inv = gamma / sqrt(running_var + eps) scales the output rows of the layer's evaluation
  weight (alpha * t for a ternary layer) and the bias becomes bias * inv + beta -
  running_mean * inv. One convolution replaces a convolution and a pass of the norm over
  its output; the activation runs in place. The folded weight is cached on the norm and
  rebuilt when the layer's weight or any of the norm's tensors changes. Results equal the
  unfused chain to float rounding.
- Inside `with unfused():` evaluation runs the unfused chain too, so hooks on the layer and
  the norm see every call (calibration watches layer inputs and outputs with hooks; the
  folded path calls neither module).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as torch_f

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch_f.relu,
    "relu6": torch_f.relu6,
    "silu": torch_f.silu,
    "gelu": torch_f.gelu,
}
_IN_PLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu_,
    "relu6": lambda y: torch_f.hardtanh_(y, 0.0, 6.0),
    "silu": lambda y: torch_f.silu(y, inplace=True),
    "gelu": torch_f.gelu,
}
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_unfused = threading.local()  # .depth > 0 inside `unfused()` (per thread)


@contextlib.contextmanager
def unfused() -> Iterator[None]:
    """Within this context (on this thread) `fused` runs the unfused chain, so forward hooks
    registered on the layer and the norm fire as in an -O0 program."""
    _unfused.depth = getattr(_unfused, "depth", 0) + 1
    try:
        yield
    finally:
        _unfused.depth -= 1


def _tracing(x: Any) -> bool:
    return (isinstance(x, torch.fx.Proxy) or torch.jit.is_tracing()
            or torch.compiler.is_compiling())


def fused(layer: nn.Module, x: Tensor, norm: nn.Module | None = None,
          activation: str | None = None) -> Tensor:
    """`activation(norm(layer(x)))`, with the norm folded into the layer in evaluation
    (see the module docstring). `layer` is a convolution or linear layer, `norm` a batch
    norm over its output channels, `activation` one of relu, relu6, silu, gelu."""
    if activation is not None and activation not in _ACTIVATIONS:
        raise ValueError(f"fused: unknown activation {activation!r}; expected one of "
                         f"{', '.join(_ACTIVATIONS)}")
    if (norm is None or layer.training or norm.training or torch.is_grad_enabled()
            or getattr(_unfused, "depth", 0) > 0 or _tracing(x) or not isinstance(norm, _NORMS) or not norm.track_running_stats):
        y = layer(x)
        if norm is not None:
            y = norm(y)
        return y if activation is None else _ACTIVATIONS[activation](y)
    weight, bias = _folded(layer, norm)
    quantize_input = getattr(layer, "_quantize_input", None)
    if quantize_input is not None:
        x = quantize_input(x)
    if isinstance(layer, nn.Linear):
        y = torch_f.linear(x, weight, bias)
    else:
        y = layer._conv_forward(x, weight, bias)
    return y if activation is None else _IN_PLACE[activation](y)


def _eval_weight(layer: nn.Module) -> Tensor:
    forward_weight = getattr(layer, "_forward_weight", None)  # ternary layers: alpha * t
    return forward_weight() if forward_weight is not None else layer.weight


def _state(t: Tensor | None) -> tuple[Any, ...] | None:
    """What identifies a tensor's contents for the fold cache: its version counter, or for
    an inference tensor (made under `torch.inference_mode()`, such as a ternary layer's
    cached evaluation weight, which the cache also holds by identity) none."""
    if t is None:
        return None
    version = None if t.is_inference() else t._version
    return (version, t.data_ptr(), t.dtype)


def _folded(layer: nn.Module, norm: nn.Module) -> tuple[Tensor, Tensor]:
    weight = _eval_weight(layer)
    tensors = [weight, norm.running_mean, norm.running_var, layer.bias, norm.weight, norm.bias]
    key = tuple(_state(t) for t in tensors)
    key += (norm.eps, weight.device)
    cache = getattr(norm, "_fold_cache", None)
    if cache is not None and cache[0] == key and cache[1] is weight:
        return cache[2], cache[3]
    inv = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        inv = inv * norm.weight
    shift = -norm.running_mean * inv
    if norm.bias is not None:
        shift = shift + norm.bias
    folded_weight = weight * inv.reshape(-1, *([1] * (weight.dim() - 1)))
    folded_bias = shift if layer.bias is None else layer.bias * inv + shift
    norm._fold_cache = (key, weight, folded_weight, folded_bias)
    return folded_weight, folded_bias

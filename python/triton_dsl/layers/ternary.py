"""The ternary layers: `TernaryLinear`, `TernaryConv1d`, `TernaryConv2d` and
`TernaryActivation`.

`TernaryLinear`, `TernaryConv1d` and `TernaryConv2d` subclass `nn.Linear`, `nn.Conv1d` and
`nn.Conv2d`: they keep the latent float weight as `weight` (and `bias`), initialize it the
PyTorch way (Kaiming uniform), and so load plain float checkpoints unchanged. Only the forward differs: it computes with
`alpha * t` (see `triton_dsl.quant`), and gradients reach the latent weight through a
straight-through estimator.

Evaluation is the hot path for export and benchmarks, so in eval mode with no gradient
needed the quantized weight is computed once and cached. A cached weight is dropped when
anything may have changed the latent weight:
- the weight's version counter moves (every in-place update through the parameter itself:
  `optimizer.step()` with PyTorch's default kernels, `load_state_dict`, `reset_parameters`),
  or the parameter object, its storage, device or dtype, or the quantization settings change;
- any optimizer steps (a global step hook counts them): fused optimizers (`fused=True`)
  write parameters without bumping their version counters;
- a forward pass that needs gradients runs (training is under way), or the mode is set with
  `train()`/`eval()`.
Writing through `param.data` bypasses the version counter too; after such a write in eval
mode, call `model.eval()` again (or `clear_cache()`) before evaluating.

With `activation_bits=8` a layer also fake-quantizes its input to symmetric per-tensor int8
(`triton_dsl.quant.fake_quantize_int8`): the buffer `input_amax` (in the state_dict, so
checkpoints and resumed runs keep it) follows max|x| as an EMA while training, and
evaluation uses the stored value. Layers with the default 32 have no such buffer, so their
state_dict keys are unchanged.

An eval-mode `torch.jit.trace` (which
`torch.onnx.export` and the TorchScript export use) records the quantized weight as a
constant; `torch.fx`, `torch.compile` and training-mode traces write the quantization into
the graph instead, so the traced module still follows its parameters.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from triton_dsl import quant
from triton_dsl.errors import UserError

# Incremented after every optimizer step anywhere, and part of the eval cache's key.
_optimizer_steps = 0


def _count_optimizer_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    global _optimizer_steps
    _optimizer_steps += 1


_STEP_HOOK = register_optimizer_step_post_hook(_count_optimizer_step)


def _is_tracing(w: Any) -> bool:
    return (isinstance(w, torch.fx.Proxy) or torch.jit.is_tracing()
            or torch.compiler.is_compiling())


class TernaryWeightMixin:
    """The quantization behaviour shared by every layer whose `weight` is ternarized.

    The host class is an `nn.Module` with a `weight` parameter whose dim 0 is the output
    channel; it calls `_init_quantization` from its `__init__`.
    """

    weight: Tensor
    training: bool

    def _init_quantization(self, quantization: str, threshold: float, scaling: str,
                           gradient_estimator: str) -> None:
        self.quantization = quant.check_quantization(quantization)
        self.threshold = quant.check_threshold(threshold)
        self.scaling = quant.check_scaling(scaling)
        self.gradient_estimator = quant.check_gradient_estimator(gradient_estimator)
        self._eval_cache: tuple[tuple[Any, ...], weakref.ref, Tensor] | None = None
        if self.quantization == "ttq":
            # Trained ternary quantization: one learned scale for the positive weights and
            # one for the negative, both starting at the layer's TWN scale.
            with torch.no_grad():
                _, alpha = quant.ternarize(self.weight.detach(), threshold=self.threshold,
                                           scaling="per_layer")
            start = float(alpha.reshape(-1)[0])
            self.ttq_positive = nn.Parameter(torch.tensor(start, dtype=self.weight.dtype))
            self.ttq_negative = nn.Parameter(torch.tensor(start, dtype=self.weight.dtype))

    @property
    def is_ternary(self) -> bool:
        """False for `quantization: "none"`, a float layer with the same parameters."""
        return self.quantization != "none"

    @property
    def has_codes(self) -> bool:
        """Whether the weight is ternary codes times one scale per channel
        (`ternary_weight()`), what the packed and ONNX exports store as 2-bit codes: every
        ternary layer but TTQ, whose two scales per layer export as its float weight, and
        the integer quantizers ("int8", "int4"; see `integer_weight()`)."""
        return self.is_ternary and self.quantization not in ("ttq", *quant.INTEGER_WEIGHT_QMAX)

    @property
    def integer_bits(self) -> int | None:
        """8 or 4 for a layer with integer weights ("int8", "int4"), None otherwise."""
        return {"int8": 8, "int4": 4}.get(self.quantization)

    def integer_weight(self) -> tuple[Tensor, Tensor]:
        """(codes, scales) of an "int8"/"int4" layer: int8 codes in [-qmax, qmax] of the
        weight's shape and float32 scales of shape [out_channels], with `quantized_weight()`
        equal to `scales[c] * codes[c]` (`triton_dsl.quant.integer_rows`)."""
        if self.integer_bits is None:
            raise ValueError(f"{type(self).__name__} with quantization {self.quantization!r} "
                             "has no integer weights")
        with torch.no_grad():
            w = self.weight.detach()
            codes, scale = quant.integer_rows(w, quant.INTEGER_WEIGHT_QMAX[self.quantization],
                                              self.scaling)
            scales = scale.reshape(-1).to(torch.float32).expand(w.shape[0]).contiguous()
            return codes.reshape_as(w).to(torch.int8), scales

    def _init_activation_bits(self, activation_bits: int) -> None:
        self.activation_bits = quant.check_activation_bits(activation_bits)
        if self.activation_bits == 8:
            self.register_buffer("input_amax", torch.zeros((), dtype=torch.float32))

    def _quantize_input(self, x: Tensor) -> Tensor:
        """The input the layer multiplies: x itself, or its int8 fake quantization."""
        if self.activation_bits == 32:
            return x
        amax = self.input_amax
        if self.training:
            quant.update_input_amax_(amax, x)
        if _is_tracing(x):
            with_gradient = self.training
        else:
            with_gradient = torch.is_grad_enabled() and x.requires_grad
        return quant.fake_quantize_int8(x, amax, with_gradient=with_gradient)

    def set_input_amax(self, amax: float) -> None:
        """Switches the layer to 8-bit activations with the given input range (post-training
        calibration, `triton_dsl.export.calibration`); a layer already at 8 bits keeps its
        buffer and takes the new value."""
        amax = float(amax)
        if not math.isfinite(amax) or amax < 0.0:
            raise ValueError(f"input amax must be finite and non-negative, got {amax}")
        value = torch.tensor(amax, dtype=torch.float32, device=self.weight.device)
        if self.activation_bits == 8:
            with torch.no_grad():
                self.input_amax.copy_(value)
            return
        self.activation_bits = 8
        self.register_buffer("input_amax", value)

    def input_scale(self) -> float | None:
        """The float32 input scale s = amax / 127 of an 8-bit layer (what the packed file
        stores), None for float activations."""
        if self.activation_bits == 32:
            return None
        return float(quant.int8_scale(self.input_amax).cpu())

    def _quantize(self, w: Tensor, stochastic_draw: bool) -> Tensor:
        if self.quantization == "ttq":
            return quant.ttq_weight(w, self.ttq_positive, self.ttq_negative, self.threshold)
        return quant.quantize_weight(w, quantization=self.quantization,
                                     threshold=self.threshold, scaling=self.scaling,
                                     stochastic_draw=stochastic_draw)

    def quantized_weight(self) -> Tensor:
        """The float weight `alpha * t` the layer computes with in eval mode (detached).
        For a "none" layer, the float weight itself."""
        with torch.no_grad():
            return self._quantize(self.weight.detach(), stochastic_draw=False)

    def ternary_weight(self) -> tuple[Tensor, Tensor]:
        """(codes, scales): int8 codes in {-1, 0, 1} with the weight's shape, and float32
        scales of shape [out_channels], such that `quantized_weight()` equals
        `scales[c] * codes[c]` for every output channel c. Stochastic layers give their
        deterministic (evaluation) form."""
        if not self.is_ternary:
            raise ValueError(f"{type(self).__name__} with quantization \"none\" has no "
                             "ternary form; export its `weight` as float")
        if self.quantization == "ttq":
            raise ValueError(f"{type(self).__name__} with quantization \"ttq\" has two scales, "
                             "not one per channel; export `quantized_weight()` as float")
        if self.integer_bits is not None:
            raise ValueError(f"{type(self).__name__} with quantization {self.quantization!r} "
                             "has integer weights; see `integer_weight()`")
        return quant.codes_and_scales(self.weight, threshold=self.threshold,
                                      scaling=self.scaling)

    def _forward_weight(self) -> Tensor:
        w = self.weight
        if not self.is_ternary:
            return w
        if torch.jit.is_tracing() and not self.training:
            return self._frozen_weight_for_trace(w)
        if self.quantization == "ttq" and _is_tracing(w):
            # fx / torch.compile: the scales must keep their gradient in training
            if self.training:
                return quant.ttq_straight_through(w, self.ttq_positive, self.ttq_negative,
                                                  self.threshold)
            return self._quantize(w, stochastic_draw=False)
        if _is_tracing(w):
            w_q = self._quantize(w, stochastic_draw=self.training)
            if self.training:
                return quant.straight_through(w, w_q, self.gradient_estimator)
            return w_q
        needs_grad = torch.is_grad_enabled() and w.requires_grad
        if self.quantization == "ttq":
            if needs_grad:
                self._eval_cache = None
                return quant.ttq_straight_through(w, self.ttq_positive, self.ttq_negative,
                                                  self.threshold)
            with torch.no_grad():  # cheap: no cache, so edits of the scales show at once
                return self._quantize(w, stochastic_draw=False)
        if needs_grad:
            self._eval_cache = None  # the weights are being trained
            # The straight-through form detaches w_q anyway; building it without autograd
            # saves recording a graph that would be thrown away.
            with torch.no_grad():
                w_q = self._quantize(w, stochastic_draw=self.training)
            return quant.straight_through(w, w_q, self.gradient_estimator)
        if self.training:
            return self._quantize(w, stochastic_draw=True)
        return self._cached_eval_weight(w)

    def _frozen_weight_for_trace(self, w: Tensor) -> Tensor:
        """`alpha * t` computed out of sight of `torch.jit.trace`, so the trace holds it as a
        constant: ONNX and TorchScript exports of an eval-mode model then carry the
        quantized weights themselves rather than re-deriving them on every inference."""
        get_state = getattr(torch._C, "_get_tracing_state", None)
        set_state = getattr(torch._C, "_set_tracing_state", None)
        if get_state is None or set_state is None:  # a PyTorch without these internals
            return self._quantize(w, stochastic_draw=False)
        state = get_state()
        set_state(None)
        try:
            with torch.no_grad():
                return self._quantize(w.detach(), stochastic_draw=False)
        finally:
            set_state(state)

    def _cached_eval_weight(self, w: Tensor) -> Tensor:
        key = (w._version, _optimizer_steps, w.data_ptr(), w.device, w.dtype,
               torch.is_inference_mode_enabled(), self.quantization, self.threshold,
               self.scaling)
        cache = self._eval_cache
        if cache is not None and cache[0] == key and cache[1]() is w:
            return cache[2]
        with torch.no_grad():
            w_q = self._quantize(w, stochastic_draw=False)
        self._eval_cache = (key, weakref.ref(w), w_q)
        return w_q

    def clear_cache(self) -> None:
        """Forgets the cached eval-mode weight (see the module docstring for when to)."""
        self._eval_cache = None

    def train(self, mode: bool = True):
        self._eval_cache = None
        return super().train(mode)

    def _quantization_repr(self) -> str:
        bits = f", activation_bits={self.activation_bits}" if self.activation_bits != 32 else ""
        return (f"quantization={self.quantization!r}, threshold={self.threshold}, "
                f"scaling={self.scaling!r}, gradient_estimator={self.gradient_estimator!r}"
                f"{bits}")

    def __getstate__(self) -> dict[str, Any]:
        # A weak reference cannot be pickled (torch.save of a whole module); the cache is
        # rebuilt on the next eval forward anyway.
        state = self.__dict__.copy()
        state["_eval_cache"] = None
        return state


class TernaryLinear(TernaryWeightMixin, nn.Linear):
    """A fully connected layer with ternary weights: y = x (alpha * t)^T + bias."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 quantization: str = "deterministic", threshold: float = 0.7,
                 scaling: str = "per_channel", gradient_estimator: str = "ste",
                 activation_bits: int = 32) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias=bias)
        self._init_quantization(quantization, threshold, scaling, gradient_estimator)
        self._init_activation_bits(activation_bits)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(self._quantize_input(x), self._forward_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{nn.Linear.extra_repr(self)}, {self._quantization_repr()}"


class TernaryConv1d(TernaryWeightMixin, nn.Conv1d):
    """A 1-D convolution with ternary weights over [batch, channels, length] (sequences:
    audio features, sensor streams); `groups=in_channels` makes it depthwise."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: bool = True, quantization: str = "deterministic",
                 threshold: float = 0.7, scaling: str = "per_channel",
                 gradient_estimator: str = "ste", activation_bits: int = 32) -> None:
        _check_groups(in_channels, out_channels, groups)
        nn.Conv1d.__init__(self, in_channels, out_channels, kernel_size, stride=stride,
                           padding=padding, dilation=dilation, groups=groups, bias=bias)
        self._init_quantization(quantization, threshold, scaling, gradient_estimator)
        self._init_activation_bits(activation_bits)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(self._quantize_input(x), self._forward_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{nn.Conv1d.extra_repr(self)}, {self._quantization_repr()}"


class TernaryConv2d(TernaryWeightMixin, nn.Conv2d):
    """A 2-D convolution with ternary weights; `groups=in_channels` makes it depthwise."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | list[int],
                 stride: int | list[int] = 1, padding: int | list[int] = 0,
                 dilation: int | list[int] = 1, groups: int = 1, bias: bool = True,
                 quantization: str = "deterministic", threshold: float = 0.7,
                 scaling: str = "per_channel", gradient_estimator: str = "ste",
                 activation_bits: int = 32) -> None:
        _check_groups(in_channels, out_channels, groups)
        nn.Conv2d.__init__(self, in_channels, out_channels, _size(kernel_size),
                           stride=_size(stride), padding=_size(padding),
                           dilation=_size(dilation), groups=groups, bias=bias)
        self._init_quantization(quantization, threshold, scaling, gradient_estimator)
        self._init_activation_bits(activation_bits)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(self._quantize_input(x), self._forward_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{nn.Conv2d.extra_repr(self)}, {self._quantization_repr()}"


class TernaryActivation(nn.Module):
    """Quantizes activations to {-c, +c} ("sign") or {-c, 0, +c} ("ternary"), c = clip_value;
    "ternary" gives 0 where |x| <= threshold * clip_value. Gradients pass where
    |x| <= clip_value and are zero outside (clipped straight-through estimator)."""

    def __init__(self, method: str = "ternary", clip_value: float = 1.0,
                 threshold: float = 0.5) -> None:
        super().__init__()
        if method not in quant.ACTIVATION_METHODS:
            raise UserError(f'`method` must be "sign" or "ternary", got {method!r}')
        if not float(clip_value) > 0.0:
            raise UserError(f"`clip_value` must be positive, got {clip_value}")
        self.method = method
        self.clip_value = float(clip_value)
        self.threshold = quant.check_threshold(threshold)

    def forward(self, x: Tensor) -> Tensor:
        # Traced graphs are for deployment: they carry the gradient plumbing only when traced
        # in training mode, whatever the grad mode was during tracing.
        if _is_tracing(x):
            with_gradient = self.training
        else:
            with_gradient = torch.is_grad_enabled() and x.requires_grad
        return quant.quantize_activation(x, method=self.method, clip_value=self.clip_value,
                                         threshold=self.threshold, with_gradient=with_gradient)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, clip_value={self.clip_value}, threshold={self.threshold}"


def _size(value: int | list[int] | tuple[int, ...]) -> int | tuple[int, ...]:
    """The language writes sizes as an int or a list; PyTorch stores tuples."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    # nn.Conv1d/nn.Conv2d raise a bare ValueError; say it in the language's terms instead.
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise UserError(f"`groups: {groups}` must divide both `in_channels: {in_channels}` "
                        f"and `out_channels: {out_channels}`")

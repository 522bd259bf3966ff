"""Post-training calibration: 8-bit activations for a model trained with float ones.

`calibrate_activations(model, batches, method=..., percentile=...)` runs the model in eval
mode, without gradients, over the given batches, watches the input of every ternary layer
that still has float activations (forward pre-hooks), and then switches each such layer to
`activation_bits = 8` with `input_amax` set from what it saw (a layer the forward never
reached keeps float activations). An -O2 program's fused layer/norm steps run unfused
while calibrating (`fusion.unfused`), so every layer's hook sees its input. The packed
exporter writes that range as the layer's input scale s = amax / 127 and the native engine
runs the layer on its int8 kernels; PyTorch eval mode fake-quantizes the same way, so both
stay at parity.

Layers whose weights are float (`quantization: "none"`) keep float activations: a user
keeps a layer at full precision on purpose. Layers already at 8 bits (trained with
`activation_bits: 8`) keep the range they learned. Every watched layer is calibrated from
the float model's activations in the same passes (not one layer after another).

Estimators of amax, from a histogram of |x| per layer (`_AbsHistogram`):
- "mse" (the default): the amax minimizing the expected squared quantization error of the
  observed distribution (rounding inside the range, clipping outside).
- "percentile": the `percentile`-th percentile of |x| over every element of every batch
  (99.99 by default), so a rare outlier clips instead of widening every step.
- "max": the largest |x| seen. Nothing clips, but one outlier widens every step.
`output_ranges(model, batches)` measures, the same way, the output range of every 8-bit
layer and batch norm: the `<path>.output_amax` tensors that the compiler's integer lowering
(-O3) uses as the output scale of a layer whose output does not feed another 8-bit layer
(a residual Add, a pooling, the logits).

On MNIST (docs/training.md, "Calibrated 8-bit activations") "mse" gave the smallest error of
the logits on an MLP and a CNN and the best or equal test accuracy, "max" the largest error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from triton_dsl import quant
from triton_dsl.errors import UserError
from triton_dsl.fusion import unfused

METHODS = ("mse", "percentile", "max")
DEFAULT_METHOD = "mse"
DEFAULT_PERCENTILE = 99.99

# Histogram resolution: 4096 bins over [0, top]. After the range doubles the finest use is
# still >= 2048 bins, i.e. >= 16 bins per int8 step, fine enough for the percentile and the
# MSE search (the search's error is the bin width, under 1/16 of a step).
_BINS = 4096


class _AbsHistogram:
    """A histogram of |x| over [0, top] that grows by doubling `top`, merging bin pairs, so
    batches of any range accumulate exactly (no re-binning error)."""

    def __init__(self) -> None:
        self.counts = torch.zeros(_BINS, dtype=torch.float64)
        self.top = 0.0
        self.max = 0.0
        self.total = 0

    def add(self, x: Tensor) -> None:
        a = x.detach().abs().flatten().to(torch.float32)
        if a.numel() == 0:
            return
        if not bool(torch.isfinite(a).all()):
            raise UserError("a calibration batch produced a non-finite activation (NaN or "
                            "infinity); check the checkpoint and the data")
        peak = float(a.max())
        self.total += a.numel()
        self.max = max(self.max, peak)
        if peak == 0.0 and self.top == 0.0:
            self.counts[0] += a.numel()  # only zeros so far: bin 0 of whatever range comes
            return
        if self.top == 0.0:
            self.top = peak
        while peak > self.top:
            self._double()
        counts = torch.histc(a, bins=_BINS, min=0.0, max=self.top)
        self.counts += counts.to(device="cpu", dtype=torch.float64)

    def _double(self) -> None:
        merged = self.counts.view(_BINS // 2, 2).sum(dim=1)
        self.counts = torch.cat([merged, torch.zeros(_BINS // 2, dtype=torch.float64)])
        self.top *= 2.0

    def amax(self, method: str, percentile: float) -> float:
        if self.top == 0.0:
            return 0.0  # never saw a nonzero input; the exporter's floor keeps s > 0
        if method == "max":
            return self.max
        width = self.top / _BINS
        if method == "percentile":
            cumulative = torch.cumsum(self.counts, dim=0)
            target = percentile / 100.0 * float(cumulative[-1])
            index = int(torch.searchsorted(cumulative, torch.tensor([target],
                                                                    dtype=torch.float64)))
            return min((min(index, _BINS - 1) + 1) * width, self.max)
        return self._mse_amax(width)

    def _mse_amax(self, width: float) -> float:
        """The bin edge (up to max|x|) with the least expected squared error, each bin's
        values taken at its centre."""
        last = min(_BINS, int(self.max / width) + 1)
        centres = (torch.arange(last, dtype=torch.float64) + 0.5) * width
        counts = self.counts[:last]
        candidates = torch.arange(1, last + 1, dtype=torch.float64) * width
        candidates[-1] = self.max
        errors = torch.empty(last, dtype=torch.float64)
        # Chunks of candidates keep the [candidates, bins] table small (64 x 4096 doubles).
        for start in range(0, last, 64):
            amax = candidates[start:start + 64, None]
            step = amax / quant.INT8_MAX
            q = torch.clamp(torch.round(centres[None, :] / step), max=quant.INT8_MAX) * step
            errors[start:start + 64] = ((centres[None, :] - q) ** 2 * counts[None, :]).sum(1)
        return float(candidates[int(torch.argmin(errors))])


def calibratable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, layer) of every ternary layer with float activations, in module order."""
    from triton_dsl.layers import ternary_layers

    return [(name, m) for name, m in ternary_layers(model)
            if getattr(m, "activation_bits", 8) == 32]


def eight_bit_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, layer) of every ternary layer with 8-bit activations, in module order: the
    layers the compiler's -O3 integer lowering can run on int8 kernels."""
    from triton_dsl.layers import ternary_layers

    return [(name, m) for name, m in ternary_layers(model)
            if getattr(m, "activation_bits", 32) == 8]


def _input_of(batch: Any) -> Tensor:
    """The model input of one batch: a tensor, or the first item of an (x, y) pair."""
    if isinstance(batch, (tuple, list)) and batch:
        batch = batch[0]
    if not isinstance(batch, Tensor):
        raise UserError(f"a calibration batch must be a tensor or an (input, target) pair, "
                        f"got {type(batch).__name__}")
    return batch


def calibrate_activations(model: nn.Module, batches: Iterable[Any], *,
                          method: str = DEFAULT_METHOD,
                          percentile: float = DEFAULT_PERCENTILE) -> int:
    """Switches every ternary layer of `model` that has float activations to 8-bit
    activations, with `input_amax` estimated from `batches` (tensors, or (input, target)
    pairs, moved to the model's device); returns how many layers it switched.

    The model's training mode is restored afterwards; its weights are not touched.
    """
    if method not in METHODS:
        raise UserError(f"calibration method must be one of {', '.join(METHODS)}, "
                        f"got {method!r}")
    if method == "percentile" and not 0.0 < float(percentile) <= 100.0:
        raise UserError(f"calibration percentile must be in (0, 100], got {percentile}")
    layers = calibratable_layers(model)
    histograms = {name: _AbsHistogram() for name, _ in layers}
    hooks = [m.register_forward_pre_hook(
        lambda _m, args, _name=name: histograms[_name].add(args[0]))
        for name, m in layers]
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    seen = 0
    try:
        model.eval()
        # unfused(): an -O2 program's `F.fused` would otherwise fold the batch norm and call
        # neither the layer nor its hooks (fusion.py).
        with torch.no_grad(), unfused():
            for batch in batches:
                model(_input_of(batch).to(device))
                seen += 1
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    if seen == 0:
        raise UserError("calibration needs at least one batch; the data gave none")
    switched = 0
    for name, layer in layers:
        if histograms[name].total == 0:
            continue  # the forward never ran this layer: it keeps float activations
        layer.set_input_amax(histograms[name].amax(method, float(percentile)))
        switched += 1
    return switched


def output_ranges(model: nn.Module, batches: Iterable[Any], *, method: str = DEFAULT_METHOD,
                  percentile: float = DEFAULT_PERCENTILE) -> dict[str, Tensor]:
    """`{"<path>.output_amax": amax}` for the output of every ternary layer with 8-bit
    activations and every batch norm of `model`, estimated from `batches` in eval mode; the
    extra tensors of the weights file for `triton compile -O3` (the integer lowering)."""
    if method not in METHODS:
        raise UserError(f"calibration method must be one of {', '.join(METHODS)}, "
                        f"got {method!r}")
    watched = eight_bit_layers(model)
    watched += [(name, m) for name, m in model.named_modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    histograms = {name: _AbsHistogram() for name, _ in watched}
    hooks = [m.register_forward_hook(
        lambda _m, _args, out, _name=name: histograms[_name].add(out.detach()))
        for name, m in watched]
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    try:
        model.eval()
        # unfused(): `F.fused` runs the unfused chain, so each norm's own output is seen (its
        # forward hook fires); eval mode keeps the running statistics.
        with torch.no_grad(), unfused():
            for batch in batches:
                model(_input_of(batch).to(device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return {f"{name}.output_amax": torch.tensor(histograms[name].amax(method, float(percentile)),
                                                dtype=torch.float32)
            for name, _ in watched}

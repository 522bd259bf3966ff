"""Learning-rate schedules evaluated per optimizer step, with warmup and a floor.

PyTorch's epoch-based schedulers cannot express one-cycle, and mixing per-step warmup with
per-epoch decay in its chained schedulers makes resume fragile. Here a schedule is a pure
function `lr(step)` of the optimizer-step count; its whole state is that count, so a
checkpoint stores `{"step": n}` and resuming recomputes the exact same rate.

Shapes (epoch = step / steps_per_epoch, fractional):
- none/constant: the base rate.
- multistep: base * gamma ** (milestones passed), step: base * gamma ** (epoch // step_size),
  both changing at whole epochs; exponential: base * gamma ** epoch, smoothly per step.
- cosine: from base down to min_lr over the steps after warmup.
- onecycle: cosine rise from max_lr / div_factor to max_lr over pct_start of the steps
  (warmup_epochs, when given, sets that share), then cosine fall to
  start / final_div_factor (or min_lr when given).
Warmup (all but onecycle): linear from base / warmup_steps to base over warmup_epochs.
Every rate is floored at min_lr, except during warmup.
"""

from __future__ import annotations

import math

import torch

from triton_dsl.train.config import ScheduleConfig


def _cosine(start: float, end: float, fraction: float) -> float:
    fraction = min(max(fraction, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * fraction))


class StepSchedule:
    """Sets each parameter group's rate from the optimizer-step count."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: ScheduleConfig, *,
                 base_lr: float, steps_per_epoch: int, epochs: int) -> None:
        self.optimizer = optimizer
        self.config = config
        self.base_lr = base_lr
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps = max(1, self.steps_per_epoch * epochs)
        self.warmup_steps = round(config.warmup_epochs * self.steps_per_epoch)
        self.step_count = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        c = self.config
        epoch = step / self.steps_per_epoch
        if c.type == "onecycle":
            peak = c.max_lr if c.max_lr is not None else self.base_lr
            start = peak / c.div_factor
            end = c.min_lr if c.min_lr > 0 else start / c.final_div_factor
            rise = self.warmup_steps if self.warmup_steps > 0 else c.pct_start * self.total_steps
            rise = max(1.0, float(rise))
            if step < rise:
                return _cosine(peak, start, 1.0 - step / rise)
            return _cosine(peak, end, (step - rise) / max(1.0, self.total_steps - rise))
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        if c.type in ("none", "constant"):
            lr = self.base_lr
        elif c.type == "multistep":
            passed = sum(1 for m in c.milestones if math.floor(epoch) >= m)
            lr = self.base_lr * c.gamma ** passed
        elif c.type == "step":
            lr = self.base_lr * c.gamma ** (math.floor(epoch) // c.step_size)
        elif c.type == "exponential":
            lr = self.base_lr * c.gamma ** epoch
        elif c.type == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            lr = _cosine(self.base_lr, c.min_lr, (step - self.warmup_steps) / span)
        else:
            raise AssertionError(f"unvalidated schedule {c.type}")
        return max(lr, c.min_lr)

    def current_lr(self) -> float:
        return self.lr_at(self.step_count)

    def _apply(self) -> None:
        lr = self.lr_at(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self) -> None:
        """Advances one optimizer step; call after `optimizer.step()`."""
        self.step_count += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"step": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step"])
        self._apply()

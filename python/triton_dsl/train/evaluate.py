"""Test-set evaluation, done one way everywhere so the numbers agree to the last digit.

Training's per-epoch evaluation and the program's `--eval` both call `evaluate`: the plain
(uncompiled, unwrapped) model in eval mode, float32 without autocast, batches in the
loader's fixed order, counts kept as integers. The accuracy is therefore an exact ratio of
two integers, and `--eval --checkpoint <stem>_best.pth` reproduces the best epoch's figure
on the same device. In a distributed job each rank counts its shard and the counts are
summed, so every rank reports the same numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from triton_dsl.train.distributed import DistContext, all_reduce_sum
from triton_dsl.train.losses import count_correct, count_top_k
from triton_dsl.train.model_setup import to_channels_last


@dataclass(frozen=True)
class EvalResult:
    correct: int
    top5_correct: int
    total: int
    loss_sum: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def top5_accuracy(self) -> float:
        return self.top5_correct / self.total if self.total else 0.0

    @property
    def loss(self) -> float:
        return self.loss_sum / self.total if self.total else 0.0


@contextlib.contextmanager
def _repeatable_kernels(device: torch.device):
    """cuDNN's autotuner may pick another algorithm in another process, and algorithms round
    differently; evaluation pins deterministic ones so a checkpoint scores the same later."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved


def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device,
             channels_last: bool = False, dist_context: DistContext | None = None,
             max_batches: int | None = None) -> EvalResult:
    """Counts correct top-1 and top-5 predictions of `model` over `loader`."""
    was_training = model.training
    model.eval()
    counts = torch.zeros(3, dtype=torch.int64, device=device)  # correct, top-5, total
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    try:
        with torch.inference_mode(), _repeatable_kernels(device):
            for index, (images, targets) in enumerate(loader):
                if max_batches is not None and index >= max_batches:
                    break
                images = images.to(device, non_blocking=True)
                targets = targets.to(device, non_blocking=True)
                if channels_last:
                    images = to_channels_last(images)
                logits = model(images).float()
                counts[0] += count_correct(logits, targets)
                counts[1] += count_top_k(logits, targets, 5)
                counts[2] += targets.shape[0]
                loss_sum += nn.functional.cross_entropy(logits, targets, reduction="sum")
    finally:
        model.train(was_training)
    if dist_context is not None:
        all_reduce_sum(counts, dist_context)
        all_reduce_sum(loss_sum, dist_context)
    correct, top5, total = (int(v) for v in counts.tolist())
    return EvalResult(correct, top5, total, float(loss_sum))

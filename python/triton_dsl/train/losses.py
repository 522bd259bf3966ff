"""The training loss and the accuracy count, for hard labels and for mixed (soft) targets.

Batch-level mixup and cutmix (done by `triton_dsl.data`) turn class indices into
probability rows; PyTorch's cross entropy accepts both forms, with label smoothing, so one
criterion serves every recipe. Accuracy against a soft target counts the target's most
likely class, which is what a mixed batch can meaningfully be scored against.
"""

from __future__ import annotations

import torch
from torch import nn

from triton_dsl.train.config import TrainConfig


def build_criterion(config: TrainConfig) -> nn.Module:
    """Cross entropy with the configured label smoothing (the only loss the schema names)."""
    return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)


def hard_labels(target: torch.Tensor) -> torch.Tensor:
    """Class indices from either class indices or probability rows."""
    return target.argmax(dim=1) if target.ndim == 2 else target


def count_correct(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Number of rows whose top class matches, as a device tensor (no host sync)."""
    return (logits.argmax(dim=1) == hard_labels(target)).sum()


def count_top_k(logits: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """Number of rows whose label is among the `k` highest logits."""
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return (top == hard_labels(target).unsqueeze(1)).any(dim=1).sum()

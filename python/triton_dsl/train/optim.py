"""Optimizers named by the training section: sgd (momentum, nesterov), adam, adamw, rmsprop.

Weight decay is not applied to biases and normalization parameters (one-dimensional
tensors): decaying a BatchNorm scale towards zero fights the normalization and costs
accuracy, which is the common practice of torchvision's reference recipes. The grouping
depends only on parameter order, so an optimizer's state dict from a checkpoint lines up.
"""

from __future__ import annotations

import torch
from torch import nn

from triton_dsl.train.config import TrainConfig


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: decayed weights, and undecayed biases/norm parameters (in model order)."""
    decayed, undecayed = [], []
    for parameter in model.parameters():
        if not parameter.requires_grad:
            continue
        (undecayed if parameter.ndim <= 1 else decayed).append(parameter)
    groups = [{"params": decayed, "weight_decay": weight_decay}]
    if undecayed:
        groups.append({"params": undecayed, "weight_decay": 0.0})
    return groups


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer of `config.optimizer` over `model`'s trainable parameters."""
    groups = parameter_groups(model, config.weight_decay)
    lr = config.learning_rate
    # Not `fused=True`: the fused kernels update parameters without bumping their version
    # counters, and the ternary layers' eval cache relies on those to notice new weights
    # (evaluation would silently score stale weights). PyTorch's default multi-tensor
    # (foreach) path on the GPU bumps them and costs little more.
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=config.momentum)
    raise AssertionError(f"unvalidated optimizer {config.optimizer}")

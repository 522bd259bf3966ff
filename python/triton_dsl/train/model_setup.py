"""Preparing a generated model for training: estimator, memory format, checkpointing, wrappers.

The trainer keeps two views of the model: `plain`, the module the generated file built
(its state dict is what checkpoints hold, with the file's own key names), and `runner`, what
the training step calls (possibly `torch.compile`d and wrapped in DistributedDataParallel).
Activation checkpointing re-binds each top-level child's `forward` instead of wrapping the
child in a new module, so parameter names, and thus checkpoints, do not change; the forward
recomputed during backward leaves batch-norm running statistics alone (they were updated by
the first forward) and replays the same dropout draws.
"""

from __future__ import annotations

import contextlib
import functools

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from triton_dsl.train.distributed import DistContext


def ternary_layers(model: nn.Module) -> list[nn.Module]:
    """Every module that ternarizes weights with a configurable gradient estimator."""
    return [m for m in model.modules() if hasattr(m, "gradient_estimator")
            and hasattr(m, "quantization")]


def apply_gradient_estimator(model: nn.Module, estimator: str | None) -> int:
    """Sets the training section's `gradient_estimator` on every ternary layer."""
    if estimator is None:
        return 0
    layers = ternary_layers(model)
    for layer in layers:
        layer.gradient_estimator = estimator
    return len(layers)


def _norms_with_running_stats(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@contextlib.contextmanager
def _running_stats_frozen(norms: list[nn.modules.batchnorm._BatchNorm]):
    """The recomputation in backward must not update batch-norm statistics a second time."""
    saved = [(m, m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def _checkpointed_forward(original, norms, *args, **kwargs):
    # Recompute only when gradients are being recorded; in eval there is nothing to save.
    if not torch.is_grad_enabled():
        return original(*args, **kwargs)
    return checkpoint(original, *args, use_reentrant=False,
                      context_fn=lambda: (contextlib.nullcontext(),
                                          _running_stats_frozen(norms)), **kwargs)


def enable_activation_checkpointing(model: nn.Module) -> int:
    """Recomputes each top-level child's activations in backward instead of storing them."""
    count = 0
    for child in model.children():
        if any(True for _ in child.parameters()) or any(True for _ in child.children()):
            child.forward = functools.partial(_checkpointed_forward, child.forward,
                                              _norms_with_running_stats(child))
            count += 1
    return count


def to_channels_last(batch: torch.Tensor) -> torch.Tensor:
    return batch.contiguous(memory_format=torch.channels_last) if batch.ndim == 4 else batch


def build_runner(model: nn.Module, *, device: torch.device, channels_last: bool,
                 activation_checkpointing: bool, compile_model: bool,
                 dist_context: DistContext) -> nn.Module:
    """Moves `model` to `device` and returns the module the training step should call."""
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if activation_checkpointing:
        enable_activation_checkpointing(model)
    runner: nn.Module = model
    if dist_context.enabled:
        device_ids = [device.index] if device.type == "cuda" else None
        runner = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    if compile_model:
        runner = torch.compile(runner)
    return runner

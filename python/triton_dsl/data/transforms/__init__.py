"""Augmentation: the training section's `augmentation` map, per-sample and batch-level.

`config` parses the map into an `AugmentConfig`; `augment` builds the per-sample
torchvision.transforms.v2 pipeline of the DataLoader path; `mix` is batch-level mixup and
cutmix, shared by both loader paths. The device-resident path's crop and flip live with
that loader in `triton_dsl.data.gpu`.
"""

from triton_dsl.data.transforms.config import (
    AugmentationWarning,
    AugmentConfig,
    parse_augmentation,
)
from triton_dsl.data.transforms.mix import BatchMixer

__all__ = ["AugmentConfig", "AugmentationWarning", "BatchMixer", "parse_augmentation"]

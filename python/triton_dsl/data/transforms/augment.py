"""Per-sample augmentation pipelines (torchvision.transforms.v2) for the DataLoader path.

`sample_transform` turns one raw sample (a PIL image from a folder, or a uint8 `[C, H, W]`
tensor from an in-memory dataset) into a uint8 tensor of the dataset's input shape. It
stops at uint8 on purpose: batches cross to the GPU as bytes (a quarter of float32's
traffic) and are normalized there by the loader, the same code for both loader paths.

Folder images come in any size, so they are always brought to the input size: randomly
(`random_resized_crop`, or a resize then `random_crop`) when the training section asks for
it, else by the standard evaluation resize (shorter side to size / 0.875) and centre crop.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from triton_dsl.data.spec import DatasetSpec
from triton_dsl.data.transforms.config import AugmentConfig
from triton_dsl.errors import UserError

# The ratio between the resized shorter side and the centre crop used for evaluation
# (256 -> 224 on ImageNet), the usual torchvision reference value.
EVAL_CROP_RATIO = 0.875


def checked_crop_size(key: str, size, shape: tuple[int, int]) -> tuple[int, int]:
    """A crop size from the config, which must equal the model's input size when given."""
    if size is None:
        return shape
    if tuple(size) != tuple(shape):
        raise UserError(f"augmentation `{key}` size {list(size)} differs from the input size "
                        f"{list(shape)}; evaluation would see another size than training")
    return tuple(size)


def _eval_resize(shape: tuple[int, int]) -> list:
    short = round(min(shape) / EVAL_CROP_RATIO)
    return [v2.Resize(short, antialias=True), v2.CenterCrop(shape)]


def sample_transform(cfg: AugmentConfig, spec: DatasetSpec, *, train: bool) -> v2.Compose:
    """The v2 pipeline from a raw sample of `spec` to a uint8 tensor of its input shape."""
    _, height, width = spec.input_shape
    shape = (height, width)
    from_folder = not spec.in_memory
    ops: list = []
    if train and cfg.random_resized_crop:
        crop = cfg.random_resized_crop
        size = checked_crop_size("random_resized_crop", crop.size, shape)
        ops.append(v2.RandomResizedCrop(size, scale=crop.scale, ratio=crop.ratio, antialias=True))
    elif train and cfg.random_crop:
        crop = cfg.random_crop
        size = checked_crop_size("random_crop", crop.size, shape)
        if from_folder:
            ops.append(v2.Resize(min(size), antialias=True))
        ops.append(v2.RandomCrop(size, padding=crop.padding or None,
                                 padding_mode=crop.padding_mode, pad_if_needed=from_folder))
    elif from_folder:
        ops.extend(_eval_resize(shape))
    if train and cfg.horizontal_flip > 0:
        ops.append(v2.RandomHorizontalFlip(cfg.horizontal_flip))
    if train and cfg.color_jitter:
        j = cfg.color_jitter
        ops.append(v2.ColorJitter(brightness=j.brightness or None, contrast=j.contrast or None,
                                  saturation=j.saturation or None, hue=j.hue or None))
    if train and cfg.rand_augment:
        ops.append(v2.RandAugment(num_ops=cfg.rand_augment.num_ops,
                                  magnitude=cfg.rand_augment.magnitude))
    ops += [v2.ToImage(), v2.ToDtype(torch.uint8), v2.ToPureTensor()]
    return v2.Compose(ops)

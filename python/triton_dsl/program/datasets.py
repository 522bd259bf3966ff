"""The program's side of the data contract: which dataset, which splits, which loaders.

`triton_dsl.data` owns reading, augmenting and batching; this module only decides what to
ask it for. The dataset defaults to the one the model's declared input shape implies
(1x28x28 MNIST, 3x32x32 CIFAR-10, 3x224x224 ImageNet), `--test-dataset` swaps the
evaluation data, and the number of classes the data has is checked against the model's.
The test loader always uses the same batch size and order, so evaluation is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from triton_dsl.errors import UserError
from triton_dsl.program.context import ProgramContext
from triton_dsl.train.distributed import DistContext

# Evaluation batches have one fixed size, independent of the training batch size, so the
# test accuracy of a checkpoint never depends on which flags a run was given.
EVAL_BATCH_SIZE = 256

_SHAPE_TO_DATASET = {(1, 28, 28): "mnist", (3, 32, 32): "cifar10", (3, 224, 224): "imagenet"}


@dataclass
class Splits:
    train: Any  # a DatasetSpec, or None for commands that only evaluate
    test: Any


def default_dataset(context: ProgramContext, requested: str | None) -> str:
    """`--dataset`, else the training section's `dataset`, else one guessed from the input
    shape."""
    if requested:
        return requested
    named = context.training.get("dataset")
    if isinstance(named, str) and named:
        return named
    shape = context.input_shape()
    if shape and len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]):
        name = _SHAPE_TO_DATASET.get(tuple(shape[1:]))
        if name:
            return name
    raise UserError(f"cannot tell which dataset `{context.model_name}` is for; pass --dataset")


def _image_size(context: ProgramContext) -> int | None:
    shape = context.input_shape()
    if shape and len(shape) == 4 and isinstance(shape[2], int) and shape[2] == shape[3]:
        return shape[2]
    return None


def load_splits(context: ProgramContext, args, *, need_train: bool) -> Splits:
    from triton_dsl import data

    name = default_dataset(context, args.dataset)
    download = not args.no_download
    size = _image_size(context)
    train = None
    if need_train:
        train = data.get_dataset(name, data_path=args.data_path, split="train",
                                 download=download, image_size=size)
    if args.test_dataset:
        like = train or data.get_dataset(name, data_path=args.data_path, split="test",
                                         download=download, image_size=size)
        test = data.get_test_dataset(args.test_dataset, like=like, data_path=args.data_path,
                                     download=download)
    else:
        test = data.get_dataset(name, data_path=args.data_path, split="test",
                                download=download, image_size=size)
    for spec in (train, test):
        _check_shape(context, spec)
    return Splits(train, test)


def _check_shape(context: ProgramContext, spec: Any) -> None:
    """The data's image shape must be what the model declares (where it declares one)."""
    shape = context.input_shape()
    if spec is None or not shape or len(shape) != 4:
        return
    declared = shape[1:]
    for ours, theirs in zip(declared, spec.input_shape):
        if isinstance(ours, int) and not isinstance(ours, bool) and ours != theirs:
            raise UserError(f"dataset `{spec.name}` gives {list(spec.input_shape)} images but "
                            f"model `{context.model_name}` takes {declared}")


def check_classes(spec: Any, model_classes: int | None, *, fine_tune: bool) -> None:
    """The model must have at least as many outputs as the data has classes."""
    if spec is None or not isinstance(model_classes, int):
        return
    if spec.num_classes > model_classes:
        raise UserError(f"dataset `{spec.name}` has {spec.num_classes} classes but the model "
                        f"outputs {model_classes}; pass --num-classes {spec.num_classes}"
                        + ("" if fine_tune else " (with --fine-tune to start from a checkpoint)"))


def train_loader(spec: Any, config, *, device: torch.device, dist: DistContext,
                 workers: int | None):
    from triton_dsl import data

    per_rank = len(spec) // dist.world_size
    return data.make_loader(
        spec, batch_size=config.batch_size, train=True, seed=config.seed,
        augmentation=config.augmentation, device=device, channels_last=config.channels_last,
        # A last batch of one sample would break batch norm; drop a ragged tail when there
        # is at least one whole batch.
        drop_last=per_rank >= config.batch_size,
        rank=dist.rank, world_size=dist.world_size, num_workers=workers)


def test_loader(spec: Any, config, *, device: torch.device, dist: DistContext,
                workers: int | None):
    """Fixed order and batch size; sharded across ranks only when that needs no padding."""
    from triton_dsl import data

    shard = dist.enabled and len(spec) % dist.world_size == 0
    return data.make_loader(
        spec, batch_size=EVAL_BATCH_SIZE, train=False, seed=config.seed,
        augmentation=config.augmentation, device=device, channels_last=False,
        rank=dist.rank if shard else 0, world_size=dist.world_size if shard else 1,
        num_workers=workers)


def test_is_sharded(spec: Any, dist: DistContext) -> bool:
    return dist.enabled and len(spec) % dist.world_size == 0

"""`make_loader`: the one entry point the trainer calls to iterate over a DatasetSpec.

Three paths; `path="auto"` chooses "device" or "workers" per split:
- "device" (`gpu.DeviceTensorLoader`): in-memory datasets whose augmentation the device
  can do (random crop with zero padding, horizontal flip, normalization, mixup/cutmix);
- "decode" (`decode.DecodeOnDeviceLoader`, only when asked for): image folders whose
  augmentation is at most random_resized_crop, flip, normalization and mixup/cutmix:
  workers read bytes, the GPU decodes, crops and resizes (see that module for why it is
  not chosen automatically);
- "workers" (`WorkerLoader`): everything else, i.e. other image folders and in-memory
  datasets with per-sample augmentation (random_resized_crop, color_jitter, rand_augment). A
  `torch.utils.data.DataLoader` with worker processes, pinned memory, persistent workers
  and a `DistributedSampler` runs the torchvision v2 pipeline and yields uint8 batches; the
  loader copies them to the device asynchronously and normalizes them there.

All paths are seeded the same way: the order is DistributedSampler's permutation for
(seed + derived epoch seed), and each sample's augmentation draws from a generator seeded by
(seed, epoch, sample index), so worker count, worker persistence and resuming do not change
what the model sees.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, get_worker_info

from triton_dsl.data.base import (
    STREAM_ORDER,
    STREAM_SAMPLES,
    BatchLoader,
    Normalizer,
    derive_seed,
)
from triton_dsl.data.folders import collate_skipping_none
from triton_dsl.data.gpu import DeviceTensorLoader
from triton_dsl.data.spec import DatasetSpec
from triton_dsl.data.transforms.augment import checked_crop_size, sample_transform
from triton_dsl.data.transforms.config import AugmentConfig, parse_augmentation
from triton_dsl.data.transforms.mix import BatchMixer
from triton_dsl.errors import UserError

PATHS = ("auto", "device", "workers", "decode")
_GOLDEN = 0x9E3779B97F4A7C15  # odd 64-bit constant: spreads consecutive indices apart


class SeededSamples(Dataset):
    """Applies a per-sample transform under a seed chosen by the sampler.

    Keys are `(index, seed)` pairs; the transform's global-RNG draws (torchvision's v2
    transforms take no generator) start from `seed`, so the result does not depend on which
    worker (or the main process) runs it. In the main process the CPU generator's state is
    saved and restored around the transform so the caller's random stream is untouched; a
    worker's generator is its own. (`torch.random.fork_rng` would do the same at ten times
    the cost, which shows at thousands of samples per second.)
    """

    def __init__(self, dataset: Dataset, transform) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        sample = self.dataset[index]
        if sample is None:  # a corrupt image, already reported
            return None
        image, label = sample
        generator = torch.random.default_generator
        if get_worker_info() is not None:
            generator.manual_seed(seed)
            return self.transform(image), label
        saved = generator.get_state()
        try:
            generator.manual_seed(seed)
            return self.transform(image), label
        finally:
            generator.set_state(saved)


class EpochSampler(Sampler):
    """DistributedSampler's order, yielding `(index, sample seed)` and able to skip ahead."""

    def __init__(self, num_samples: int, *, shuffle: bool, seed: int, rank: int,
                 world_size: int) -> None:
        self.inner = DistributedSampler(range(num_samples), num_replicas=world_size, rank=rank,
                                        shuffle=shuffle, seed=0, drop_last=False)
        self.seed = seed
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, *, skip: int = 0) -> None:
        self.epoch = epoch
        self.skip = skip
        # DistributedSampler seeds its generator with seed + epoch; feeding it a derived
        # seed as the "epoch" keeps different (seed, epoch) pairs from colliding.
        self.inner.set_epoch(derive_seed(self.seed, epoch, STREAM_ORDER) >> 2)

    def __len__(self) -> int:
        return max(len(self.inner) - self.skip, 0)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        base = derive_seed(self.seed, self.epoch, STREAM_SAMPLES)
        for position, index in enumerate(self.inner):
            if position >= self.skip:
                yield index, (base + index * _GOLDEN) & 0x7FFFFFFFFFFFFFFF


class WorkerLoader(BatchLoader):
    """A DataLoader over per-sample transforms; batches moved to the device here."""

    path = "workers"

    def __init__(self, dataset: Dataset, transform, *, num_workers: int, pin_memory: bool,
                 persistent_workers: bool, prefetch_factor: int | None, **common) -> None:
        super().__init__(num_samples=len(dataset), **common)
        self.sampler = EpochSampler(len(dataset), shuffle=self.shuffle, seed=self.seed,
                                    rank=self.rank, world_size=self.world_size)
        workers = num_workers > 0
        self.dataloader = DataLoader(
            SeededSamples(dataset, transform), batch_size=self.batch_size, sampler=self.sampler,
            num_workers=num_workers, pin_memory=pin_memory, drop_last=self.drop_last,
            collate_fn=collate_skipping_none, persistent_workers=persistent_workers and workers,
            prefetch_factor=(prefetch_factor or 4) if workers else None,
            # The DataLoader draws worker base seeds from this generator, not the global
            # RNG, so iterating never disturbs the trainer's random state.
            generator=torch.Generator().manual_seed(self.seed))

    def _raw_batches(self, epoch: int, start: int):
        self.sampler.set_epoch(epoch, skip=start * self.batch_size)
        for batch in self.dataloader:
            if batch is None:  # every image of this batch was corrupt
                continue
            images, labels = batch
            yield (images.to(self.device, non_blocking=True),
                   labels.to(self.device, non_blocking=True))


def _distributed_defaults(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is not None and world_size is not None:
        return rank, world_size
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return (dist.get_rank() if rank is None else rank,
                dist.get_world_size() if world_size is None else world_size)
    return rank or 0, world_size or 1


def default_num_workers(world_size: int = 1) -> int:
    """CPU cores available to this process, shared among ranks, at most 8 per rank."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    per_rank = cores // max(world_size, 1)
    return 0 if per_rank <= 1 else min(8, per_rank)


def make_loader(spec: DatasetSpec, *, batch_size: int, train: bool,
                augmentation: Mapping | AugmentConfig | None = None, seed: int = 0,
                device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                channels_last: bool = False, drop_last: bool = False,
                shuffle: bool | None = None, rank: int | None = None,
                world_size: int | None = None, num_workers: int | None = None,
                pin_memory: bool | None = None, persistent_workers: bool = True,
                prefetch_factor: int | None = None, path: str = "auto") -> BatchLoader:
    """A loader over `spec` yielding `(x, y)` batches on `device`; see the module docstring.

    `train=False` turns off shuffling and every augmentation except normalization (the
    same `normalize` mean/std as training). `rank`/`world_size` default to the initialized
    process group, if any. `num_workers`, `pin_memory`, `persistent_workers` and
    `prefetch_factor` only matter on the "workers" path.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch size must be a positive integer, got `{batch_size!r}`")
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    cfg = parse_augmentation(augmentation)
    device = torch.device(device)
    rank, world_size = _distributed_defaults(rank, world_size)
    channels, height, width = spec.input_shape
    mean = cfg.mean if cfg.mean is not None else spec.mean
    std = cfg.std if cfg.std is not None else spec.std
    common = {
        "batch_size": batch_size, "drop_last": drop_last, "seed": seed, "rank": rank,
        "world_size": world_size, "device": device,
        "shuffle": train if shuffle is None else shuffle,
        "normalizer": Normalizer(mean, std, channels, enabled=cfg.normalize, device=device,
                                 dtype=dtype, channels_last=channels_last),
        "mixer": BatchMixer(cfg.mixup, cfg.cutmix, spec.num_classes) if train else None}

    needs_samples = train and cfg.per_sample_only
    if path == "device" and (not spec.in_memory or needs_samples):
        why = "it is not held in memory" if not spec.in_memory else \
            f"`{'`, `'.join(cfg.per_sample_only)}` need per-sample transforms"
        raise UserError(f"the device-resident loader cannot serve {spec.name}: {why}")
    if spec.in_memory and not needs_samples and path in ("auto", "device"):
        crop = None
        if train and cfg.random_crop:
            size = checked_crop_size("random_crop", cfg.random_crop.size, (height, width))
            crop = (size, cfg.random_crop.padding)
        return DeviceTensorLoader(spec.dataset, crop=crop,
                                  flip_prob=cfg.horizontal_flip if train else 0.0, **common)

    if num_workers is None:
        num_workers = default_num_workers(world_size)
    if path == "decode":
        from triton_dsl.data import decode

        samples = getattr(spec.dataset, "samples", None)
        if samples is None or channels != 3 or height != width or \
                (train and not decode.decode_capable(cfg)):
            raise UserError(f"the decode-on-device loader cannot serve {spec.name}: it takes "
                            f"RGB image folders with at most random_resized_crop, "
                            f"random_horizontal_flip, normalize, mixup and cutmix")
        if train and cfg.random_resized_crop:
            checked_crop_size("random_resized_crop", cfg.random_resized_crop.size,
                              (height, width))
        return decode.DecodeOnDeviceLoader(samples, cfg, train=train, image_size=height,
                                           num_workers=num_workers, **common)
    if pin_memory is None:
        pin_memory = device.type == "cuda"
    return WorkerLoader(spec.dataset, sample_transform(cfg, spec, train=train),
                        num_workers=num_workers, pin_memory=pin_memory,
                        persistent_workers=persistent_workers, prefetch_factor=prefetch_factor,
                        **common)

"""What both loader paths share: seeding, normalization, mixing and the wait-time record.

A loader yields `(x, y)` batches already on the target device: `x` normalized, in the
requested dtype and memory format; `y` int64 class indices, or float32 probabilities when
mixup/cutmix is on. Randomness is a pure function of (seed, epoch, position) and never of
the global RNG, so `set_epoch(e)` replays epoch `e` exactly, which is what makes resuming
from a checkpoint exact (`set_epoch(e, start_batch=k)` resumes mid-epoch).

`stats` records the host time spent producing each batch (waiting for workers, copying,
launching the normalization); the trainer divides it by the epoch's time to report the
share of time spent waiting for data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from triton_dsl.data.transforms.mix import BatchMixer
from triton_dsl.errors import UserError

# Independent random streams derived from one (seed, epoch).
STREAM_ORDER, STREAM_SAMPLES, STREAM_MIX = 0, 1, 2


def derive_seed(seed: int, epoch: int, stream: int, *extra: int) -> int:
    """A 63-bit seed that depends only on its arguments (torch takes up to 64 bits)."""
    state = np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, epoch, stream,
                                    *extra]).generate_state(1, np.uint64)[0]
    return int(state) >> 1


@dataclass
class LoaderStats:
    """Host time spent producing batches since the last `reset()`."""

    batches: int = 0
    samples: int = 0
    wait_seconds: float = 0.0
    last_batch_seconds: float = 0.0

    def reset(self) -> None:
        self.batches = self.samples = 0
        self.wait_seconds = self.last_batch_seconds = 0.0

    def record(self, seconds: float, samples: int) -> None:
        self.batches += 1
        self.samples += samples
        self.wait_seconds += seconds
        self.last_batch_seconds = seconds

    def share(self, elapsed_seconds: float) -> float:
        """The fraction of `elapsed_seconds` spent waiting for data."""
        return self.wait_seconds / elapsed_seconds if elapsed_seconds > 0 else 0.0


class Normalizer:
    """uint8 `[N, C, H, W]` -> `(x / 255 - mean) / std` in `dtype`, as one fused op."""

    def __init__(self, mean, std, channels: int, *, enabled: bool, device: torch.device,
                 dtype: torch.dtype, channels_last: bool) -> None:
        if len(mean) not in (1, channels) or len(std) not in (1, channels):
            raise UserError(f"normalization has {len(mean)} means and {len(std)} stds for "
                            f"{channels}-channel images")
        mean_t = torch.tensor(mean, dtype=torch.float32).expand(channels)
        std_t = torch.tensor(std, dtype=torch.float32).expand(channels)
        if not enabled:
            mean_t, std_t = torch.zeros(channels), torch.ones(channels)
        self.scale = (1.0 / (255.0 * std_t)).view(1, channels, 1, 1).to(device)
        self.shift = (-mean_t / std_t).view(1, channels, 1, 1).to(device)
        self.dtype = dtype
        self.channels_last = channels_last

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # Computed in float32 and cast after: bfloat16 has too few bits for x * scale + shift.
        # The multiply reads uint8 and writes float32 in one pass (no separate cast).
        out = torch.mul(x, self.scale).add_(self.shift)
        if self.dtype != torch.float32:
            out = out.to(self.dtype)
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out


def per_rank_count(num_samples: int, world_size: int) -> int:
    """Samples each rank sees per epoch: DistributedSampler's rule (pad to a multiple)."""
    return math.ceil(num_samples / world_size)


class BatchLoader:
    """Base of both paths: subclasses yield raw uint8 batches from `_raw_batches`."""

    path = "base"

    def __init__(self, *, num_samples: int, batch_size: int, drop_last: bool, shuffle: bool,
                 seed: int, rank: int, world_size: int, normalizer: Normalizer,
                 mixer: BatchMixer | None, device: torch.device) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.normalizer = normalizer
        self.mixer = mixer if mixer else None
        self.device = device
        self.epoch = 0
        self.start_batch = 0
        self.stats = LoaderStats()

    @property
    def samples_per_rank(self) -> int:
        return per_rank_count(self.num_samples, self.world_size)

    def __len__(self) -> int:
        n = self.samples_per_rank
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int, *, start_batch: int = 0) -> None:
        """Select the epoch the next iteration replays, optionally from batch `start_batch`."""
        if start_batch < 0 or start_batch > len(self):
            raise ValueError(f"start_batch {start_batch} outside 0..{len(self)}")
        self.epoch = epoch
        self.start_batch = start_batch

    def _raw_batches(self, epoch: int, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch, start = self.epoch, self.start_batch
        self.start_batch = 0  # a mid-epoch start applies to one pass only
        raw = self._raw_batches(epoch, start)
        # On the CPU, a batch's ops (~100k elements each) are just big enough for PyTorch to
        # split them across its intra-op threads, and on a busy machine the thread hand-off
        # costs far more than the work: one MNIST epoch measured 1.2 to 4.2 s of loading
        # with 2 threads and 0.23 s with 1, on 2 shared cores. So batches are produced
        # single-threaded and the trainer's thread count is restored for its own work.
        single_thread = self.device.type == "cpu"
        index = start
        while True:
            began = time.perf_counter()
            threads = torch.get_num_threads()
            if single_thread and threads != 1:
                torch.set_num_threads(1)
            try:
                x, y = next(raw)
                x = self.normalizer(x)
                if self.mixer is not None:
                    rng = np.random.default_rng(derive_seed(self.seed, epoch, STREAM_MIX, index))
                    x, y = self.mixer(x, y, rng)
            except StopIteration:
                return
            finally:
                if single_thread and threads != 1:
                    torch.set_num_threads(threads)
            self.stats.record(time.perf_counter() - began, x.shape[0])
            index += 1
            yield x, y

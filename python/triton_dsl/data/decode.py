"""The decode-on-device loader for image folders: JPEG bytes in, normalized batches out.

On the "workers" path every image is decoded, cropped and resized by Pillow in a worker
process, about a thousand 500x375 JPEGs a second with 8 workers: far below what one GPU
trains on. Here the workers only read file bytes; the main process decodes a whole batch
with `torchvision.io.decode_jpeg(..., device=...)` (nvJPEG on CUDA), then crops and resizes
each image on the device with one antialiased `interpolate`, flips, and stacks.

Geometry follows the per-sample pipeline: training uses torchvision's
`RandomResizedCrop.get_params` (drawn under the same per-sample seed as the workers path)
and the horizontal flip; evaluation resizes the shorter side to S / 0.875 and crops the
centre SxS with torchvision's rounding. Results match the workers path up to resampling
(torch's antialiased bilinear instead of Pillow's, no rounding to uint8 in between).

A file nvJPEG rejects (a PNG named .jpg, a CMYK JPEG) is decoded on the CPU by
`torchvision.io.decode_image`; one nothing can decode is skipped with a
`CorruptImageWarning` naming it, as on the workers path.

Opt-in (`make_loader(..., path="decode")`), not chosen by "auto", for three reasons:
torchvision's CUDA decoder allocates its outputs on the caller's stream but writes them
from a private one, so it can overwrite memory that kernels still queued on the caller's
stream are about to read (pytorch/vision#9606); the loader therefore waits for the current
stream before each batch, which costs the overlap of loading with compute. torchvision
0.29 deprecates its decoders in favour of TorchCodec. And this path has been checked on
the CPU decoder only so far (its CUDA test skips without a GPU).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from triton_dsl.data.base import BatchLoader
from triton_dsl.data.folders import CorruptImageWarning, open_regular
from triton_dsl.data.loaders import EpochSampler
from triton_dsl.data.transforms.augment import EVAL_CROP_RATIO
from triton_dsl.data.transforms.config import AugmentConfig


class EncodedImages(Dataset):
    """`(index, seed)` -> (file bytes as a uint8 tensor, label, seed, path) of a folder."""

    def __init__(self, samples: list[tuple[str, int]]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        path, label = self.samples[index]
        try:
            with open_regular(path) as f:
                data = np.frombuffer(f.read(), dtype=np.uint8)
        except OSError:
            data = np.zeros(0, dtype=np.uint8)
        return torch.from_numpy(data.copy()), label, seed, path


def collate_encoded(batch):
    """Variable-length byte tensors stay a list; labels become one tensor."""
    data, labels, seeds, paths = zip(*batch, strict=True)
    return list(data), torch.tensor(labels, dtype=torch.int64), list(seeds), list(paths)


def decode_batch(data: list[torch.Tensor], paths: list[str],
                 device: torch.device) -> list[torch.Tensor | None]:
    """RGB uint8 `[3, H, W]` images on `device`, None for files that cannot be decoded."""
    if device.type == "cuda":
        # See the module docstring: nothing queued may still read memory the decoder is
        # about to be handed.
        torch.cuda.current_stream(device).synchronize()
    with warnings.catch_warnings():
        # torchvision 0.29 announces that TorchCodec will replace its decoders; until that
        # ships here, these are the decoders there are (see docs/datasets.md).
        warnings.simplefilter("ignore", DeprecationWarning)
        return _decode(data, paths, device)


def _decode(data: list[torch.Tensor], paths: list[str],
            device: torch.device) -> list[torch.Tensor | None]:
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg

    rgb = ImageReadMode.RGB
    try:
        return list(decode_jpeg(data, mode=rgb, device=device))
    except (RuntimeError, ValueError):
        pass  # at least one file is not a JPEG nvJPEG takes: decode them one by one
    images: list[torch.Tensor | None] = []
    for encoded, path in zip(data, paths, strict=True):
        image = None
        try:
            image = decode_jpeg(encoded, mode=rgb, device=device)
        except (RuntimeError, ValueError):
            try:
                image = decode_image(encoded, mode=rgb).to(device)
            except (RuntimeError, ValueError) as e:
                warnings.warn(f"skipping corrupt image `{path}`: {e}", CorruptImageWarning,
                              stacklevel=3)
        images.append(image)
    return images


def eval_resize_and_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """torchvision's `Resize(round(size / 0.875))` then `CenterCrop(size)`, as float32."""
    height, width = image.shape[-2:]
    short = round(size / EVAL_CROP_RATIO)
    if width <= height:
        new_w, new_h = short, int(short * height / width)
    else:
        new_w, new_h = int(short * width / height), short
    resized = F.interpolate(image.unsqueeze(0).to(torch.float32), size=(new_h, new_w),
                            mode="bilinear", antialias=True, align_corners=False)
    top, left = round((new_h - size) / 2.0), round((new_w - size) / 2.0)
    return resized[..., top:top + size, left:left + size]


class DecodeOnDeviceLoader(BatchLoader):
    """Folder images decoded, cropped and resized on `device` a batch at a time."""

    path = "decode"

    def __init__(self, samples: list[tuple[str, int]], cfg: AugmentConfig, *, train: bool,
                 image_size: int, num_workers: int, **common) -> None:
        super().__init__(num_samples=len(samples), **common)
        self.train = train
        self.size = image_size
        crop = cfg.random_resized_crop
        self.scale = list(crop.scale) if crop else None
        self.ratio = list(crop.ratio) if crop else None
        self.flip_prob = cfg.horizontal_flip if train else 0.0
        self.sampler = EpochSampler(len(samples), shuffle=self.shuffle, seed=self.seed,
                                    rank=self.rank, world_size=self.world_size)
        workers = num_workers > 0
        self.dataloader = DataLoader(
            EncodedImages(samples), batch_size=self.batch_size, sampler=self.sampler,
            num_workers=num_workers, drop_last=self.drop_last, collate_fn=collate_encoded,
            persistent_workers=workers, prefetch_factor=4 if workers else None,
            generator=torch.Generator().manual_seed(self.seed))

    def _augment(self, image: torch.Tensor, seed: int) -> torch.Tensor:
        """One image at the output size: random crop and flip in training, drawn from its
        seed alone (as the workers path draws them), else the evaluation resize and crop."""
        from torchvision.transforms import RandomResizedCrop

        box, flip = None, False
        if self.train and (self.scale or self.flip_prob > 0):
            generator = torch.random.default_generator
            saved = generator.get_state()
            try:
                generator.manual_seed(seed)
                if self.scale:
                    box = RandomResizedCrop.get_params(image, self.scale, self.ratio)
                flip = self.flip_prob > 0 and bool(torch.rand(()) < self.flip_prob)
            finally:
                generator.set_state(saved)
        if box is None:
            out = eval_resize_and_crop(image, self.size)
        else:
            top, left, h, w = box
            crop = image[:, top:top + h, left:left + w].unsqueeze(0).to(torch.float32)
            out = F.interpolate(crop, size=(self.size, self.size), mode="bilinear",
                                antialias=True, align_corners=False)
        return out.flip(-1) if flip else out

    def _raw_batches(self, epoch: int, start: int):
        self.sampler.set_epoch(epoch, skip=start * self.batch_size)
        for data, labels, seeds, paths in self.dataloader:
            images = decode_batch(data, paths, self.device)
            out, keep = [], []
            for k, image in enumerate(images):
                if image is None:
                    continue
                out.append(self._augment(image, seeds[k]))
                keep.append(k)
            if not out:
                continue
            if len(keep) != len(images):
                labels = labels[keep]
            # Values stay on the 0..255 scale, as the uint8 batches of the other paths.
            yield torch.cat(out).clamp_(0, 255), labels.to(self.device, non_blocking=True)


def decode_capable(cfg: AugmentConfig) -> bool:
    """Whether the decode path can apply `cfg` (crop-and-resize, flip and batch-level only)."""
    return not (cfg.random_crop or cfg.color_jitter or cfg.rand_augment)

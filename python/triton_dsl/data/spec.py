"""What `get_dataset` hands back: a dataset plus the facts the trainer needs about it.

`DatasetSpec` is the contract between the data package and the generated program
(`docs/architecture.md`, "Contract: the program <-> data <-> export"). Datasets small
enough to live in memory (MNIST, Fashion-MNIST, CIFAR-10) are an `ImageTensorDataset`: one
uint8 tensor of all images and one int64 tensor of labels. Keeping the raw bytes, not
floats, costs a quarter of the memory and lets `make_loader` move the whole dataset to the
GPU once and normalize each batch there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset


class ImageTensorDataset(Dataset):
    """All images of a split as one uint8 tensor `[N, C, H, W]` and labels as int64 `[N]`.

    Indexing returns `(uint8 image [C, H, W], int label)`, the same kind of sample the
    folder datasets produce after `ToImage`, so the per-sample transform pipeline is shared.
    `make_loader` normally does not index it at all: it slices `images`/`labels` in batches.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {images.dtype} "
                             f"{tuple(images.shape)}")
        if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels must be [N] with N = {images.shape[0]}, got "
                             f"{tuple(labels.shape)}")
        self.images = images.contiguous()
        self.labels = labels.to(torch.int64)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


@dataclass(frozen=True)
class DatasetSpec:
    """One split of one dataset, ready for `make_loader`.

    - `dataset` yields raw samples: `(uint8 tensor [C, H, W], label)` for in-memory
      datasets, `(PIL image, label)` for image folders. Normalization and augmentation are
      the loader's job, so one spec serves training and evaluation.
    - `input_shape` is `(C, H, W)` of the batches the loader yields (for folders, the size
      images are cropped/resized to).
    - `mean`/`std` are the dataset's per-channel defaults on the [0, 1] scale; the
      `augmentation.normalize` entry of the training section overrides them.
    - `source` is the directory the files were read from, for messages and logs.
    """

    name: str
    split: str
    dataset: Dataset
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...] = ()
    source: Path | None = None

    @property
    def in_memory(self) -> bool:
        """True when the whole split is one uint8 tensor (the GPU-resident path applies)."""
        return isinstance(self.dataset, ImageTensorDataset)

    def __len__(self) -> int:
        return len(self.dataset)

    def describe(self) -> str:
        """One line for the program's log: name, split, size, shape, where it came from."""
        c, h, w = self.input_shape
        where = f" from {self.source}" if self.source is not None else ""
        return (f"{self.name} {self.split}: {len(self.dataset)} images {c}x{h}x{w}, "
                f"{self.num_classes} classes{where}")

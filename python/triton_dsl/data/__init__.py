"""Datasets and data loading for the generated training program.

The API the program codes against (`docs/architecture.md`, "Contract: the program <->
data <-> export"; details in `docs/datasets.md`):

- `get_dataset(name, *, data_path=None, split="train", download=True, image_size=None)
  -> DatasetSpec`: find (or download, with checksum verification) and load one split.
  Names: `dataset_names()`; a wrong name, missing files offline, a corrupt file or an
  empty image folder is a one-line `triton_dsl.errors.UserError`.
- `get_test_dataset(test_dataset, *, like, data_path=None, download=True) -> DatasetSpec`:
  `--test-dataset`, a dataset name or a folder of images, checked against the training
  spec `like`.
- `make_loader(spec, *, batch_size, train, augmentation=None, seed=0, device="cpu",
  dtype=torch.float32, channels_last=False, drop_last=False, shuffle=None, rank=None,
  world_size=None, num_workers=None, pin_memory=None, persistent_workers=True,
  prefetch_factor=None, path="auto") -> BatchLoader`: batches `(x, y)` on `device`.
  `loader.set_epoch(epoch, start_batch=0)` before each epoch (the order and every random
  draw depend only on seed and epoch); `len(loader)` batches per epoch;
  `loader.stats.wait_seconds` is the time spent producing batches (`stats.reset()`,
  `stats.share(elapsed)`); `loader.path` is "device", "decode" or "workers".
- `parse_augmentation(mapping) -> AugmentConfig`: the training section's `augmentation`
  map, checked (make_loader calls it; call it early to report mistakes before loading).
"""

from triton_dsl.data.base import BatchLoader, LoaderStats
from triton_dsl.data.folders import CorruptImageWarning
from triton_dsl.data.loaders import make_loader
from triton_dsl.data.registry import dataset_names, get_dataset, get_test_dataset
from triton_dsl.data.spec import DatasetSpec, ImageTensorDataset
from triton_dsl.data.transforms import AugmentationWarning, AugmentConfig, parse_augmentation

__all__ = [
    "AugmentConfig",
    "AugmentationWarning",
    "BatchLoader",
    "CorruptImageWarning",
    "DatasetSpec",
    "ImageTensorDataset",
    "LoaderStats",
    "dataset_names",
    "get_dataset",
    "get_test_dataset",
    "make_loader",
    "parse_augmentation",
]

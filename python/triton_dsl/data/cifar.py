"""CIFAR-10 from its binary or its python version, found or downloaded.

Accepted layouts, in each candidate directory (see `locate`):
- `cifar-10-batches-bin/` with `data_batch_{1..5}.bin` and `test_batch.bin` (the official
  binary tarball), each file raw or `.bin.gz`;
- the same files directly in the directory (a flat copy, e.g. gzip-compressed batches);
- `cifar-10-batches-py/` (the official python tarball), read by torchvision's `CIFAR10`.

A binary record is one label byte then 3,072 pixel bytes (R, G, B planes of 32x32), so a
file whose size is not a multiple of 3,073 is truncated and reported as such. A missing
dataset is downloaded as the official binary tarball (MD5-verified) and unpacked.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from triton_dsl.data import download, locate
from triton_dsl.data.idx import read_bytes
from triton_dsl.data.spec import DatasetSpec, ImageTensorDataset
from triton_dsl.errors import UserError

NAME = "cifar10"
DIR_NAMES = ("cifar10", "cifar-10", "CIFAR10")
BIN_DIR = "cifar-10-batches-bin"
PY_DIR = "cifar-10-batches-py"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
BINARY_ARCHIVE = download.RemoteFile("cifar-10-binary.tar.gz",
                                     md5="c32a1d4ab5d03f1284b67883e8d87530")
_RECORD = 1 + 3 * 32 * 32
_STEMS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def _binary_files(directory: Path, split: str) -> list[Path] | None:
    """The split's `.bin`/`.bin.gz` files in `directory` itself, or None if any is missing."""
    files = []
    for stem in _STEMS[split]:
        for name in (stem + ".bin", stem + ".bin.gz"):
            if (directory / name).is_file():
                files.append(directory / name)
                break
        else:
            return None
    return files


def _find(directory: Path, split: str) -> tuple[str, object] | None:
    """What `directory` holds for `split`: ("bin", files) or ("py", folder) or None."""
    for folder in (directory / BIN_DIR, directory):
        files = _binary_files(folder, split)
        if files:
            return "bin", files
    py = directory / PY_DIR
    if all((py / stem).is_file() for stem in _STEMS[split]) and (py / "batches.meta").is_file():
        return "py", py
    return None


def read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file as (uint8 images [N, 3, 32, 32], uint8 labels [N])."""
    data = read_bytes(path)
    if not data or len(data) % _RECORD:
        raise UserError(f"`{path}` is truncated or not a CIFAR-10 binary batch: {len(data)} bytes "
                        f"is not a whole number of {_RECORD}-byte records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0]
    if int(labels.max()) >= len(CLASSES):
        raise UserError(f"`{path}` has labels outside 0..{len(CLASSES) - 1}; is it CIFAR-100?")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _class_names(folder: Path) -> tuple[str, ...]:
    meta = folder / "batches.meta.txt"
    if meta.is_file():
        names = tuple(line.strip() for line in meta.read_text().splitlines() if line.strip())
        if len(names) == len(CLASSES):
            return names
    return CLASSES


def _load_binary(files: list[Path]) -> ImageTensorDataset:
    parts = [read_binary_batch(f) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return ImageTensorDataset(torch.from_numpy(images), torch.from_numpy(labels))


def _load_python(folder: Path, split: str) -> ImageTensorDataset:
    """Read the python version through torchvision, trusting our own checks over its MD5s.

    torchvision's `CIFAR10` verifies each pickle against the official MD5 and refuses
    anything else; here the files are checked for shape and label range instead, so a
    small dataset in the same format (a subset, a test fixture) loads too.
    """
    from torchvision.datasets import CIFAR10

    class _Unverified(CIFAR10):
        train_list: ClassVar = [[stem, None] for stem in _STEMS["train"]]
        test_list: ClassVar = [[stem, None] for stem in _STEMS["test"]]
        meta: ClassVar = {"filename": "batches.meta", "key": "label_names", "md5": None}

    try:
        ds = _Unverified(str(folder.parent), train=split == "train", download=False)
    except (OSError, EOFError, KeyError, ValueError, TypeError, IndexError, RuntimeError,
            pickle.UnpicklingError) as e:  # what a broken or foreign pickle raises
        raise UserError(f"cannot read CIFAR-10 python batches in `{folder}`: "
                        f"{type(e).__name__}: {e}") from None
    images = np.asarray(ds.data)
    labels = np.asarray(ds.targets, dtype=np.int64)
    if images.dtype != np.uint8 or images.shape[1:] != (32, 32, 3) or len(labels) != len(images):
        raise UserError(f"`{folder}` does not hold CIFAR-10 batches: images "
                        f"{images.dtype} {images.shape}, {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise UserError(f"`{folder}` has labels outside 0..{len(CLASSES) - 1}")
    return ImageTensorDataset(torch.from_numpy(images).permute(0, 3, 1, 2),
                              torch.from_numpy(labels))


def load(*, data_path, split: str, download_missing: bool, mirrors=None) -> DatasetSpec:
    """Find (or download) and load one split of CIFAR-10."""
    file_split = "train" if split == "train" else "test"
    dirs = locate.candidate_dirs(locate.search_roots(data_path), DIR_NAMES)
    directory, found = locate.find_first(dirs, lambda d: _find(d, file_split))
    if found is None:
        if not download_missing:
            raise UserError(f"cifar10 {split} batches (`{BIN_DIR}/`, `{PY_DIR}/` or "
                            f"`{_STEMS[file_split][0]}.bin[.gz]`) not found in "
                            f"{locate.show(dirs)}; pass `--data-path` or allow downloading")
        directory = locate.download_dir(data_path, DIR_NAMES[0])
        if not (directory / BIN_DIR).is_dir():
            archive = download.fetch(BINARY_ARCHIVE, directory,
                                     download.mirrors_for(MIRRORS, mirrors), what=NAME)
            download.extract_dir(archive, BIN_DIR, directory, what=NAME)
            archive.unlink(missing_ok=True)
        found = _find(directory, file_split)
        if found is None:
            raise UserError(f"the downloaded cifar10 archive lacks the {split} batches")
    kind, where = found
    if kind == "bin":
        dataset = _load_binary(where)
        classes = _class_names(where[0].parent)
    else:
        dataset = _load_python(where, file_split)
        classes = CLASSES
    return DatasetSpec(name=NAME, split=split, dataset=dataset, num_classes=len(CLASSES),
                       input_shape=(3, 32, 32), mean=MEAN, std=STD, classes=classes,
                       source=directory)

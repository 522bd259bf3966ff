"""CIFAR-10 and CIFAR-100 from their binary or python versions, found or downloaded.

Accepted layouts, in each candidate directory (see `locate`), CIFAR-10 as the example:
- `cifar-10-batches-bin/` with `data_batch_{1..5}.bin` and `test_batch.bin` (the official
  binary tarball), each file raw or `.bin.gz`;
- the same files directly in the directory (a flat copy, e.g. gzip-compressed batches);
- `cifar-10-batches-py/` (the official python tarball), read by torchvision's `CIFAR10`.
CIFAR-100 likewise: `cifar-100-binary/{train,test}.bin`, flat, or `cifar-100-python/`.

A binary record is the label byte(s) then 3,072 pixel bytes (R, G, B planes of 32x32):
one label for CIFAR-10, coarse then fine for CIFAR-100 (the fine label is the class). A
file whose size is not a whole number of records is reported as truncated, one with more
than `MAX_RECORDS_PER_FILE` as too long (read no further than that). A missing
dataset is downloaded as the official binary tarball (MD5-verified) and unpacked.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from triton_dsl.data import download, locate
from triton_dsl.data.idx import read_bytes
from triton_dsl.data.spec import DatasetSpec, ImageTensorDataset
from triton_dsl.errors import UserError

MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
_PIXELS = 3 * 32 * 32
# The most records one batch file may hold: all 60,000 images of either dataset. An official
# file holds 10,000 or 50,000; the cap keeps a `.bin.gz` that inflates without end (a "gzip
# bomb") from being read past it.
MAX_RECORDS_PER_FILE = 60_000


@dataclass(frozen=True)
class CifarInfo:
    """What distinguishes CIFAR-10 from CIFAR-100 on disk and in use."""

    name: str
    dir_names: tuple[str, ...]
    bin_dir: str
    py_dir: str
    stems: dict[str, tuple[str, ...]]       # split -> file stems
    label_bytes: int                         # the class is the last label byte
    num_classes: int
    class_file: str                          # class names, one a line, beside the .bin files
    mean: tuple[float, ...]
    std: tuple[float, ...]
    archive: download.RemoteFile
    torchvision_class: str
    meta: dict

    @property
    def record(self) -> int:
        return self.label_bytes + _PIXELS


CIFAR10 = CifarInfo(
    name="cifar10", dir_names=("cifar10", "cifar-10", "CIFAR10"),
    bin_dir="cifar-10-batches-bin", py_dir="cifar-10-batches-py",
    stems={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    label_bytes=1, num_classes=10, class_file="batches.meta.txt",
    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
    archive=download.RemoteFile("cifar-10-binary.tar.gz", md5="c32a1d4ab5d03f1284b67883e8d87530",
                                    size=170_052_171),
    torchvision_class="CIFAR10",
    meta={"filename": "batches.meta", "key": "label_names", "md5": None})

CIFAR100 = CifarInfo(
    name="cifar100", dir_names=("cifar100", "cifar-100", "CIFAR100"),
    bin_dir="cifar-100-binary", py_dir="cifar-100-python",
    stems={"train": ("train",), "test": ("test",)},
    label_bytes=2, num_classes=100, class_file="fine_label_names.txt",
    mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
    archive=download.RemoteFile("cifar-100-binary.tar.gz", md5="03b5dce01913d631647c71ecec9e9cb8",
                                    size=168_513_733),
    torchvision_class="CIFAR100",
    meta={"filename": "meta", "key": "fine_label_names", "md5": None})

# The published MD5s of the uncompressed CIFAR-10 binary batches, for verifying local
# copies (`python -m triton_dsl.data verify`); a `.bin.gz` copy is checked by its content.
CIFAR10_BIN_MD5 = {
    "data_batch_1": "5dd7e06a14cb22eb9f671a540d1b7c25",
    "data_batch_2": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3": "942cd6a4bcdd0dd3c604fbe906cb4421",
    "data_batch_4": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5": "53f37980c15c3d472c316c40844f3f0d",
    "test_batch": "803d5f7f4d78ea53de84dbe85f74fb6d",
}

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


def _binary_files(info: CifarInfo, directory: Path, split: str) -> list[Path] | None:
    """The split's `.bin`/`.bin.gz` files in `directory` itself, or None if any is missing."""
    files = []
    for stem in info.stems[split]:
        for name in (stem + ".bin", stem + ".bin.gz"):
            if (directory / name).is_file():
                files.append(directory / name)
                break
        else:
            return None
    return files


def _find(info: CifarInfo, directory: Path, split: str) -> tuple[str, object] | None:
    """What `directory` holds for `split`: ("bin", files) or ("py", folder) or None."""
    for folder in (directory / info.bin_dir, directory):
        files = _binary_files(info, folder, split)
        if files:
            return "bin", files
    py = directory / info.py_dir
    if all((py / stem).is_file() for stem in info.stems[split]) and \
            (py / info.meta["filename"]).is_file():
        return "py", py
    return None


def read_binary_batch(path: Path, info: CifarInfo = CIFAR10) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file as (uint8 images [N, 3, 32, 32], uint8 labels [N])."""
    data = read_bytes(path, limit=MAX_RECORDS_PER_FILE * info.record)
    if not data or len(data) % info.record:
        raise UserError(f"`{path}` is truncated or not a {info.name} binary batch: {len(data)} "
                        f"bytes is not a whole number of {info.record}-byte records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, info.record)
    labels = records[:, info.label_bytes - 1]
    if int(labels.max()) >= info.num_classes:
        raise UserError(f"`{path}` has labels outside 0..{info.num_classes - 1}")
    return records[:, info.label_bytes:].reshape(-1, 3, 32, 32), labels


def _class_names(info: CifarInfo, folder: Path) -> tuple[str, ...]:
    names_file = folder / info.class_file
    if names_file.is_file():
        names = tuple(line.strip() for line in names_file.read_text().splitlines()
                      if line.strip())
        if len(names) == info.num_classes:
            return names
    if info is CIFAR10:
        return CIFAR10_CLASSES
    return tuple(str(i) for i in range(info.num_classes))


def _load_binary(info: CifarInfo, files: list[Path]) -> ImageTensorDataset:
    parts = [read_binary_batch(f, info) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return ImageTensorDataset(torch.from_numpy(images), torch.from_numpy(labels))


def _load_python(info: CifarInfo, folder: Path, split: str) -> tuple[ImageTensorDataset, tuple]:
    """Read the python version through torchvision, trusting our own checks over its MD5s.

    torchvision's readers verify each pickle against the official MD5 and refuse anything
    else; here the files are checked for shape and label range instead, so a small dataset
    in the same format (a subset, a test fixture) loads too.
    """
    import torchvision.datasets as tvd

    class Unverified(getattr(tvd, info.torchvision_class)):
        base_folder = info.py_dir
        train_list: ClassVar = [[stem, None] for stem in info.stems["train"]]
        test_list: ClassVar = [[stem, None] for stem in info.stems["test"]]
        meta: ClassVar = dict(info.meta)

    try:
        ds = Unverified(str(folder.parent), train=split == "train", download=False)
    except (OSError, EOFError, KeyError, ValueError, TypeError, IndexError, RuntimeError,
            pickle.UnpicklingError) as e:  # what a broken or foreign pickle raises
        raise UserError(f"cannot read {info.name} python batches in `{folder}`: "
                        f"{type(e).__name__}: {e}") from None
    images = np.asarray(ds.data)
    labels = np.asarray(ds.targets, dtype=np.int64)
    if images.dtype != np.uint8 or images.shape[1:] != (32, 32, 3) or len(labels) != len(images):
        raise UserError(f"`{folder}` does not hold {info.name} batches: images "
                        f"{images.dtype} {images.shape}, {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= info.num_classes):
        raise UserError(f"`{folder}` has labels outside 0..{info.num_classes - 1}")
    classes = tuple(ds.classes) if len(ds.classes) == info.num_classes else \
        _class_names(info, folder)
    return ImageTensorDataset(torch.from_numpy(images).permute(0, 3, 1, 2),
                              torch.from_numpy(labels)), classes


def load(info: CifarInfo = CIFAR10, *, data_path, split: str, download_missing: bool,
         mirrors=None) -> DatasetSpec:
    """Find (or download) and load one split of CIFAR-10 or CIFAR-100."""
    file_split = "train" if split == "train" else "test"
    dirs = locate.candidate_dirs(locate.search_roots(data_path), info.dir_names)
    directory, found = locate.find_first(dirs, lambda d: _find(info, d, file_split))
    if found is None:
        if not download_missing:
            raise UserError(f"{info.name} {split} batches (`{info.bin_dir}/`, `{info.py_dir}/` or "
                            f"`{info.stems[file_split][0]}.bin[.gz]`) not found in "
                            f"{locate.show(dirs)}; pass `--data-path` or allow downloading")
        directory = locate.download_dir(data_path, info.dir_names[0])
        if not (directory / info.bin_dir).is_dir():
            archive = download.fetch(info.archive, directory,
                                     download.mirrors_for(MIRRORS, mirrors), what=info.name)
            download.extract_dir(archive, info.bin_dir, directory, what=info.name)
            archive.unlink(missing_ok=True)
        found = _find(info, directory, file_split)
        if found is None:
            raise UserError(f"the downloaded {info.name} archive lacks the {split} batches")
    kind, where = found
    if kind == "bin":
        dataset = _load_binary(info, where)
        classes = _class_names(info, where[0].parent)
    else:
        dataset, classes = _load_python(info, where, file_split)
    return DatasetSpec(name=info.name, split=split, dataset=dataset,
                       num_classes=info.num_classes, input_shape=(3, 32, 32), mean=info.mean,
                       std=info.std, classes=classes, source=directory)


def known_digests(info: CifarInfo, source: Path) -> list[tuple[Path, download.RemoteFile]]:
    """The binary batch files under `source` that have published digests, with them."""
    if info is not CIFAR10:
        return []
    found = []
    for split in ("train", "test"):
        for folder in (source / info.bin_dir, source):
            files = _binary_files(info, folder, split)
            if files:
                for path in files:
                    stem = path.name.split(".")[0]
                    found.append((path, download.RemoteFile(
                        path.name, content_md5=CIFAR10_BIN_MD5[stem])))
                break
    return found

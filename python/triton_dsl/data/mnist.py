"""MNIST and Fashion-MNIST: the four IDX files per dataset, found or downloaded.

Both datasets use the same file names (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
`t10k-...`), raw or `.gz`, so the only difference is the directory names searched, the
mirrors, the checksums and the class names. A split is loaded whole into an
`ImageTensorDataset` (60,000 x 1 x 28 x 28 uint8 is 47 MB); normalization happens per
batch in the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from triton_dsl.data import download, locate
from triton_dsl.data.idx import read_idx
from triton_dsl.data.spec import DatasetSpec, ImageTensorDataset
from triton_dsl.errors import UserError

_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class IdxDatasetInfo:
    """What distinguishes one MNIST-format dataset from another."""

    name: str
    dir_names: tuple[str, ...]
    mirrors: tuple[str, ...]
    remotes: dict[str, download.RemoteFile]   # by file stem
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]


def _remote(stem: str, md5: str, content_md5: str | None = None, *,
            size: int) -> tuple[str, download.RemoteFile]:
    return stem, download.RemoteFile(stem + ".gz", md5=md5, content_md5=content_md5,
                                     size=size)


# The `md5` values are of the original .gz files on the mirrors; `content_md5` of the
# decompressed IDX files (the digests a recompressed copy still matches). `size` is of the
# original .gz file and bounds a download (see `download.size_limit`).
MNIST = IdxDatasetInfo(
    name="mnist",
    dir_names=("mnist", "MNIST", "MNIST/raw"),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    remotes=dict([
        _remote("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "6bbc9ace898e44ae57da46a324031adb", size=9_912_422),
        _remote("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432",
                "a25bea736e30d166cdddb491f175f624", size=28_881),
        _remote("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3",
                "2646ac647ad5339dbf082846283269ea", size=1_648_877),
        _remote("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c",
                "27ae3e4e09519cfbb04c329615203637", size=4_542),
    ]),
    classes=tuple(str(d) for d in range(10)),
    mean=(0.1307,),
    std=(0.3081,),
)

FASHION_MNIST = IdxDatasetInfo(
    name="fashion_mnist",
    dir_names=("fashion_mnist", "fashion-mnist", "FashionMNIST", "FashionMNIST/raw"),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    remotes=dict([
        _remote("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", size=26_421_880),
        _remote("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe", size=29_515),
        _remote("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79", size=4_422_102),
        _remote("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310", size=5_148),
    ]),
    classes=("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
             "sneaker", "bag", "ankle boot"),
    mean=(0.2860,),
    std=(0.3530,),
)


def _split_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) paths of `split` in `directory`, raw preferred over .gz."""
    found = []
    for stem in _STEMS[split]:
        for name in (stem, stem + ".gz"):
            if (directory / name).is_file():
                found.append(directory / name)
                break
        else:
            return None
    return found[0], found[1]


def load_split(images_path: Path, labels_path: Path, num_classes: int) -> ImageTensorDataset:
    """Read one split's IDX pair and check that they agree with each other."""
    images = read_idx(images_path, ndim=3, dims=(None, 28, 28))
    labels = read_idx(labels_path, ndim=1)
    if labels.shape[0] != images.shape[0]:
        raise UserError(f"`{labels_path}` has {labels.shape[0]} labels but `{images_path}` has "
                        f"{images.shape[0]} images")
    if labels.dtype.kind != "u" or (labels.size and int(labels.max()) >= num_classes):
        raise UserError(f"`{labels_path}` has labels outside 0..{num_classes - 1}")
    # frombuffer arrays are read-only; torch wants a writable one, so copy once here.
    return ImageTensorDataset(torch.from_numpy(images.copy()).unsqueeze(1),
                              torch.from_numpy(labels.astype("int64")))


def load(info: IdxDatasetInfo, *, data_path, split: str, download_missing: bool,
         mirrors=None) -> DatasetSpec:
    """Find (or download) and load one split of an MNIST-format dataset."""
    file_split = "train" if split == "train" else "test"
    roots = locate.search_roots(data_path)
    other = FASHION_MNIST if info.name == MNIST.name else MNIST
    dirs = locate.candidate_dirs(roots, info.dir_names,
                                 foreign_names=[Path(n).parts[0] for n in other.dir_names])
    directory, files = locate.find_first(dirs, lambda d: _split_files(d, file_split))
    if files is None:
        stems = _STEMS[file_split]
        if not download_missing:
            raise UserError(f"{info.name} {split} files `{stems[0]}[.gz]` and `{stems[1]}[.gz]` "
                            f"not found in {locate.show(dirs)}; pass `--data-path` or allow "
                            f"downloading")
        directory = locate.download_dir(data_path, info.dir_names[0])
        mirror_list = download.mirrors_for(info.mirrors, mirrors)
        download.fetch_all([info.remotes[s] for s in stems], directory, mirror_list,
                           what=info.name)
        files = _split_files(directory, file_split)
    dataset = load_split(files[0], files[1], len(info.classes))
    return DatasetSpec(name=info.name, split=split, dataset=dataset,
                       num_classes=len(info.classes), input_shape=(1, 28, 28), mean=info.mean,
                       std=info.std, classes=info.classes, source=directory)


def known_digests(info: IdxDatasetInfo, source: Path) -> list[tuple[Path, download.RemoteFile]]:
    """The IDX files in `source` with the digests they must match (of the original .gz or
    of the content), for verifying local copies."""
    found = []
    for split in ("train", "test"):
        files = _split_files(source, split)
        for stem, path in zip(_STEMS[split], files or (), strict=False):
            found.append((path, info.remotes[stem]))
    return found

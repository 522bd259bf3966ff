"""The dataset names the program's `--dataset` accepts, and `get_dataset` on top of them.

Each name maps to a loader function in its own module (`mnist`, `cifar`, `folders`);
aliases cover the spellings people type (`fashion-mnist`, `cifar-10`). An unknown name is
a UserError that suggests the closest known one. `get_test_dataset` resolves
`--test-dataset`, which may be another dataset name or a folder of images, and checks it
is compatible with what the model was trained on.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from pathlib import Path

from triton_dsl.data.spec import DatasetSpec
from triton_dsl.errors import UserError

# name -> (kind, downloadable); kind picks the module that loads it.
DATASETS = {
    "mnist": "idx",
    "fashion_mnist": "idx",
    "cifar10": "cifar",
    "cifar100": "cifar",
    "imagenet": "folder",
    "custom": "folder",
}
ALIASES = {
    "fashion-mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "cifar-100": "cifar100",
    "cifar_100": "cifar100",
    "folder": "custom",
    "imagefolder": "custom",
}
SPLITS = ("train", "val", "test")


def dataset_names() -> list[str]:
    """The canonical dataset names, for `--help` and messages."""
    return list(DATASETS)


def canonical_name(name: str) -> str:
    """The registered name for `name` or an alias of it; a UserError otherwise."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key in DATASETS:
        return key
    close = difflib.get_close_matches(key, list(DATASETS) + list(ALIASES), n=1)
    hint = f"did you mean `{ALIASES.get(close[0], close[0])}`?" if close else \
        f"known datasets: {', '.join(DATASETS)}"
    raise UserError(f"unknown dataset `{name}`; {hint}")


def get_dataset(name: str, *, data_path: str | os.PathLike | None = None, split: str = "train",
                download: bool = True, image_size: int | None = None,
                mirrors: list[str] | None = None) -> DatasetSpec:
    """Find, download when missing and allowed, and load one split of a dataset.

    `split` is "train", "val" or "test"; MNIST, Fashion-MNIST and CIFAR have one
    held-out split, which "val" and "test" both name. `image_size` sets the square size
    image-folder datasets are brought to (default 224); the in-memory datasets have fixed
    sizes. `mirrors` replaces the download mirrors (tests only).
    """
    key = canonical_name(name)
    if split not in SPLITS:
        raise UserError(f"unknown split `{split}`; expected one of {', '.join(SPLITS)}")
    kind = DATASETS[key]
    if kind == "idx":
        from triton_dsl.data import mnist

        info = mnist.MNIST if key == "mnist" else mnist.FASHION_MNIST
        return mnist.load(info, data_path=data_path, split=split, download_missing=download,
                          mirrors=mirrors)
    if kind == "cifar":
        from triton_dsl.data import cifar

        info = cifar.CIFAR10 if key == "cifar10" else cifar.CIFAR100
        return cifar.load(info, data_path=data_path, split=split, download_missing=download,
                          mirrors=mirrors)
    from triton_dsl.data import folders

    return folders.load(key, data_path=data_path, split=split, image_size=image_size)


def get_test_dataset(test_dataset: str | os.PathLike, *, like: DatasetSpec,
                     data_path: str | os.PathLike | None = None,
                     download: bool = True) -> DatasetSpec:
    """The evaluation split named by `--test-dataset`, checked against the training spec.

    `test_dataset` is a dataset name (its test split is loaded, looked up like any
    dataset), or a directory of images: its `val/` or `test/` subfolder when it has one,
    else the directory itself, with one subdirectory per class. Folder images are brought
    to `like`'s channels and size. The result must have `like`'s number of classes and
    input shape, and is normalized with `like`'s mean and std (the statistics the model
    was trained with).
    """
    text = os.fspath(test_dataset)
    path = Path(text).expanduser()
    if path.is_dir():
        from triton_dsl.data import folders

        folder = folders.find_split_dir(path, "test") or path
        channels, height, width = like.input_shape
        if height != width:
            raise UserError(f"image folders give square images; the model takes {height}x{width}")
        # Class directories named like the training classes get the training indices (a
        # class without test images is fine); otherwise the folder's own sorted classes.
        own = folders.class_dirs(folder)
        classes = list(like.classes) if like.classes and set(own) <= set(like.classes) else None
        spec = folders.load_folder(folder, name=text, split="test", image_size=height,
                                   channels=channels, classes=classes, mean=like.mean,
                                   std=like.std, source=path)
    else:
        try:
            spec = get_dataset(text, data_path=data_path, split="test", download=download,
                               image_size=like.input_shape[1])
        except UserError:
            if os.sep in text or text.startswith("."):
                raise UserError(f"test dataset folder `{text}` does not exist") from None
            raise
    if spec.num_classes != like.num_classes:
        raise UserError(f"test dataset `{text}` has {spec.num_classes} classes, the training "
                        f"dataset {like.name} has {like.num_classes}")
    if tuple(spec.input_shape) != tuple(like.input_shape):
        raise UserError(f"test dataset `{text}` gives {list(spec.input_shape)} images, the model "
                        f"was trained on {list(like.input_shape)}")
    return replace(spec, mean=like.mean, std=like.std)

"""Image-folder datasets: ImageNet and custom data laid out as `<split>/<class>/<image>`.

The layout is torchvision's `ImageFolder`: `train/<class>/*.jpg`, `val/<class>/*.jpg`
(`test/` is accepted where `val/` is absent, and the reverse). Classes are the sorted
subdirectory names of the training folder, so `num_classes` comes from the data and the
program checks it against `--num-classes`.

A corrupt or unreadable image is skipped with a `CorruptImageWarning` naming the file (once
per file per process), not fatal: one bad JPEG in a million should not end a day of
training. The collate function drops the skipped samples, so such a batch is one image
short. An empty folder (no class directories, or no images in them) is a UserError.

Only regular files (or links to them) are images: a FIFO, socket or device named `*.png`
would block the first read forever (a FIFO with no writer) or never end (a device), so such
entries are skipped with a warning when the folder is listed, by `stat` alone. Reading
opens with `O_NONBLOCK` and checks the opened file again (`open_regular`), in case the entry
was swapped after the listing.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from pathlib import Path

from torch.utils.data import default_collate
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from triton_dsl.data import locate
from triton_dsl.data.spec import DatasetSpec
from triton_dsl.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_IMAGE_SIZE = 224

# Which directory a split name means, in order of preference.
_SPLIT_DIRS = {"train": ("train",), "val": ("val", "test"), "test": ("test", "val")}


class CorruptImageWarning(UserWarning):
    """An image file that could not be decoded was skipped."""


_warned: set[str] = set()


def _warn_once(path: str, text: str) -> None:
    if path not in _warned:
        _warned.add(path)
        warnings.warn(text, CorruptImageWarning, stacklevel=3)


def open_regular(path: str):
    """`open(path, "rb")` for a regular file; OSError for anything else, without blocking.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the
    opened file is then checked with fstat before a byte is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_image_file(path: str) -> bool:
    """An image file of the folder: an image extension and a regular file (see the top)."""
    if not has_file_allowed_extension(path, IMG_EXTENSIONS):
        return False
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        regular = False  # a dangling link: nothing to read
    if not regular:
        _warn_once(path, f"skipping `{path}`: not a regular file")
    return regular


def load_image(path: str, mode: str):
    """Open `path` as a PIL image in `mode` ("RGB" or "L"), or None when it is corrupt."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open_regular(path) as f:
            image = Image.open(f)
            image.load()
            return image.convert(mode)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError,
            Image.DecompressionBombError) as e:
        _warn_once(path, f"skipping corrupt image `{path}`: {e}")
        return None


def _make_image_folder(root: Path, mode: str, classes: list[str] | None):
    """An `ImageFolder` over `root` whose unreadable images come back as None."""
    from torchvision.datasets import ImageFolder

    class SkippingImageFolder(ImageFolder):
        def find_classes(self, directory):
            if classes is None:
                return super().find_classes(directory)
            return list(classes), {name: i for i, name in enumerate(classes)}

        def __getitem__(self, index):
            path, target = self.samples[index]
            image = load_image(path, mode)
            if image is None:
                return None
            if self.transform is not None:
                image = self.transform(image)
            return image, target

    try:
        return SkippingImageFolder(str(root), loader=lambda p: load_image(p, mode),
                                   is_valid_file=is_image_file, allow_empty=True)
    except FileNotFoundError as e:
        raise UserError(f"image folder `{root}` has no class directories: {e}") from None


def collate_skipping_none(batch):
    """`default_collate` after dropping skipped (None) samples; None when none is left."""
    kept = [sample for sample in batch if sample is not None]
    return default_collate(kept) if kept else None


def class_dirs(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def find_split_dir(root: Path, split: str) -> Path | None:
    """`root/train`, `root/val` (or `root/test`) for `split`, if it exists."""
    for name in _SPLIT_DIRS[split]:
        if (root / name).is_dir():
            return root / name
    return None


def load_folder(folder: Path, *, name: str, split: str, image_size: int, channels: int = 3,
                classes: list[str] | None = None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                source: Path | None = None) -> DatasetSpec:
    """An image-folder split as a DatasetSpec.

    `classes` fixes the class list (evaluation splits use the training split's, so class
    indices agree even when a class has no validation images); otherwise the folder's
    subdirectories are the classes.
    """
    if classes is None:
        found = class_dirs(folder)
        if not found:
            raise UserError(f"image folder `{folder}` is empty: expected one subdirectory per "
                            f"class holding its images")
    dataset = _make_image_folder(folder, "L" if channels == 1 else "RGB", classes)
    if len(dataset) == 0:
        raise UserError(f"image folder `{folder}` holds no images (looked for "
                        f"{', '.join(IMG_EXTENSIONS)} files in its class directories)")
    if len(mean) != channels:
        mean, std = (sum(mean) / len(mean),) * channels, (sum(std) / len(std),) * channels
    return DatasetSpec(name=name, split=split, dataset=dataset, num_classes=len(dataset.classes),
                       input_shape=(channels, image_size, image_size), mean=tuple(mean),
                       std=tuple(std), classes=tuple(dataset.classes),
                       source=source or folder)


def load(name: str, *, data_path, split: str, image_size: int | None = None) -> DatasetSpec:
    """Find `<root>/<split>/` for ImageNet or a custom dataset (no download exists)."""
    size = image_size or DEFAULT_IMAGE_SIZE
    dirs = locate.candidate_dirs(locate.search_roots(data_path), (name,))
    root, folder = locate.find_first(dirs, lambda d: find_split_dir(d, split))
    if folder is None:
        wanted = " or ".join(f"`{d}/`" for d in _SPLIT_DIRS[split])
        hint = "pass `--data-path` pointing at the folder that holds it" if not data_path else \
            "check `--data-path`"
        raise UserError(f"{name} {split} folder {wanted} not found in {locate.show(dirs)}; "
                        f"{hint}")
    classes = None
    if split != "train":
        train = find_split_dir(root, "train")
        if train is not None:
            classes = class_dirs(train)
            missing = sorted(set(class_dirs(folder)) - set(classes))
            if missing:
                raise UserError(f"`{folder}` has classes the training folder `{train}` lacks: "
                                f"{', '.join(missing[:5])}")
    return load_folder(folder, name=name, split=split, image_size=size, classes=classes,
                       source=root)

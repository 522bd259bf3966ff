"""Writers of tiny datasets in the real formats, for the data-package tests.

Each builds small files (IDX, CIFAR-10 binary and python, image folders) with random but
seeded content and returns what it wrote, so tests compare what the loaders read against
the source of truth instead of against numbers copied from a run.
"""

from __future__ import annotations

import gzip
import pickle
import socket
from pathlib import Path

import numpy as np

from triton_dsl.data.idx import write_idx


def closed_port_url() -> str:
    """A 127.0.0.1 URL nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def write_mnist(directory: Path, *, train: int = 12, test: int = 6, gz: bool = True,
                seed: int = 0) -> dict[str, np.ndarray]:
    """The four MNIST IDX files with random content; returns the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, test, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        write_idx(directory / (stem + (".gz" if gz else "")), array)
    return arrays


def cifar_records(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
            rng.integers(0, 10, n, dtype=np.uint8))


def write_cifar_binary(directory: Path, *, per_batch: int = 4,
                       gz: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`data_batch_1..5.bin` and `test_batch.bin` (optionally .gz) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, stem in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        images, labels = cifar_records(per_batch, seed=i)
        data = np.concatenate([labels[:, None], images.reshape(per_batch, -1)], axis=1).tobytes()
        name = stem + ".bin" + (".gz" if gz else "")
        if gz:
            with gzip.GzipFile(directory / name, "wb", mtime=0) as f:
                f.write(data)
        else:
            (directory / name).write_bytes(data)
        written[stem] = (images, labels)
    return written


def write_cifar_python(directory: Path, *, per_batch: int = 4) -> dict:
    """`cifar-10-batches-py/` pickles in the official format (dicts with data/labels)."""
    folder = directory / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, stem in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        images, labels = cifar_records(per_batch, seed=10 + i)
        with open(folder / stem, "wb") as f:
            pickle.dump({"data": images.reshape(per_batch, -1), "labels": labels.tolist()}, f)
        written[stem] = (images, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return written


def write_image_folder(root: Path, classes: dict[str, int], *, size: tuple[int, int] = (12, 10),
                       seed: int = 0, fmt: str = "png") -> list[Path]:
    """`root/<class>/<k>.<fmt>` RGB images, `classes[name]` of each; returns the paths.

    JPEGs get smooth content (random noise would not survive compression recognizably).
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for name, count in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(count):
            if fmt == "jpg":
                yy, xx = np.mgrid[0:size[0], 0:size[1]]
                phase = rng.uniform(0, 6, 3)
                pixels = np.stack([np.sin(xx / 7 + p) * np.cos(yy / 5 - p) * 100 + 128
                                   for p in phase], axis=-1).astype(np.uint8)
            else:
                pixels = rng.integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)
            path = root / name / f"{k}.{fmt}"
            Image.fromarray(pixels).save(path, quality=95) if fmt == "jpg" else \
                Image.fromarray(pixels).save(path)
            paths.append(path)
    return paths


def write_cifar100(directory: Path, *, train: int = 5, test: int = 3, python: bool = False):
    """CIFAR-100 `train`/`test` in the binary (`cifar-100-binary/`) or python version.

    Returns {split: (images, fine labels)}; coarse labels are fine // 5 (any value works).
    """
    written = {}
    for i, (stem, n) in enumerate((("train", train), ("test", test))):
        images, _ = cifar_records(n, seed=20 + i)
        fine = np.random.default_rng(30 + i).integers(0, 100, n, dtype=np.uint8)
        written[stem] = (images, fine)
        if python:
            folder = directory / "cifar-100-python"
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / stem, "wb") as f:
                pickle.dump({"data": images.reshape(n, -1), "fine_labels": fine.tolist(),
                             "coarse_labels": (fine // 5).tolist()}, f)
            with open(folder / "meta", "wb") as f:
                pickle.dump({"fine_label_names": [f"fine{k}" for k in range(100)]}, f)
        else:
            folder = directory / "cifar-100-binary"
            folder.mkdir(parents=True, exist_ok=True)
            records = np.concatenate([(fine // 5)[:, None], fine[:, None],
                                      images.reshape(n, -1)], axis=1)
            (folder / f"{stem}.bin").write_bytes(records.astype(np.uint8).tobytes())
    return written

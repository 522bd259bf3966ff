"""Throughput of `triton_dsl.data`'s loaders: images per second, per dataset, path and device.

Prints one table: how long parsing the dataset files takes, then for each loader
configuration the images/s of a full epoch (the device path) or of a fixed number of
batches (the workers path), with the machine, thread count and worker count beside it.
The baseline row is torchvision's `ToTensor`+`Normalize` pipeline through a plain
`DataLoader` over the same in-memory images, the usual way these datasets are loaded.

    PYTHONPATH=python python benchmarks/data_loaders.py --data-path DIR   # real files
    PYTHONPATH=python python benchmarks/data_loaders.py --synthetic       # random images
    ... --folder-images 3000      # also an ImageNet-like folder of generated JPEGs

`--synthetic` makes MNIST- and CIFAR-shaped random uint8 datasets of the real sizes, for
machines without the files (loader speed does not depend on pixel values).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from triton_dsl.data import ImageTensorDataset, get_dataset, make_loader
from triton_dsl.data.spec import DatasetSpec

AUGMENT = {
    "mnist": {"random_crop": {"padding": 2}},
    "cifar10": {"random_crop": {"padding": 4}, "random_horizontal_flip": True},
}


def synthetic(name: str) -> DatasetSpec:
    shape, n, mean, std = {"mnist": ((1, 28, 28), 60000, (0.1307,), (0.3081,)),
                           "cifar10": ((3, 32, 32), 50000, (0.49, 0.48, 0.45),
                                       (0.25, 0.24, 0.26))}[name]
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return DatasetSpec(name=name, split="train", dataset=ImageTensorDataset(images, labels),
                       num_classes=10, input_shape=shape, mean=mean, std=std)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_loader(loader, device, max_batches: int | None) -> tuple[float, int]:
    """Seconds and images for one pass (after a warm-up pass of a few batches)."""
    for i, _ in enumerate(loader):
        if i >= 3:
            break
    sync(device)
    loader.set_epoch(1)
    images = 0
    start = time.perf_counter()
    for i, (x, _) in enumerate(loader):
        images += x.shape[0]
        if max_batches is not None and i + 1 >= max_batches:
            break
    sync(device)
    return time.perf_counter() - start, images


def baseline(spec: DatasetSpec, batch_size: int, workers: int, max_batches: int) -> float:
    """images/s of torchvision ToTensor + Normalize over PIL images through a DataLoader."""
    from torchvision import transforms
    from torchvision.transforms.functional import to_pil_image

    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize(spec.mean, spec.std)])

    class PilDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(spec.dataset)

        def __getitem__(self, i):
            image, label = spec.dataset[i]
            return transform(to_pil_image(image)), label

    loader = torch.utils.data.DataLoader(PilDataset(), batch_size=batch_size, shuffle=True,
                                         num_workers=workers)
    start, images = time.perf_counter(), 0
    for i, (x, _) in enumerate(loader):
        images += x.shape[0]
        if i + 1 >= max_batches:
            break
    return images / (time.perf_counter() - start)


def jpeg_folder(root, count: int, classes: int = 10) -> None:
    """`count` JPEGs of ImageNet's typical size (500x375) in `root/train/<class>/`."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:375, 0:500]
    for i in range(count):
        folder = root / "train" / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        # Smooth content plus mild noise compresses like a photograph, unlike pure noise.
        base = (np.sin(xx / rng.uniform(5, 40)) + np.cos(yy / rng.uniform(5, 40))) * 60 + 128
        pixels = np.stack([base + rng.normal(0, 8, base.shape) for _ in range(3)], axis=-1)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{i}.jpg",
                                                                    quality=90)


def folder_rows(count: int, batch_size: int, workers: int | None, devices) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        jpeg_folder(Path(tmp), count)
        spec = get_dataset("custom", data_path=tmp, split="train", image_size=224)
        for device in devices:
            paths = ("workers", "decode") if device.type == "cuda" else ("workers",)
            for path in paths:
                for train, aug in ((True, {"random_resized_crop": True,
                                           "random_horizontal_flip": True}), (False, None)):
                    loader = make_loader(spec, batch_size=batch_size, train=train,
                                         augmentation=aug, device=device, num_workers=workers,
                                         path=path)
                    seconds, images = time_loader(loader, device, None)
                    label = ",".join(aug) if aug else "resize 256, centre crop (eval)"
                    print(f"{'folder':<9} {path:<8} {device.type:<6} {label:<34} "
                          f"{images / seconds:>12,.0f} {seconds * 1000:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-path", help="where the dataset files are")
    parser.add_argument("--synthetic", action="store_true", help="use random images")
    parser.add_argument("--datasets", default="mnist,cifar10")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--worker-batches", type=int, default=40,
                        help="batches timed on the workers path and the baseline")
    parser.add_argument("--folder-images", type=int, default=0,
                        help="also time an image folder of this many 500x375 JPEGs")
    args = parser.parse_args()

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available()
                                       else [])
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, GPU {gpu}, torch {torch.__version__}")
    print(f"batch size {args.batch_size}\n")
    print(f"{'dataset':<9} {'path':<8} {'device':<6} {'augmentation':<34} "
          f"{'images/s':>12} {'ms/epoch':>9}")
    for name in args.datasets.split(","):
        start = time.perf_counter()
        spec = synthetic(name) if args.synthetic else get_dataset(
            name, data_path=args.data_path, download=False)
        parse_s = time.perf_counter() - start
        what = "(generate random images)" if args.synthetic else \
            "(read files into uint8 tensors)"
        print(f"{name:<9} {'load':<8} {'cpu':<6} {what:<34} "
              f"{len(spec) / parse_s:>12,.0f} {parse_s * 1000:>9.0f}")
        configs = [("device", None), ("device", AUGMENT[name]),
                   ("device", {**AUGMENT[name], "mixup": 0.2}),
                   ("workers", {**AUGMENT[name], "rand_augment": True})]
        for device in devices:
            for path, aug in configs:
                loader = make_loader(spec, batch_size=args.batch_size, train=True,
                                     augmentation=aug, device=device, path=path,
                                     num_workers=args.workers)
                limit = None if path == "device" else args.worker_batches
                seconds, images = time_loader(loader, device, limit)
                epoch_ms = seconds * 1000 * len(spec) / images
                label = ",".join(aug) if aug else "normalize only"
                print(f"{name:<9} {path:<8} {device.type:<6} {label:<34} "
                      f"{images / seconds:>12,.0f} {epoch_ms:>9.0f}")
        workers = args.workers if args.workers is not None else min(8, os.cpu_count() or 1)
        rate = baseline(spec, args.batch_size, workers, args.worker_batches)
        print(f"{name:<9} {'baseline':<8} {'cpu':<6} {'ToTensor+Normalize, PIL, DataLoader':<34} "
              f"{rate:>12,.0f} {len(spec) / rate * 1000:>9.0f}")
    if args.folder_images:
        folder_rows(args.folder_images, args.batch_size, args.workers, devices)


if __name__ == "__main__":
    main()

"""`python -m triton_dsl.data`: fetch a dataset ahead of time, inspect or verify it.

    python -m triton_dsl.data fetch cifar10 [--data-path DIR]   # download if missing, verify
    python -m triton_dsl.data info mnist [--data-path DIR]      # where it is, sizes, classes
    python -m triton_dsl.data verify mnist [--data-path DIR]    # local files vs published MD5s

`fetch` exists for machines that train offline or on several GPUs: downloading once
before the run keeps every rank from fetching the same files. Both load each split, so a
corrupt file is reported here exactly as the training program would report it. `verify`
checks files found locally (which loading never hashes, to stay fast) against the published
digests; it exits with status 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import sys

from triton_dsl.data import cifar, download, mnist
from triton_dsl.data.registry import canonical_name, dataset_names, get_dataset
from triton_dsl.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triton_dsl.data",
                                     description="Fetch or inspect a Triton DSL dataset.")
    parser.add_argument("command", choices=("fetch", "info", "verify"))
    parser.add_argument("dataset", help=f"one of {', '.join(dataset_names())}")
    parser.add_argument("--data-path", metavar="DIR", help="where to look (and download)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="image-folder datasets: the square size images are brought to")
    args = parser.parse_args(argv)
    try:
        for split in ("train", "test"):
            spec = get_dataset(args.dataset, data_path=args.data_path, split=split,
                               download=args.command == "fetch", image_size=args.image_size)
            print(spec.describe())
            if args.command == "info" and split == "train":
                shown = ", ".join(spec.classes[:10]) + (", ..." if len(spec.classes) > 10 else "")
                print(f"classes: {shown}")
                print(f"normalization: mean {spec.mean}, std {spec.std}")
        if args.command == "verify":
            return verify(canonical_name(args.dataset), spec.source)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def verify(name: str, source) -> int:
    """Check the dataset files in `source` against their published digests."""
    if name in ("mnist", "fashion_mnist"):
        files = mnist.known_digests(mnist.MNIST if name == "mnist" else mnist.FASHION_MNIST,
                                    source)
    elif name == "cifar10":
        files = cifar.known_digests(cifar.CIFAR10, source)
    else:
        files = []
    if not files:
        print(f"{name}: no published checksums for the files in {source}")
        return 0
    bad = 0
    for path, remote in files:
        problem = download.verify(path, remote)
        print(f"{'ok' if problem is None else 'MISMATCH'}  {path}" +
              ("" if problem is None else f": {problem}"))
        bad += problem is not None
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

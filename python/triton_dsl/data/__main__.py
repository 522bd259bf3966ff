"""`python -m triton_dsl.data`: fetch a dataset ahead of time, or say what would be loaded.

    python -m triton_dsl.data fetch cifar10 [--data-path DIR]   # download if missing, verify
    python -m triton_dsl.data info mnist [--data-path DIR]      # where it is, sizes, classes

`fetch` exists for machines that train offline or on several GPUs: downloading once
before the run keeps every rank from fetching the same files. Both load each split, so a
corrupt file is reported here exactly as the training program would report it.
"""

from __future__ import annotations

import argparse
import sys

from triton_dsl.data.registry import dataset_names, get_dataset
from triton_dsl.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triton_dsl.data",
                                     description="Fetch or inspect a Triton DSL dataset.")
    parser.add_argument("command", choices=("fetch", "info"))
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
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training throughput of a generated CIFAR-10 model: images/s and time waiting for data.

Runs the model file's own command line (`program.run`, exactly what `python model.py
--train ...` runs) once per variant, reads the per-epoch history the trainer stores in its
last checkpoint, and prints one table: steady-state images/s (epochs after the first, which
pays for cuDNN autotuning and compilation), the share of step time the host spent waiting
for data, and the first epoch's time. The default variants compare eager PyTorch with
`--compile` under `--recipe fast` (batch 512, one-cycle, bf16, channels-last, GPU-resident
data).

Without `--data-path`, CIFAR-10-shaped synthetic files (random pixels, the official binary
layout) are written to a temporary directory: throughput does not depend on pixel values,
and the benchmark then needs no download. Accuracy in that case is chance, and says nothing.

    python benchmarks/train_cifar_speed.py --model examples/basic/resnet18.triton --gpu

`--model` takes a `.triton` file (compiled by the installed `triton` first) or a generated
`.py` file.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from triton_dsl import program
from triton_dsl.compiler import compile_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "examples" / "basic" / "resnet18.triton"


def write_synthetic_cifar(directory: Path, *, train: int = 50000, test: int = 10000) -> Path:
    """CIFAR-10 binary files (label byte + 3072 pixel bytes per record) of random content."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    per_batch = train // 5
    files = [(f"data_batch_{i}.bin", per_batch) for i in range(1, 6)]
    files.append(("test_batch.bin", test))
    for name, count in files:
        records = rng.integers(0, 256, size=(count, 3073), dtype=np.uint8)
        records[:, 0] = rng.integers(0, 10, size=count, dtype=np.uint8)
        (directory / name).write_bytes(records.tobytes())
    return directory


def load_model_file(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_variant(module, script: Path, argv: list[str], output_dir: Path) -> dict:
    captured = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(captured):
        status = program.run(module.Model, info=module.MODEL_INFO, training=module.TRAINING,
                             performance=module.PERFORMANCE, optimization=module.OPTIMIZATION,
                             script=str(script), argv=[*argv, "--output-dir", str(output_dir)])
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"run failed with status {status}:\n{captured.getvalue()}")
    last = max(output_dir.glob("checkpoint_epoch_*.pth"),
               key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    history = torch.load(last, weights_only=True)["history"]
    steady = history[1:] or history
    seconds = sum(e["seconds"] for e in steady)
    return {
        "images_per_second": sum(e["images"] for e in steady) / seconds,
        "data_wait": sum(e["data_wait_share"] * e["seconds"] for e in steady) / seconds,
        "first_epoch_seconds": history[0]["seconds"],
        "epoch_seconds": [round(e["seconds"], 2) for e in history],
        "test_accuracy": max(e["test_accuracy"] for e in history),
        "wall_seconds": wall,
        "log": captured.getvalue(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="a CIFAR-10 model: .triton source or generated .py (default: "
                             "examples/basic/resnet18.triton)")
    parser.add_argument("--data-path", type=Path, help="real CIFAR-10 files (default: synthetic)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--gpu", action="store_true", help="train on GPU 0")
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--variants", default="eager,compile",
                        help="comma-separated: eager, compile")
    parser.add_argument("--max-train-batches", type=int, help="shorter epochs (smoke tests)")
    parser.add_argument("--synthetic", type=int, nargs=2, default=(50000, 10000),
                        metavar=("TRAIN", "TEST"), help="synthetic training and test images")
    parser.add_argument("--verbose", action="store_true", help="print each run's log")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="train-speed-") as scratch:
        scratch = Path(scratch)
        if args.model.suffix in (".triton", ".tri"):
            args.model = compile_file(args.model, scratch / f"{args.model.stem}.py")
        module = load_model_file(args.model)
        data = args.data_path or write_synthetic_cifar(scratch / "cifar10",
                                                         train=args.synthetic[0],
                                                         test=args.synthetic[1])
        base = ["--train", "--dataset", "cifar10", "--data-path", str(data), "--epochs",
                str(args.epochs), "--no-progress", "--no-download"]
        if args.recipe:
            base += ["--recipe", args.recipe]
        if args.gpu:
            base += ["--gpu"]
        if args.max_train_batches:
            base += ["--max-train-batches", str(args.max_train_batches)]
        rows = []
        for variant in args.variants.split(","):
            argv = base + (["--compile"] if variant == "compile" else [])
            result = run_variant(module, args.model, argv, scratch / variant)
            if args.verbose:
                print(result["log"])
            rows.append((variant, result))

    device = torch.cuda.get_device_name(0) if args.gpu else platform.processor() or "cpu"
    print(f"model {args.model.name}, recipe {args.recipe or '-'}, "
          f"{'real' if args.data_path else 'synthetic'} CIFAR-10, {args.epochs} epochs, "
          f"device {device}, torch {torch.__version__}, python {sys.version.split()[0]}")
    print(f"{'variant':<10} {'images/s':>10} {'data wait':>10} {'epoch 1 (s)':>12} "
          f"{'epochs (s)':>24} {'best acc':>9}")
    for variant, r in rows:
        print(f"{variant:<10} {r['images_per_second']:>10,.0f} {100 * r['data_wait']:>9.1f}% "
              f"{r['first_epoch_seconds']:>12.1f} {r['epoch_seconds']!s:>24} "
              f"{100 * r['test_accuracy']:>8.2f}%")


if __name__ == "__main__":
    main()

"""Test accuracy of one network under several quantization sections, trained the same way.

Takes a `.triton` model (default: examples/basic/resnet18.triton, the TWN ResNet-18),
writes one copy per variant with a `quantization` section placed in the model (before its
`training` section), compiles each, trains each with the same command line (by default
`--recipe fast` on real CIFAR-10), and prints one table: best test accuracy, packed size and
training time per variant. The variants:

- `twn`: the file as written (ternary weights, one scale per output channel);
- `ttq`: trained ternary quantization on every ternary layer (`weights: "ttq"`);
- `mixed`: float first and last layers (`float_layers: ["first", "last"]`), ternary elsewhere;
- `mixed_int8`: as `mixed`, with 8-bit activations on the ternary layers;
- `int8_act`: ternary weights with 8-bit activations everywhere (QAT, `activation_bits: 8`);
- `int4_weights`, `int8_weights`: 4-bit or 8-bit weights everywhere (per-channel symmetric).

    python benchmarks/quantization_variants.py --data-path DIR --gpu --keep-runs runs/variants

With `--keep-runs DIR` each variant's model file, generated program (`DIR/<stem>_<variant>.py`)
and checkpoints (`DIR/<variant>/`, the best and the last epoch's) stay, for exports and
agreement checks; otherwise they go to a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from triton_dsl import program
from triton_dsl.compiler import load_module

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "examples" / "basic" / "resnet18.triton"

VARIANTS = {
    "twn": None,
    "ttq": 'weights: "ttq"',
    "mixed": 'float_layers: ["first", "last"]',
    "mixed_int8": 'float_layers: ["first", "last"]\n        activation_bits: 8',
    "int8_act": "activation_bits: 8",
    "int4_weights": 'weights: "int4"',
    "int8_weights": 'weights: "int8"',
}


def with_quantization(source: str, section: str | None) -> str:
    """The model text with `quantization { section }` inserted before the model's
    `training` section (the first line that opens one)."""
    if section is None:
        return source
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip().startswith("training {"):
            indent = line[: len(line) - len(line.lstrip())]
            block = f"{indent}quantization {{\n{indent}    {section}\n{indent}}}\n\n"
            return "".join(lines[:i]) + block + "".join(lines[i:])
    raise SystemExit("the model has no `training {` section to place the quantization before")


def train(module, script: Path, argv: list[str]) -> int:
    return program.run(module.Model, info=module.MODEL_INFO, training=module.TRAINING,
                       performance=module.PERFORMANCE, optimization=module.OPTIMIZATION,
                       script=str(script), argv=argv)


def best_accuracy(run_dir: Path) -> float:
    last = max(run_dir.glob("checkpoint_epoch_*.pth"),
               key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    history = torch.load(last, map_location="cpu", weights_only=True)["history"]
    return max(e["test_accuracy"] for e in history)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--variants", default="twn,ttq,mixed,int8_act",
                        help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--data-path", type=Path, required=True)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--recipe", default="fast", help="'' for the training section as written")
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--max-train-batches", type=int, help="shorter epochs (smoke tests)")
    parser.add_argument("--keep-runs", type=Path, help="keep each variant's checkpoints here")
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")

    source = args.model.read_text()
    rows = []
    with tempfile.TemporaryDirectory(prefix="quant-variants-") as scratch:
        scratch = Path(scratch)
        runs = args.keep_runs or scratch / "runs"
        for name in names:
            runs.mkdir(parents=True, exist_ok=True)
            variant_source = runs / f"{args.model.stem}_{name}.triton"
            variant_source.write_text(with_quantization(source, VARIANTS[name]))
            module = load_module(variant_source, runs)  # writes runs/<stem>_<variant>.py
            script = runs / f"{variant_source.stem}.py"
            run_dir = runs / name
            argv = ["--train", "--dataset", args.dataset, "--data-path", str(args.data_path),
                    "--no-progress", "--no-download", "--output-dir", str(run_dir),
                    "--keep-checkpoints", "1"]
            if args.recipe:
                argv += ["--recipe", args.recipe]
            if args.gpu:
                argv += ["--gpu"]
            if args.epochs:
                argv += ["--epochs", str(args.epochs)]
            if args.max_train_batches:
                argv += ["--max-train-batches", str(args.max_train_batches)]
            started = time.perf_counter()
            status = train(module, script, argv)
            seconds = time.perf_counter() - started
            if status != 0:
                print(f"{name}: training failed with status {status}", file=sys.stderr)
                return status
            packed = sorted(run_dir.glob("*.tpk"))
            size_kb = packed[0].stat().st_size / 1024 if packed else float("nan")
            rows.append((name, VARIANTS[name], best_accuracy(run_dir), size_kb, seconds))

    device = torch.cuda.get_device_name(0) if args.gpu else "cpu"
    print(f"\nmodel {args.model.name}, dataset {args.dataset}, recipe {args.recipe or '-'}, "
          f"device {device}, torch {torch.__version__}")
    print("| variant | quantization section | best test accuracy | packed .tpk | training wall time |")
    print("| --- | --- | --- | --- | --- |")
    for name, section, accuracy, size_kb, seconds in rows:
        text = "(none: as written)" if section is None else section.replace("\n        ", "; ")
        print(f"| {name} | `{text}` | {100 * accuracy:.2f}% | {size_kb:,.0f} KB | {seconds:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`--calibrate N`: what the exports measure on N batches of the training split.

`--export-packed --calibrate N` deploys a float-activation checkpoint with 8-bit ones. The
program measures the float model's test accuracy (PyTorch eval), calibrates the
activation ranges on N batches of the training split (`triton_dsl.export.calibration`:
eval-mode preprocessing, no augmentation, a fixed shuffled order from the run's seed),
writes the packed file, and measures the written file's accuracy through the native
engine on the same test batches. The table it prints puts the two side by side, with the
PyTorch eval accuracy of the calibrated model between them (what the engine matches to
float rounding), so a drop can be told apart from a parity problem.

`--export-onnx|--export-tflite --integer --calibrate N` does the same for the runtimes'
int8 kernels: ternary layers trained with float activations are calibrated to 8 bits on the
N batches (layers trained with `activation_bits: 8` keep their ranges), then the output
ranges the compiler's -O3 integer lowering needs where a layer's output feeds no other
8-bit layer are measured on the same batches (`calibration.output_ranges`). The compiler
treats a layer whose weights file holds `<path>.input_amax` as an 8-bit layer, so the
calibrated checkpoint lowers like a QAT one. A model with no ternary layer is refused
rather than written as a float file the user did not ask for.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from triton_dsl.errors import UserError
from triton_dsl.export import calibration
from triton_dsl.program import datasets
from triton_dsl.train.distributed import DistContext
from triton_dsl.train.evaluate import evaluate
from triton_dsl.train.report import format_accuracy


@dataclass(frozen=True)
class Accuracy:
    correct: int
    total: int

    @property
    def value(self) -> float:
        return self.correct / self.total if self.total else 0.0


def calibration_batches(splits: datasets.Splits, config, count: int, workers: int | None):
    """The first `count` batches of the training split, preprocessed as for evaluation
    (normalization only) in a shuffled order fixed by the seed."""
    from triton_dsl import data

    loader = data.make_loader(splits.train, batch_size=config.batch_size, train=False,
                              shuffle=True, seed=config.seed, augmentation=config.augmentation,
                              device=torch.device("cpu"), num_workers=workers)
    batches = list(itertools.islice(iter(loader), count))
    if len(batches) < count:
        print(f"note: the training split has {len(batches)} batches of {config.batch_size}; "
              f"calibrating on all of them", file=sys.stderr)
    return batches


def engine_accuracy(path: Path, loader, threads: int | None) -> Accuracy:
    """Top-1 accuracy of the packed file through the native engine."""
    from triton_dsl import native

    engine = native.load(path, threads=threads or 0)
    correct = total = 0
    for images, targets in loader:
        logits = engine.run(np.ascontiguousarray(images.cpu().numpy(), dtype=np.float32))
        correct += int((logits.argmax(axis=1) == targets.cpu().numpy()).sum())
        total += int(targets.shape[0])
    return Accuracy(correct, total)


def torch_accuracy(model: nn.Module, loader) -> Accuracy:
    result = evaluate(model, loader, device=torch.device("cpu"))
    return Accuracy(result.correct, result.total)


def calibrate_for_export(context, args, model: nn.Module, config) -> tuple[Accuracy, object]:
    """Calibrates `model` in place on `args.calibrate` training batches; returns the float
    test accuracy measured before, and the test loader."""
    splits = datasets.load_splits(context, args, need_train=True)
    loader = datasets.test_loader(splits.test, config, device=torch.device("cpu"),
                                  dist=DistContext(), workers=args.workers)
    float_accuracy = torch_accuracy(model, loader)
    batches = calibration_batches(splits, config, args.calibrate, args.workers)
    method = args.calibration_method or calibration.DEFAULT_METHOD
    layers = calibration.calibrate_activations(model, batches, method=method)
    if layers == 0:
        print("note: --calibrate: no ternary layer has float activations; the file keeps "
              "what the checkpoint has", file=sys.stderr)
    else:
        print(f"calibrated {layers} layer{'s' if layers != 1 else ''} to 8-bit activations "
              f"on {len(batches)} training batch{'es' if len(batches) != 1 else ''} of "
              f"{config.batch_size} ({_described(method)})", flush=True)
    return float_accuracy, loader


def output_ranges_for_export(context, args, model: nn.Module, config) -> dict:
    """The `<path>.output_amax` tensors of `model` for an `--integer` export, measured on
    `args.calibrate` training batches. Ternary layers trained with float activations are
    first calibrated to 8 bits on the same batches (post-training quantization, as
    `--export-packed --calibrate` does); layers trained with `activation_bits: 8` keep their
    learned ranges. A `UserError` when the model has no ternary layer at all."""
    splits = datasets.load_splits(context, args, need_train=True)
    batches = calibration_batches(splits, config, args.calibrate, args.workers)
    method = args.calibration_method or calibration.DEFAULT_METHOD
    switched = calibration.calibrate_activations(model, batches, method=method)
    if not calibration.eight_bit_layers(model):
        raise UserError(f"--integer: `{context.model_name}` has no ternary layer whose "
                        f"activations could be 8-bit, so its graph has nothing to run on int8 "
                        f"kernels; export without --integer")
    ranges = calibration.output_ranges(model, batches, method=method)
    plural = "es" if len(batches) != 1 else ""
    if switched:
        print(f"calibrated {switched} layer{'s' if switched != 1 else ''} to 8-bit "
              f"activations on {len(batches)} training batch{plural}", flush=True)
    print(f"measured {len(ranges)} output range{'s' if len(ranges) != 1 else ''} for the "
          f"integer graph on {len(batches)} training batch{plural} "
          f"of {config.batch_size} ({_described(method)})", flush=True)
    return ranges


def _described(method: str) -> str:
    return (f"percentile {calibration.DEFAULT_PERCENTILE:g}" if method == "percentile"
            else method)


def report(model: nn.Module, packed: Path, loader, float_accuracy: Accuracy,
           threads: int | None) -> str:
    """The accuracy table of a calibrated export."""
    from triton_dsl import native

    rows = [("PyTorch eval, float activations", float_accuracy),
            ("PyTorch eval, calibrated 8-bit", torch_accuracy(model, loader))]
    if native.available():
        rows.append(("native engine, calibrated 8-bit", engine_accuracy(packed, loader,
                                                                         threads)))
    else:
        print("note: the native engine is not built; its accuracy is not measured",
              file=sys.stderr)
    width = max(len(name) for name, _ in rows)
    lines = [f"{'test accuracy':<{width}} | {'top-1':>8} | {'correct':>13} | {'vs float':>8}",
             f"{'-' * width}-|-{'-' * 8}-|-{'-' * 13}-|-{'-' * 8}"]
    for name, acc in rows:
        delta = (acc.value - float_accuracy.value) * 100
        shown = "-" if acc is float_accuracy else f"{delta:+.2f} pt"
        lines.append(f"{name:<{width}} | {format_accuracy(acc.value):>8} | "
                     f"{f'{acc.correct}/{acc.total}':>13} | {shown:>8}")
    return "\n".join(lines)


#!/usr/bin/env python3
"""MNIST test accuracy of a trained model through PyTorch and through the native engine.

Usage:
  python benchmarks/engine_mnist_accuracy.py --model simple_mlp.py \
      --checkpoint simple_mlp_best.pth --packed simple_mlp.tpk --data-path DIR

The model file is the program `triton compile` generated; the checkpoint its best weights;
the packed file what training wrote beside them (or `--export-packed`). Both paths see the
same normalized float32 test images (the model's `augmentation.normalize`, else the
dataset's defaults). The table gives each accuracy, how many predictions differ, and the
largest relative error of the engine's logits against PyTorch's eval-mode logits.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from triton_dsl import native
from triton_dsl.data import get_dataset


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--packed", type=Path, required=True)
    parser.add_argument("--data-path", type=Path)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    module = load_module(args.model)
    model = module.Model()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state.get("model", state))
    model.eval()
    engine = native.load(str(args.packed))

    spec = get_dataset(args.dataset, data_path=args.data_path, split="test", download=False)
    normalize = module.TRAINING.get("augmentation", {}).get("normalize", {})
    mean = torch.tensor(normalize.get("mean", spec.mean)).view(-1, 1, 1)
    std = torch.tensor(normalize.get("std", spec.std)).view(-1, 1, 1)
    images = torch.stack([image for image, _ in spec.dataset])
    labels = torch.tensor([int(label) for _, label in spec.dataset])

    torch_correct = engine_correct = differing = 0
    worst = 0.0
    with torch.no_grad():
        for start in range(0, len(labels), args.batch_size):
            x = (images[start:start + args.batch_size].float() / 255 - mean) / std
            y = labels[start:start + args.batch_size]
            reference = model(x).numpy()
            ours = engine.run(np.ascontiguousarray(x.numpy()))
            worst = max(worst, float(np.linalg.norm(ours - reference) /
                                     max(np.linalg.norm(reference), 1e-30)))
            torch_pred = reference.argmax(axis=1)
            engine_pred = ours.argmax(axis=1)
            torch_correct += int((torch_pred == y.numpy()).sum())
            engine_correct += int((engine_pred == y.numpy()).sum())
            differing += int((torch_pred != engine_pred).sum())

    total = len(labels)
    print(f"{'path':<24} {'accuracy':>10} {'correct':>14}")
    print(f"{'PyTorch (eval mode)':<24} {torch_correct / total:>10.2%} "
          f"{torch_correct:>7}/{total}")
    print(f"{'native engine (.tpk)':<24} {engine_correct / total:>10.2%} "
          f"{engine_correct:>7}/{total}")
    print(f"predictions that differ: {differing}; largest relative error of a batch's "
          f"logits: {worst:.2e}")
    return 0 if engine_correct == torch_correct else 1


if __name__ == "__main__":
    sys.exit(main())

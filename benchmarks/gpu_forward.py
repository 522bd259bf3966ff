#!/usr/bin/env python3
"""Times the forward pass of compiled models on a CUDA GPU and checks their parameter counts.

Usage: python benchmarks/gpu_forward.py GENERATED.py [GENERATED.py ...] [--batch 1 8]
Each argument is a module written by `triton compile`; its `Model` is built with the file's
hyper-parameters, put in eval mode on the GPU, and timed with CUDA events (median of many
runs after warm-up) in float32 and under bf16 autocast, at each batch size. The table also
gives the trainable parameter count beside the one the compiler recorded in MODEL_INFO.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from pathlib import Path

import torch


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def input_shape(info: dict, batch: int) -> list[int]:
    dims = info["inputs"][0]["shape"]
    return [batch] + [int(d) for d in dims[1:]]


def time_forward(model, x, autocast: bool, runs: int = 50) -> float:
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        for _ in range(10):
            model(x)
        torch.cuda.synchronize()
        times = []
        for _ in range(runs):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            model(x)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", type=Path)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("error: no CUDA GPU", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    print(f"GPU {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print(f"{'model':<20} {'params':>12} {'compiler':>12} {'batch':>5} "
          f"{'fp32 ms':>9} {'bf16 ms':>9} {'fp32 img/s':>11}")
    for path in args.modules:
        module = load_module(path)
        model = module.Model().cuda().eval()
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        for batch in args.batch:
            x = torch.randn(input_shape(module.MODEL_INFO, batch), device="cuda")
            fp32 = time_forward(model, x, autocast=False)
            bf16 = time_forward(model, x, autocast=True)
            print(f"{module.MODEL_INFO['name']:<20} {params:>12,} "
                  f"{module.MODEL_INFO.get('parameters', 0):>12,} {batch:>5} {fp32:>9.3f} "
                  f"{bf16:>9.3f} {batch * 1000 / fp32:>11,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

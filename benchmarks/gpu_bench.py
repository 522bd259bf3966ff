#!/usr/bin/env python3
"""The packed ternary GPU engine (`triton_dsl.gpu`) against PyTorch bf16 and cuBLAS.

One run prints, with the GPU's name and the versions used:
- ternary linear layers at batch 1 (`linear`: in x out = 4096x4096, 8192x8192, 768x3072,
  3072x768): our 2-bit GEMV against cuBLAS bf16 (`torch.matmul` with the dense weight),
  each as 100 back-to-back calls captured in one CUDA graph and replayed (per-call time),
  and eagerly; the achieved GB/s over the 2-bit weight bytes and its share of the 4.3 TB/s
  peak (H200; `--peak-tbps`); the relative error against the float32 product.
- seed models compiled from `examples/basic/*.triton` with random weights (batch norms
  randomized) and exported to `.tpk` (`vit`: ViT-B/16 at 224, batch 1 and 64; `resnet18`:
  ResNet-18 CIFAR, batch 1 and 1024; `mobilenetv2`, `mlp` on request): our executor
  replayed from its CUDA graph against PyTorch bf16 eager and PyTorch bf16 replayed from a
  CUDA graph (and `torch.compile(mode="reduce-overhead")` with `--torch-compile`), in ms
  and images/s, with each side's maximum relative error against float32 PyTorch eval.
Ratios are theirs / ours (above 1: we are faster). Times are medians of CUDA-event
measurements after warm-up (autotuning happens in the warm-up).

Run (one GPU): `python benchmarks/gpu_bench.py [--quick] [--cases linear,vit,resnet18]
[--out results.md]`. The first run of a shape autotunes every kernel (Triton caches the
compiled kernels on disk, so later runs start faster); each case prints its wall time.
`--smoke` runs tiny cases on the CPU under Triton's interpreter, to check this script
without a GPU (its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

LINEAR_SHAPES = [(4096, 4096), (8192, 8192), (768, 3072), (3072, 768)]  # (in, out)
MODELS = {  # case -> (examples/*/NAME.triton, batches, quick batches)
    "vit": ("vision_transformer", (1, 64), (1, 64)),
    "resnet18": ("resnet18", (1, 1024), (1, 1024)),
    "mobilenetv2": ("mobilenetv2", (1, 64), (1,)),
    "mlp": ("simple_mlp", (1, 1024), (1,)),
}
DEFAULT_CASES = "linear,vit,resnet18"
CALLS_PER_GRAPH = 100


class Timer:
    """Median milliseconds of `fn()` (divided by `inner` calls it makes): CUDA events on a
    GPU, wall clock on the CPU."""

    def __init__(self, torch, device, reps: int, warmup: int) -> None:
        self.torch, self.cuda = torch, device.type == "cuda"
        self.reps, self.warmup = reps, warmup

    def median_ms(self, fn, inner: int = 1) -> float:
        torch = self.torch
        for _ in range(self.warmup):
            fn()
        times = []
        if self.cuda:
            torch.cuda.synchronize()
            for _ in range(self.reps):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / inner)
        else:
            for _ in range(self.reps):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3 / inner)
        return statistics.median(times)


def capture(torch, fn, calls: int):
    """A CUDA graph of `calls` back-to-back `fn()` (warmed up on a side stream first)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return graph


def relative_error(got, want) -> float:
    got, want = got.float(), want.float()
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))


def linear_rows(torch, device, timer, shapes, peak_tbps: float, calls: int) -> list[dict]:
    from triton_dsl.gpu.layers import Linear
    from triton_dsl.gpu.tpk import Ternary

    rows = []
    rng = np.random.default_rng(0)
    for k, n in shapes:
        codes = rng.integers(-1, 2, size=(n, k)).astype(np.int8)
        scales = (rng.random(n) * 0.02 + 0.01).astype(np.float32)
        layer = Linear(Ternary(codes, scales), None, 0, None, device, torch.bfloat16)
        dense = (torch.from_numpy(codes).float() * torch.from_numpy(scales)[:, None]).to(device)
        weight_t = dense.to(torch.bfloat16).t()  # cuBLAS reads the transposed view in place
        x = torch.randn(1, k, device=device, dtype=torch.bfloat16)

        def ours(layer=layer, x=x):
            return layer(x)

        def cublas(x=x, weight_t=weight_t):
            return torch.matmul(x, weight_t)

        with torch.no_grad():
            ours()  # autotunes
            err = relative_error(ours(), x.float() @ dense.t())
            row = {"case": f"linear {k}x{n}", "ours_eager": timer.median_ms(ours),
                   "torch_eager": timer.median_ms(cublas), "err": err}
            if timer.cuda:
                row["ours"] = timer.median_ms(capture(torch, ours, calls).replay, calls)
                row["torch_graph"] = timer.median_ms(capture(torch, cublas, calls).replay, calls)
            else:
                row["ours"], row["torch_graph"] = row["ours_eager"], row["torch_eager"]
        nbytes = layer.words.numel() * 4
        row["gbps"] = nbytes / (row["ours"] * 1e-3) / 1e9
        row["peak"] = row["gbps"] / (peak_tbps * 1e3) * 100
        rows.append(row)
        print(_linear_line(row), flush=True)
    return rows


def model_rows(torch, device, timer, case: str, batches, tmp: Path, compile_: bool,
               smoke: bool) -> list[dict]:
    import seed_models

    from triton_dsl import gpu
    from triton_dsl.export.packed import save_packed

    stem = MODELS[case][0]
    hyper, shape = {}, None
    if smoke:  # tiny variants: the interpreter runs kernels in Python
        hyper, shape = {
            "vit": ({"num_classes": 10, "image_size": 16, "patch_size": 8, "embed_dim": 32,
                     "depth": 1, "num_heads": 2, "mlp_ratio": 2}, (3, 16, 16)),
            "resnet18": ({}, (3, 8, 8)),
            "mobilenetv2": ({"num_classes": 10}, (3, 16, 16)),
            "mlp": ({"hidden": 16}, None),
        }[case]
    model, shape = seed_models.build(seed_models.example_file(stem), shape=shape,
                                     cache_dir=tmp, **hyper)
    path = tmp / f"{stem}.tpk"
    t0 = time.perf_counter()
    report = save_packed(model, path, example_input=torch.randn(2, *shape))
    export_s = time.perf_counter() - t0
    print(f"# {stem}: {report.summary()}; exported in {export_s:.1f} s", flush=True)
    ours = gpu.load(path, device=device)
    reference = copy.deepcopy(model).to(device).eval()  # float32
    theirs = copy.deepcopy(model)
    with torch.no_grad():
        # Latent weights replaced by their ternary values `scale * code`, so the bf16 copy
        # computes with the exported weights rather than re-ternarizing rounded latents.
        for m in theirs.modules():
            if callable(getattr(m, "quantized_weight", None)) and getattr(m, "is_ternary",
                                                                           False):
                m.weight.copy_(m.quantized_weight())
    theirs = theirs.to(device=device, dtype=torch.bfloat16).eval()
    compiled = None
    if compile_ and timer.cuda:
        compiled = torch.compile(theirs, mode="reduce-overhead")
    rows = []
    for batch in batches:
        g = torch.Generator(device="cpu").manual_seed(batch)
        x = torch.randn(batch, *shape, generator=g).to(device)
        xb = x.to(torch.bfloat16)
        with torch.no_grad():
            want = reference(x)
            got = ours.run(x)
            row = {"case": f"{case} b{batch}", "batch": batch, "err": relative_error(got, want),
                   "torch_err": relative_error(theirs(xb), want)}
            if timer.cuda:
                row["ours"] = timer.median_ms(ours.graph(x).replay)
                row["torch_graph"] = timer.median_ms(capture(torch, lambda xb=xb: theirs(xb),
                                                             1).replay)
            else:
                row["ours"] = timer.median_ms(lambda x=x: ours.run(x))
                row["torch_graph"] = float("nan")
            row["torch_eager"] = timer.median_ms(lambda xb=xb: theirs(xb))
            if compiled is not None:
                for _ in range(3):
                    compiled(xb)
                row["torch_compile"] = timer.median_ms(lambda xb=xb: compiled(xb))
        rows.append(row)
        print(_model_line(row), flush=True)
    if timer.cuda:
        torch.cuda.empty_cache()
    return rows


LINEAR_HEAD = ("| linear (batch 1) | ours graph us | cuBLAS graph us | ratio | ours eager us "
               "| cuBLAS eager us | ratio | GB/s (2-bit) | % of peak | rel err |\n"
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
MODEL_HEAD = ("| model | ours graph ms | img/s | torch bf16 graph ms | ratio | torch bf16 eager "
              "ms | ratio | torch.compile ms | ratio | our rel err | torch bf16 rel err |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def _linear_line(r: dict) -> str:
    return (f"| {r['case']} | {r['ours'] * 1e3:.2f} | {r['torch_graph'] * 1e3:.2f} | "
            f"{r['torch_graph'] / r['ours']:.2f}x | {r['ours_eager'] * 1e3:.2f} | "
            f"{r['torch_eager'] * 1e3:.2f} | {r['torch_eager'] / r['ours_eager']:.2f}x | "
            f"{r['gbps']:.0f} | {r['peak']:.0f}% | {r['err']:.1e} |")


def _model_line(r: dict) -> str:
    tc = r.get("torch_compile")
    compiled = f"{tc:.3f} | {tc / r['ours']:.2f}x" if tc else "- | -"
    return (f"| {r['case']} | {r['ours']:.3f} | {r['batch'] * 1e3 / r['ours']:,.0f} | "
            f"{r['torch_graph']:.3f} | {r['torch_graph'] / r['ours']:.2f}x | "
            f"{r['torch_eager']:.3f} | {r['torch_eager'] / r['ours']:.2f}x | {compiled} | "
            f"{r['err']:.1e} | {r['torch_err']:.1e} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=DEFAULT_CASES,
                        help=f"comma-separated, of linear,{','.join(MODELS)} "
                             f"(default {DEFAULT_CASES})")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and batches (the default cases still run)")
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--peak-tbps", type=float, default=4.3,
                        help="memory bandwidth for the %% of peak column (H200: 4.3)")
    parser.add_argument("--torch-compile", action="store_true",
                        help='also time torch.compile(mode="reduce-overhead") (slow to compile)')
    parser.add_argument("--smoke", action="store_true",
                        help="tiny cases on the CPU under Triton's interpreter (checks the "
                             "script; the numbers mean nothing)")
    args = parser.parse_args()
    if args.smoke:
        os.environ["TRITON_INTERPRET"] = "1"  # before any kernel is defined
    import torch
    import triton

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c != "linear" and c not in MODELS]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}")
    if args.smoke:
        device = torch.device("cpu")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        print("error: no CUDA GPU (use --smoke to check the script on the CPU)", file=sys.stderr)
        return 2
    torch.backends.cudnn.allow_tf32 = False  # the float32 reference is float32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    reps, warmup = (3, 1) if args.smoke else ((20, 5) if args.quick else (50, 10))
    timer = Timer(torch, device, reps, warmup)
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor()
    header = (f"# GPU engine benchmark: {name}, torch {torch.__version__}, triton "
              f"{triton.__version__}, CUDA {torch.version.cuda}; medians of {reps} runs")
    print(header, flush=True)
    out = [header, ""]
    with tempfile.TemporaryDirectory() as tmp:
        if "linear" in cases:
            shapes = [(64, 48), (40, 96)] if args.smoke else LINEAR_SHAPES
            print(LINEAR_HEAD, flush=True)
            started = time.perf_counter()
            rows = linear_rows(torch, device, timer, shapes, args.peak_tbps,
                               2 if args.smoke else CALLS_PER_GRAPH)
            print(f"# linear: {time.perf_counter() - started:.0f} s with autotuning",
                  flush=True)
            out += [LINEAR_HEAD, *map(_linear_line, rows), ""]
        model_cases = [c for c in cases if c in MODELS]
        if model_cases:
            print(MODEL_HEAD, flush=True)
            out.append(MODEL_HEAD)
        for case in model_cases:
            started = time.perf_counter()
            batches = (1, 2) if args.smoke else MODELS[case][2 if args.quick else 1]
            rows = model_rows(torch, device, timer, case, batches, Path(tmp),
                              args.torch_compile, args.smoke)
            out += list(map(_model_line, rows))
            print(f"# {case}: {time.perf_counter() - started:.0f} s with export, autotuning "
                  "and graph capture", flush=True)
    if args.out:
        args.out.write_text("\n".join(out) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Native packed-ternary engine vs PyTorch on this machine: latency and packed file size.

For each case (model, batch) the same trained-shape model (random weights, batch norm with
non-trivial statistics), compiled from its `.triton` file by the installed `triton`, runs
three ways with the same thread count:
  - `native`: the `.tpk` file through `triton_dsl.native` (2-bit weights, float32
    activations; 8-bit activations for `simple_mlp_int8`, SimpleMLP with
    `activation_bits: 8`, from benchmarks/models/);
  - `eager`: PyTorch float32 eager on the dequantized weights (each ternary layer replaced
    by a plain `nn.Conv1d`/`nn.Conv2d`/`nn.Linear` holding `scale * code`);
  - `compile`: the same float module through `torch.compile`, where it works.
The three are timed in interleaved rounds (each round runs each once), so the machine's slow
spells fall on all of them alike. It prints the median latency of each, the speed-up of
native over eager, and the packed
sizes at 2 and 1.6 bits. Run: `python benchmarks/native_bench.py [FILE.triton ...]
[--batches 1 32]`; without files it runs the standard cases of the seed models.
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
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_models

from triton_dsl import native
from triton_dsl.export.packed import save_packed

HERE = Path(__file__).resolve().parent
INT8_MLP = HERE / "models" / "simple_mlp_int8.triton"
CASES = [(seed_models.EXAMPLES / "simple_mlp.triton", 1),
         (seed_models.EXAMPLES / "simple_mlp.triton", 128), (INT8_MLP, 1), (INT8_MLP, 128),
         (seed_models.EXAMPLES / "resnet18.triton", 1),
         (seed_models.EXAMPLES / "resnet18.triton", 32),
         (seed_models.EXAMPLES / "mobilenetv2.triton", 1)]
TARGETS = {("simple_mlp", 1): 3.0, ("resnet18", 1): 1.5}


def dequantized(model: nn.Module) -> nn.Module:
    """A float copy: ternary layers become torch.nn layers with weight = scale * code."""
    model = copy.deepcopy(model).eval()
    for name, module in list(model.named_modules()):
        if not getattr(module, "is_ternary", False) or not hasattr(module, "quantized_weight"):
            continue
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            conv = nn.Conv1d if isinstance(module, nn.Conv1d) else nn.Conv2d
            plain = conv(module.in_channels, module.out_channels, module.kernel_size,
                         module.stride, module.padding, module.dilation, module.groups,
                         module.bias is not None)
        else:
            plain = nn.Linear(module.in_features, module.out_features, module.bias is not None)
        with torch.no_grad():
            plain.weight.copy_(module.quantized_weight())
            if module.bias is not None:
                plain.bias.copy_(module.bias)
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        setattr(parent, name.rpartition(".")[2], plain.eval())
    return model


def interleaved_medians(fns: dict, runs: int, warmup: int) -> dict:
    """Median milliseconds of each callable, timed in rounds that run every callable once (in
    a rotating order), so a slow spell of this shared machine hits all of them alike instead
    of whichever happened to be measured then."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times = {name: [] for name in names}
    for i in range(runs):
        for name in names[i % len(names):] + names[:i % len(names)]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def runs_for(name: str, batch: int) -> tuple[int, int]:
    # Relative cost of one image, to keep each case's wall time similar; other files count
    # as a mid-size model.
    work = {"simple_mlp": 1, "simple_mlp_int8": 1, "resnet18": 60, "mobilenetv2": 40,
            "vision_transformer": 400}.get(name, 60) * batch
    runs = max(5, min(200, int(2000 / work)))
    return runs, max(2, runs // 5)


def bench_case(file: Path, batch: int, threads: int, use_compile: bool, tmp: Path,
               cache: dict) -> dict:
    name = file.stem
    if name not in cache:
        model, shape = seed_models.build(file)
        sizes = {}
        for bits in ("2", "1.6"):
            report = save_packed(model, tmp / f"{name}_{bits}.tpk",
                                 example_input=torch.randn(1, *shape), bits=bits)
            sizes[bits] = report.packed_bytes
        cache[name] = (model, dequantized(model), shape, sizes, report.float32_bytes)
    model, float_model, shape, sizes, float_bytes = cache[name]
    engine = native.load(tmp / f"{name}_2.tpk", threads=threads)
    x = torch.randn(batch, *shape)
    x_np = x.numpy()
    # The error column compares like with like: an 8-bit model against its own (fake
    # quantized) PyTorch eval output; the float eager timing still uses float_model.
    int8 = any(getattr(m, "activation_bits", 32) == 8 for m in model.modules())
    with torch.no_grad():
        want = (model if int8 else float_model)(x).numpy()
    got = engine.run(x_np)
    rel = float(np.abs(got - want).max() / np.abs(want).max())
    runs, warmup = runs_for(name, batch)
    row = {"case": f"{name} b{batch}", "runs": runs, "rel_err": rel, "sizes": sizes,
           "float_bytes": float_bytes}
    fns = {"native": lambda: engine.run(x_np), "eager": lambda: float_model(x)}
    row["compile"] = None
    with torch.inference_mode():
        if use_compile:
            try:
                compiled = torch.compile(float_model)
                compiled(x)
                fns["compile"] = lambda: compiled(x)
            except Exception as exc:  # noqa: BLE001 (the table says it did not work)
                row["compile_error"] = f"{type(exc).__name__}"
        row.update(interleaved_medians(fns, runs, warmup))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("files", nargs="*", type=Path,
                        help=".triton files to measure (default: the standard cases)")
    parser.add_argument("--batches", nargs="+", type=int, default=[1],
                        help="batch sizes for the given files (default 1)")
    args = parser.parse_args()
    cases = CASES if not args.files else [(f, b) for f in args.files for b in args.batches]
    torch.set_num_threads(args.threads)
    engine_isa = native.selected_isa()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, threads {args.threads} (both), native isa {engine_isa}")
    header = (f"{'case':24} {'native ms':>10} {'eager ms':>10} {'compile ms':>10} "
              f"{'vs eager':>9} {'target':>7} {'2-bit KB':>9} {'1.6-bit KB':>10} "
              f"{'f32 KB':>9} {'rel err':>9}")
    print(header)
    print("-" * len(header))
    cache: dict = {}
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        for file, batch in cases:
            r = bench_case(Path(file), batch, args.threads, not args.no_compile, Path(tmp),
                           cache)
            ratio = r["eager"] / r["native"]
            target = TARGETS.get((Path(file).stem, batch))
            if target and ratio < target:
                missed.append(r["case"])
            compiled = f"{r['compile']:10.3f}" if r["compile"] is not None else \
                f"{r.get('compile_error', 'skipped')[:10]:>10}"
            print(f"{r['case']:24} {r['native']:10.3f} {r['eager']:10.3f} {compiled} "
                  f"{ratio:8.2f}x {(f'{target:.1f}x' if target else '-'):>7} "
                  f"{r['sizes']['2'] / 1024:9.1f} {r['sizes']['1.6'] / 1024:10.1f} "
                  f"{r['float_bytes'] / 1024:9.1f} {r['rel_err']:9.1e}", flush=True)
    print(f"speed targets missed: {', '.join(missed)}" if missed else "speed targets: all met")
    return 0


if __name__ == "__main__":
    sys.exit(main())

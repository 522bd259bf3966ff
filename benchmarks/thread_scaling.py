"""Native engine latency against thread count: does adding threads ever slow a model down?

For each case (a seed model at a batch size, with float activations and with 8-bit
activations) the same `.tpk` file is loaded once per thread count of `--threads` and the
engines are timed in interleaved rounds (each round runs every thread count once, in a
rotating order), so a slow spell of a shared machine falls on every count alike. The table
gives the median milliseconds per thread count, the speed-up of the fastest count over one
thread, and a "never slower" check: a count passes when its median is at most
`--tolerance` above the best median of every smaller count (issue 12: "the time at N
threads is no worse than at fewer threads").

`--order blocked` times each thread count in one block of consecutive runs instead: its
workers stay warm between runs, where interleaving lets every pool fall asleep while the
other counts run (a server with sporadic requests); a gap between the two orders is the
cost of waking workers. `--profile` adds, under each row that fails the check, the ops whose
time (best of a few `profile()` runs per count) grows with more threads.

The 8-bit variant of a model is its `.triton` file with `activation_bits: 8` added to every
ternary layer (compiled and calibrated like any other, see seed_models.calibrated); the
MLP's is benchmarks/models/simple_mlp_int8.triton. Thread counts above this machine's
hardware threads are dropped with a note (the engine caps them). Run:
`python benchmarks/thread_scaling.py [--threads 1 2 4 8 16] [--cases resnet18:1 ...]`
(a case is a seed model's name or a `.triton` path, a colon and a batch size).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_models

from triton_dsl import native
from triton_dsl.export.packed import save_packed

HERE = Path(__file__).resolve().parent
DEFAULT_CASES = ["simple_mlp:1", "simple_mlp:128", "resnet18:1", "resnet18:32",
                 "mobilenetv2:1", "vision_transformer:1"]
# Hand-written 8-bit variants, used instead of the rewritten source where one exists.
INT8_FILES = {"simple_mlp": HERE / "models" / "simple_mlp_int8.triton"}
TERNARY_LAYER = re.compile(r"\b(Ternary\w*\s*\{)(?![^}]*\bactivation_bits\b)")


def case_file(name: str) -> Path:
    path = Path(name)
    if path.suffix == ".triton":
        return path
    return seed_models.EXAMPLES / f"{name}.triton"


def int8_source(file: Path, tmp: Path) -> Path:
    """The 8-bit-activation variant of `file`: its own hand-written file, or a copy with
    `activation_bits: 8` in every ternary layer that does not set it."""
    if file.stem in INT8_FILES:
        return INT8_FILES[file.stem]
    text, count = TERNARY_LAYER.subn(r"\1 activation_bits: 8,", file.read_text())
    if count == 0:
        raise ValueError(f"{file} has no ternary layer to give 8-bit activations")
    out = tmp / f"{file.stem}_int8.triton"
    out.write_text(text)
    return out


def packed_file(file: Path, int8: bool, tmp: Path, models: Path) -> tuple[Path, tuple]:
    """The `.tpk` of `file` (8-bit variant when `int8`), written under `models` unless it is
    already there, and the model's input shape without the batch."""
    source = int8_source(file, tmp) if int8 else file
    module = seed_models.module_for(source)
    shape = seed_models.input_shape(module)
    path = models / f"{file.stem}{'_int8' if int8 else ''}.tpk"
    if not path.exists():
        model, shape = seed_models.build(source)
        save_packed(model, path, example_input=torch.randn(1, *shape))
    return path, shape


def medians_of(fns: dict, rounds: int, warmup: int, blocked: bool) -> dict:
    """Median milliseconds of each callable: in interleaved rounds (each runs once per round,
    in a rotating order), or in blocks (all rounds of one, then the next)."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times = {name: [] for name in names}
    schedule = ([[name] * rounds for name in names] if blocked else
                [names[i % len(names):] + names[:i % len(names)] for i in range(rounds)])
    for group in schedule:
        for name in group:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def slower_ops(engines: dict, x: np.ndarray, rounds: int, tolerance: float) -> list[str]:
    """The ops whose best time over `rounds` profile() runs per thread count is above their
    best at a smaller count, worst first, as printable lines."""
    counts = sorted(engines)
    best: dict = {}
    for i in range(rounds):
        for n in counts[i % len(counts):] + counts[:i % len(counts)]:
            for op, (kind, ms) in enumerate(engines[n].profile(x)):
                key = (op, kind)
                best.setdefault(key, {})
                best[key][n] = min(best[key].get(n, ms), ms)
    lines = []
    for (op, kind), ms in best.items():
        loss = max(ms[n] - min(ms[c] for c in counts if c < n) for n in counts[1:])
        if loss > 0 and any(ms[n] > min(ms[c] for c in counts if c < n) * (1 + tolerance)
                            for n in counts[1:]):
            lines.append((loss, f"    op {op} {kind}: " + " ".join(f"{ms[n]:.3f}" for n in counts)
                          + f" ms (loses {loss:.3f} ms)"))
    return [line for _, line in sorted(lines, reverse=True)[:8]]


def never_slower(medians: dict, tolerance: float) -> str:
    """'ok', or the first thread count that is slower than a smaller one, and by how much."""
    counts = sorted(medians)
    for i, n in enumerate(counts[1:], 1):
        best = min(counts[:i], key=lambda c: medians[c])
        if medians[n] > medians[best] * (1 + tolerance):
            return f"NO: {n} vs {best} +{100 * (medians[n] / medians[best] - 1):.0f}%"
    return "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2, 4, 8, 16])
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES,
                        help="NAME:BATCH, NAME a seed model or a .triton file")
    parser.add_argument("--activations", nargs="+", choices=["f32", "int8"],
                        default=["f32", "int8"])
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="timing budget per case and activation kind (default 8)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="how much slower than a smaller count still passes (default 0.05)")
    parser.add_argument("--order", choices=["interleaved", "blocked"], default="interleaved",
                        help="rounds rotating over the counts, or one block per count")
    parser.add_argument("--profile", action="store_true",
                        help="list the ops that grow with more threads under failing rows")
    parser.add_argument("--models", type=Path,
                        help="folder for the .tpk files, reused when present (default: a "
                             "temporary folder)")
    args = parser.parse_args()
    hardware = os.cpu_count() or 1
    counts = sorted({n for n in args.threads if 1 <= n <= hardware})
    dropped = sorted({n for n in args.threads if n > hardware})
    torch.set_num_threads(hardware)
    print(f"machine: {platform.processor() or platform.machine()}, {hardware} cpus, "
          f"native isa {native.selected_isa()}, threads {' '.join(map(str, counts))}, "
          f"{args.order} rounds"
          + (f" (dropped {' '.join(map(str, dropped))}: above the hardware threads)"
             if dropped else ""))
    header = (f"{'case':26} {'acts':>4} " + " ".join(f"{f'{n} thr ms':>10}" for n in counts)
              + f" {'speed-up':>8}  never slower (tolerance {args.tolerance:.0%})")
    print(header)
    print("-" * len(header))
    failed = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = args.models or tmp
        models.mkdir(parents=True, exist_ok=True)
        for case in args.cases:
            name, _, batch_text = case.rpartition(":")
            file, batch = case_file(name), int(batch_text)
            for acts in args.activations:
                path, shape = packed_file(file, acts == "int8", tmp, models)
                x = np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32)
                engines = {n: native.load(path, threads=n) for n in counts}
                # The split never changes a sum's order, so every count gives the same bits.
                want = engines[counts[0]].run(x)
                differs = [n for n, e in engines.items() if not np.array_equal(e.run(x), want)]
                t0 = time.perf_counter()
                engines[counts[0]].run(x)
                one = max(time.perf_counter() - t0, 1e-6)
                rounds = max(5, min(200, int(args.seconds / (one * len(counts)))))
                medians = medians_of({n: (lambda e=e, x=x: e.run(x)) for n, e in engines.items()},
                                     rounds, max(2, rounds // 5), args.order == "blocked")
                verdict = never_slower(medians, args.tolerance)
                if differs:
                    verdict += f"; output differs at {' '.join(map(str, differs))} threads"
                if verdict != "ok":
                    failed.append(f"{file.stem} b{batch} {acts}")
                speedup = medians[counts[0]] / min(medians.values())
                print(f"{f'{file.stem} b{batch}':26} {acts:>4} "
                      + " ".join(f"{medians[n]:10.3f}" for n in counts)
                      + f" {speedup:7.2f}x  {verdict}", flush=True)
                if args.profile and verdict != "ok":
                    for line in slower_ops(engines, x, max(3, min(20, rounds)), args.tolerance):
                        print(line, flush=True)
    print(f"slower with more threads: {', '.join(failed)}" if failed
          else "never slower with more threads: all cases")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

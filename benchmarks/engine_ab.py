"""Two builds of the native engine on the same models, timed side by side: how a change
to the runtime was measured (the speed-ups quoted in runtime/README.md).

`--baseline DIR` is a `python/` folder (or any folder holding `triton_dsl/`) with another
build of the package, for instance a `git worktree` of an earlier commit built with
`TRITON_BUILD_PYTHON=ON`; the candidate is the package this script imports. For each
`.triton` file (the seed models by default) it writes the model's packed file twice, float
activations and 8-bit activations calibrated on random inputs, then loads each file in two
worker processes, one per build, and times them in interleaved rounds: each round asks
each worker for the best of a few runs, alternating which goes first, and the table gives
the medians over rounds and baseline / candidate (above 1x the candidate is faster). The
workers stay alive across rounds so each keeps its weights warm, as a served model does;
the peer benchmark (`peer_bench.py`) times colder runs among other runtimes.

Run: `python benchmarks/engine_ab.py --baseline OTHER/python [FILE.triton ...]
[--batches 1 32] [--threads 1 2] [--rounds 10] [--isa avx2]`.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_models

from triton_dsl.export.calibration import calibrate_activations
from triton_dsl.export.packed import save_packed

# One worker: loads a packed file, then answers each line "<runs>" with the best time (ms)
# of that many runs on a fixed input.
WORKER = """
import sys, time
import numpy as np
from triton_dsl import native
path, batch, threads, shape = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
dims = [int(d) for d in shape.split(",")]
x = np.random.default_rng(0).standard_normal((batch, *dims)).astype(np.float32)
engine = native.load(path, threads=threads)
for _ in range(3):
    engine.run(x)
print("ready", flush=True)
for line in sys.stdin:
    best = float("inf")
    for _ in range(int(line)):
        t0 = time.perf_counter()
        engine.run(x)
        best = min(best, time.perf_counter() - t0)
    print(best * 1e3, flush=True)
"""


def parse_arguments(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path, help="models (default: the seed models)")
    p.add_argument("--baseline", type=Path, required=True,
                   help="folder holding the baseline build's triton_dsl package")
    p.add_argument("--batches", type=int, nargs="+", default=[1])
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--runs", type=int, default=0,
                   help="runs per round and worker (default: about 0.1 s of them)")
    p.add_argument("--isa", default=None, help="TRITON_RT_FORCE_ISA for both builds")
    return p.parse_args(argv)


def packed_files(file: Path, work: Path) -> tuple[tuple[int, ...], dict[str, Path]]:
    """The model's float and 8-bit packed files and its input shape (without the batch)."""
    model, shape = seed_models.build(file)
    example = torch.randn(1, *shape)
    files = {"f32": work / f"{file.stem}_f32.tpk", "int8": work / f"{file.stem}_int8.tpk"}
    save_packed(model, files["f32"], example_input=example)
    calibrated = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(0)
    calibrate_activations(calibrated, [torch.randn(4, *shape, generator=generator) for _ in range(2)])
    save_packed(calibrated, files["int8"], example_input=example)
    return tuple(shape), files


class Worker:
    """A process timing one packed file with one build."""

    def __init__(self, package_dir: Path, path: Path, batch: int, threads: int,
                 shape: tuple[int, ...], isa: str | None) -> None:
        env = dict(os.environ, PYTHONPATH=str(package_dir))
        if isa:
            env["TRITON_RT_FORCE_ISA"] = isa
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(batch), str(threads),
             ",".join(str(d) for d in shape)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the worker for {package_dir} did not start")

    def best_ms(self, runs: int) -> float:
        self.process.stdin.write(f"{runs}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def compare(baseline: Path, candidate: Path, path: Path, batch: int, threads: int,
            shape: tuple[int, ...], rounds: int, runs: int, isa: str | None) -> tuple[float, float]:
    """Median best-of-runs milliseconds of the baseline and the candidate build."""
    workers = [Worker(baseline, path, batch, threads, shape, isa),
               Worker(candidate, path, batch, threads, shape, isa)]
    try:
        if runs <= 0:
            runs = max(2, min(200, int(0.1 / max(workers[1].best_ms(1) / 1e3, 1e-6))))
        times: list[list[float]] = [[], []]
        for r in range(rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for i in order:
                times[i].append(workers[i].best_ms(runs))
        return statistics.median(times[0]), statistics.median(times[1])
    finally:
        for w in workers:
            w.close()


def main(argv=None) -> int:
    args = parse_arguments(argv)
    candidate = Path(__import__("triton_dsl").__file__).resolve().parents[1]
    if not (args.baseline / "triton_dsl").is_dir():
        print(f"error: {args.baseline} holds no triton_dsl package", file=sys.stderr)
        return 2
    files = args.files or seed_models.SEED_FILES
    print("| model | activations | batch | threads | baseline ms | candidate ms | baseline / candidate |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="triton-engine-ab-") as tmp:
        for file in files:
            shape, packed = packed_files(file, Path(tmp))
            for kind, path in packed.items():
                for batch in args.batches:
                    for threads in args.threads:
                        base, cand = compare(args.baseline, candidate, path, batch, threads, shape,
                                             args.rounds, args.runs, args.isa)
                        print(f"| {file.stem} | {kind} | {batch} | {threads} | {base:.3f} | "
                              f"{cand:.3f} | {base / cand:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

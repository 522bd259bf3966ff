#!/usr/bin/env python3
"""The engine against what users deploy instead: ONNX Runtime and OpenVINO, float and int8.

For each case (a `.triton` file and a batch size) the same model, compiled by the installed
`triton` (random weights, batch norm with non-trivial statistics, `benchmarks/seed_models.py`),
runs seven ways with the same thread count (`benchmarks/peer_runners.py` builds them):
  - engine int8: the `.tpk` after `calibrate_activations` (8-bit activations),
  - engine f32: the `.tpk` of the float-activation model,
  - PyTorch f32: eager on the dequantized weights (`torch.set_num_threads`),
  - ORT f32 / ORT int8: onnxruntime on the ONNX export, and on its `quantize_static` model
    (QDQ, per-channel int8 weights); intra-op threads N, inter-op 1,
  - OpenVINO f32 / OpenVINO int8: the ONNX export, and its `nncf.quantize` model;
    `INFERENCE_NUM_THREADS` N, one stream, float32 inference precision.
Every int8 path is calibrated on the same samples (real MNIST / CIFAR-10 where the dataset is
at hand, else random normal data; the table says which), and the timed input is those
samples repeated to the batch size. The paths are timed in interleaved
rounds (each round runs each once, in rotating order) and the medians reported, each with
its ratio to ours: a peer's time divided by the engine's (int8 peers against engine int8,
float peers against engine f32; above 1 the engine is faster). The last two columns are the
issue's criteria: engine int8 against the faster of ORT int8 and OpenVINO int8, engine f32
against ORT f32.

    PYTHONPATH=python python benchmarks/peer_bench.py --threads 1 2 --output results.md
    PYTHONPATH=python python benchmarks/peer_bench.py examples/basic/resnet18.triton \\
        --batches 1 8 --rounds 10

Without files it runs the default cases (MLP b1 and b128, ResNet-18 CIFAR b1 and b32,
MobileNetV2 b1, ViT-B/16 b1). `--output FILE.md` writes the table with the machine (CPU
model, the engine's kernel level, core count) and the versions, for `benchmarks/results/`.

PyTorch's OpenMP workers spin for a while after each of its parallel loops; in interleaved
rounds they held the second CPU of a 2-CPU machine while the next path ran, so every path
but PyTorch's lost its second thread (MLP b128 at 2 threads: onnxruntime int8 1.35 ms with
them spinning, 0.79 ms without; OpenVINO int8 3.07 / 1.67). So this script sets
`OMP_WAIT_POLICY=PASSIVE` before it imports PyTorch, unless the environment sets it (the
same reason as `--ort-no-spin` for onnxruntime's workers).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Before PyTorch (and its OpenMP runtime) loads: see the module docstring.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_runners
import seed_models

from triton_dsl import native
from triton_dsl.export.calibration import DEFAULT_METHOD

DEFAULT_CASES = [("simple_mlp", 1), ("simple_mlp", 128), ("resnet18", 1), ("resnet18", 32),
                 ("mobilenetv2", 1), ("vision_transformer", 1)]
SHORT_NAMES = {"simple_mlp": "MLP", "resnet18": "ResNet-18 CIFAR", "mobilenetv2": "MobileNetV2",
               "vision_transformer": "ViT-B/16"}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed_rounds(fns: dict, rounds: int | None, budget_s: float) -> tuple[dict, int]:
    """Median milliseconds of each callable over interleaved rounds (each round runs every
    callable once, starting one further along each time, so a slow spell of a shared
    machine hits all of them alike). Without `rounds`, as many as fit `budget_s` (3-200),
    judged from the last warm-up call of each."""
    names = list(fns)
    one_round = 0.0
    for name in names:
        # Warm-up: first-run allocations, lazy initialization, thread pools spinning up
        # (OpenVINO's first calls are 10x slower): two calls, then more while cheap.
        calls, start = 0, time.perf_counter()
        while calls < 2 or (calls < 50 and time.perf_counter() - start < 0.2):
            t0 = time.perf_counter()
            fns[name]()
            calls += 1
        one_round += time.perf_counter() - t0
    if rounds is None:
        rounds = max(3, min(200, int(budget_s / max(one_round, 1e-6))))
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}, rounds


def ratio(peer: float | None, ours: float | None) -> str:
    if peer is None or ours is None:
        return "-"
    r = peer / ours
    return f"{r:.2f}x"


def cell(ms: dict, key: str, notes: dict) -> str:
    if key in ms:
        value = ms[key]
        text = f"{value:.3f}" if value < 100 else f"{value:.1f}"
        ours = ms.get("engine_int8" if key.endswith("int8") else "engine_f32")
        return text if key.startswith("engine") else f"{text} ({ratio(value, ours)})"
    return "n/a" if key in notes else "-"


def row_of(case: str, threads: int, ms: dict, notes: dict, rounds: int) -> list[str]:
    best_int8 = min((ms[k] for k in peer_runners.INT8_PEERS if k in ms), default=None)
    cells = [case, str(threads)] + [cell(ms, key, notes) for key, _ in peer_runners.PATHS]
    cells.append(ratio(best_int8, ms.get("engine_int8")))
    cells.append(ratio(ms.get("ort_f32"), ms.get("engine_f32")))
    cells.append(str(rounds))
    return cells


HEADER = (["case", "threads"] + [f"{title} ms" for _, title in peer_runners.PATHS]
          + ["int8: best peer / engine", "f32: ORT / engine", "rounds"])


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |",
             "| " + " | ".join("---" for _ in HEADER) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def resolve_cases(files: list[Path], batches: list[int] | None) -> list[tuple[Path, int]]:
    if not files:
        return [(seed_models.EXAMPLES / f"{name}.triton", b) for name, b in DEFAULT_CASES]
    return [(f, b) for f in files for b in (batches or [1])]


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help=".triton files to measure (default: the seed models' cases)")
    parser.add_argument("--batches", nargs="+", type=int,
                        help="batch sizes for the given files (default 1)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1],
                        help="thread counts, each measured for every case (default 1)")
    parser.add_argument("--rounds", type=int,
                        help="timed rounds per case (default: as many as fit --budget-s)")
    parser.add_argument("--budget-s", type=float, default=4.0,
                        help="seconds of timing per case and thread count when --rounds is "
                             "not given (default 4)")
    parser.add_argument("--samples", type=int, default=32,
                        help="calibration images for every int8 path where the dataset is at "
                             "hand (default 32)")
    parser.add_argument("--random-samples", type=int, default=8,
                        help="calibration samples of random normal data, for models without "
                             "a dataset at hand (default 8)")
    parser.add_argument("--data-path", help="where MNIST / CIFAR-10 are (else a "
                                            "shared/datasets folder beside the checkout, "
                                            "else $TRITON_DATA, else the user cache); "
                                            "missing: random data")
    parser.add_argument("--output", type=Path, help="also write the results as markdown here")
    parser.add_argument("--ort-no-spin", action="store_true",
                        help="turn off onnxruntime's spinning workers (on by default, as "
                             "deployed; they spin after each run and can slow the path timed "
                             "next at high thread counts)")
    args = parser.parse_args(argv)
    beside = seed_models.REPO.parent / "shared" / "datasets"
    args.data_path_given = args.data_path is not None
    if args.data_path is None and beside.is_dir():
        args.data_path = str(beside)  # as scripts/mnist_demo.sh does
    for name in ("threads", "batches"):
        if any(v < 1 for v in getattr(args, name) or []):
            parser.error(f"--{name} must be at least 1")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.samples < 1 or args.random_samples < 1:
        parser.error("--samples and --random-samples must be at least 1")
    for f in args.files:
        if not f.is_file():
            parser.error(f"no such file: {f}")
    return args


def main(argv=None) -> int:
    args = parse_arguments(argv)
    cases = resolve_cases(args.files, args.batches)
    versions = peer_runners.versions()
    isa = native.selected_isa()
    machine = f"{cpu_model()}, {os.cpu_count()} logical CPUs, engine level `{isa}`"
    print(f"machine: {machine}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    rows: list[tuple[int, int, list[str]]] = []  # (case index, threads, cells)
    calibration: dict[str, str] = {}
    notes_seen: dict[str, set[str]] = {}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="triton-peer-bench-") as tmp:
        files = list(dict.fromkeys(f for f, _ in cases))
        for file in files:
            t0 = time.perf_counter()
            prepared = peer_runners.prepare(file, samples=args.samples,
                                            random_samples=args.random_samples,
                                            data_path=args.data_path, work=Path(tmp))
            label = SHORT_NAMES.get(file.stem, file.stem)
            calibration[label] = (f"{prepared.calibration}; engine: {prepared.int8_layers} "
                                  f"layers calibrated to 8 bits"
                                  + "".join(f"; {dict(peer_runners.PATHS)[k]}: {route}"
                                            for k, route in prepared.int8_sources.items()))
            steps = ", ".join(f"{k} {v:.1f}" for k, v in prepared.seconds.items())
            print(f"prepared {label} in {time.perf_counter() - t0:.1f} s ({steps}; "
                  f"calibration: {prepared.calibration})", flush=True)
            for threads in args.threads:
                torch.set_num_threads(threads)
                for batch in [b for f, b in cases if f == file]:
                    case = f"{label} b{batch}"
                    # The calibration samples, repeated to the batch: real data where
                    # there is some, so the error check below means something.
                    x = np.ascontiguousarray(
                        prepared.samples[np.arange(batch) % len(prepared.samples)])
                    fns, notes = peer_runners.runners(prepared, x, threads,
                                                      ort_spin=not args.ort_no_spin)
                    for key, note in notes.items():
                        notes_seen.setdefault(f"{dict(peer_runners.PATHS)[key]}: {note}",
                                              set()).add(case)
                    errs = peer_runners.agreement(fns)
                    errors.append(f"{case}, {threads} thread(s): " + ", ".join(
                        f"{dict(peer_runners.PATHS)[k]} {v:.1e}" for k, v in errs.items()
                        if k != "torch_f32"))
                    ms, rounds = timed_rounds(fns, args.rounds, args.budget_s)
                    row = row_of(case, threads, ms, notes, rounds)
                    rows.append((cases.index((file, batch)), threads, row))
                    print(" | ".join(row), flush=True)
                    del fns
            del prepared
    # Each case's thread counts side by side, in the order the cases were given.
    table = markdown_table([cells for _, _, cells in sorted(rows, key=lambda r: r[:2])])
    notes_text = "\n".join(f"- {note} ({', '.join(sorted(where))})"
                           for note, where in notes_seen.items())
    print()
    print(table)
    if notes_text:
        print("\nabsent paths:\n" + notes_text)
    print("\nrelative L2 error against PyTorch float32:\n" + "\n".join(errors))
    if args.output:
        write_markdown(args, machine, versions, table, calibration, notes_text, errors)
        print(f"wrote {args.output}")
    return 0


SATURATION_NOTE = ("; this CPU has no VNNI, so the int8 peers use 7-bit weights (onnxruntime "
                   "`reduce_range`, NNCF `OverflowFix.ENABLE`) as their documentation "
                   "advises against 16-bit saturation")


def shown_command(args) -> str:
    """The command line as run, without this machine's paths: files under the repository
    relative to it, other files by name, the data folder as DIR."""
    parts = ["python benchmarks/peer_bench.py"]
    for f in args.files:
        resolved = f.resolve()
        parts.append(str(resolved.relative_to(seed_models.REPO))
                     if resolved.is_relative_to(seed_models.REPO) else f.name)
    for flag, value in (("--batches", args.batches), ("--threads", args.threads),
                        ("--rounds", args.rounds), ("--samples", args.samples),
                        ("--random-samples", args.random_samples)):
        if value is not None:
            parts.append(f"{flag} " + " ".join(map(str, value if isinstance(value, list)
                                                    else [value])))
    if args.rounds is None:
        parts.append(f"--budget-s {args.budget_s:g}")
    if args.ort_no_spin:
        parts.append("--ort-no-spin")
    if args.data_path_given:
        parts.append("--data-path DIR")
    if args.output:
        parts.append(f"--output {args.output.name}")
    return " ".join(parts)


def write_markdown(args, machine: str, versions: dict, table: str, calibration: dict,
                   notes_text: str, errors: list[str]) -> None:
    command = shown_command(args)
    lines = [
        "# Engine against ONNX Runtime and OpenVINO",
        "",
        f"- machine: {machine}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- command: `{command}`",
        f"- OMP_WAIT_POLICY: {os.environ.get('OMP_WAIT_POLICY')} (PyTorch's OpenMP workers)",
        ("- times: milliseconds per batch, medians of interleaved rounds; in parentheses a "
         "peer's time divided by the engine's (int8 peers against engine int8, float peers "
         "against engine f32): above 1x the engine is faster"),
        ("- int8 peers: onnxruntime `quantize_static` (QDQ, per-channel int8 weights, int8 "
         "activations, MinMax) and NNCF `nncf.quantize` for OpenVINO (float32 inference "
         "precision for what stays float); the engine: `calibrate_activations` "
         f"(`{DEFAULT_METHOD}` ranges)"
         + ("" if peer_runners.has_vnni() else SATURATION_NOTE)),
        "- calibration data:",
        *[f"  - {name}: {where}" for name, where in calibration.items()],
        "",
        table,
        "",
    ]
    if notes_text:
        lines += ["Absent paths:", "", notes_text, ""]
    lines += [("Relative L2 error of each path's output against PyTorch float32 on the timed "
               "input (a check that every path runs the same model):"), ""]
    lines += [f"- {e}" for e in errors]
    args.output.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

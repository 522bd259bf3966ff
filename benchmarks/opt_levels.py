"""Inference time of each optimization level's output, in the runtime that runs it.

For every model (the four seed models by default; any `.triton` file on the command line)
the compiler writes the PyTorch program at -O0, -O2 and -O3 and the ONNX graph at -O0 and
-O2 (the ONNX backend has no -O3 choices: its layout is fixed by the format). All levels
get the same weights: the -O0 model's, with trained-like batch-norm statistics
(seed_models.randomize_batch_norm), loaded into the other levels' models and written as the
ONNX backend's `--weights`. Each case is timed in interleaved rounds (every round runs each
level once, in rotating order) for `--budget-s` seconds; the table gives medians in
milliseconds, each level's speed-up over -O0, and the largest relative difference of its
output from -O0's (a check that every level computes the same model).

PyTorch runs in eval mode under `torch.inference_mode()` (the generated program's `--eval`),
where `F.fused` folds batch norms; -O3's float32 precision choice is applied before its
rounds, as the generated program does. ONNX runs in onnxruntime's CPU provider. Run:
`python benchmarks/opt_levels.py [FILE.triton ...] [--batches 1 32] [--threads N]`
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_models

from triton_dsl.compiler import compile_file
from triton_dsl.export.safetensors import export_tensors, write_safetensors

PY_LEVELS = ("O0", "O2", "O3")
ONNX_LEVELS = ("O0", "O2")


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(f"opt_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time_interleaved(runs: dict[str, callable], budget_s: float, min_rounds: int = 3) -> dict[str, float]:
    for run in runs.values():  # warm-up (caches, folded weights, allocator)
        run()
        run()
    names = list(runs)
    samples: dict[str, list[float]] = {n: [] for n in names}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or time.perf_counter() - start < budget_s:
        order = names[rounds % len(names):] + names[:rounds % len(names)]
        for name in order:
            t0 = time.perf_counter()
            runs[name]()
            samples[name].append(time.perf_counter() - t0)
        rounds += 1
    return {n: statistics.median(s) * 1e3 for n, s in samples.items()}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def bench_model(source: Path, batches: list[int], budget_s: float, work: Path) -> list[list[str]]:
    stem = source.stem
    modules = {lvl: _import(compile_file(source, work / f"{stem}_{lvl}.py", f"-{lvl}")) for lvl in PY_LEVELS}
    shape = seed_models.input_shape(modules["O0"])
    torch.manual_seed(0)
    reference = seed_models.randomize_batch_norm(modules["O0"].Model())
    state = reference.state_dict()
    models = {}
    for lvl in PY_LEVELS:
        model = modules[lvl].Model()
        model.load_state_dict(state)
        models[lvl] = model.eval()
    weights = write_safetensors(export_tensors(reference), work / f"{stem}.safetensors")
    import onnxruntime as ort

    sessions = {}
    for lvl in ONNX_LEVELS:
        target = compile_file(source, work / f"{stem}_{lvl}.onnx", "--backend", "onnx", f"-{lvl}",
                              "--weights", str(weights))
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        sessions[lvl] = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    rows = []
    for batch in batches:
        x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(1))

        def py_run(lvl, x=x):
            precision = modules[lvl].MODEL_INFO.get("float32_matmul_precision", "highest")
            model = models[lvl]

            def run_level():
                torch.set_float32_matmul_precision(precision)
                with torch.inference_mode():
                    return model(x)
            return run_level

        py_runs = {lvl: py_run(lvl) for lvl in PY_LEVELS}
        outs = {lvl: run().float().numpy() for lvl, run in py_runs.items()}
        times = _time_interleaved(py_runs, budget_s)
        torch.set_float32_matmul_precision("highest")
        rows.append(_row(f"{stem} b{batch}", "PyTorch eager", times, outs, PY_LEVELS))
        feeds = {lvl: {s.get_inputs()[0].name: x.numpy()} for lvl, s in sessions.items()}
        onnx_runs = {lvl: (lambda s=s, f=feeds[lvl]: s.run(None, f)[0]) for lvl, s in sessions.items()}
        outs = {lvl: run() for lvl, run in onnx_runs.items()}
        times = _time_interleaved(onnx_runs, budget_s)
        rows.append(_row(f"{stem} b{batch}", "onnxruntime", times, outs, ONNX_LEVELS))
    return rows


def _row(case: str, runtime: str, times: dict[str, float], outs: dict[str, np.ndarray],
         levels: tuple[str, ...]) -> list[str]:
    cells = [case, runtime]
    for lvl in PY_LEVELS:
        if lvl not in levels:
            cells.append("—")
            continue
        text = f"{times[lvl]:.3f}"
        if lvl != "O0":
            text += f" ({times['O0'] / times[lvl]:.2f}x, diff {_rel(outs[lvl], outs['O0']):.1e})"
        cells.append(text)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help=".triton files (default: the seed models)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1])
    parser.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads")
    parser.add_argument("--budget-s", type=float, default=2.0, help="timing seconds per case and runtime")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    files = args.files or seed_models.SEED_FILES
    import onnxruntime as ort

    print(f"- machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    print(f"- versions: torch {torch.__version__}, onnxruntime {ort.__version__}")
    print("- command: `python benchmarks/opt_levels.py " + " ".join(sys.argv[1:]) + "`")
    print("- milliseconds per batch, medians of interleaved rounds; (speed-up over -O0, largest "
          "relative difference of the output from -O0's)\n")
    print("| case | runtime | -O0 ms | -O2 ms | -O3 ms |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="triton-opt-levels-") as work:
        for source in files:
            for row in bench_model(Path(source), args.batches, args.budget_s, Path(work)):
                print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()

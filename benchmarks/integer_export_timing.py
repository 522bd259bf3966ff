#!/usr/bin/env python3
"""Latency of a trained model's float graph (-O2) against its integer graph (-O3) in the runtimes.

Usage:
  python benchmarks/integer_export_timing.py MODEL.triton --checkpoint BEST.pth
      [--dataset mnist] [--data-path DIR] [--rounds 7]

Both graphs are written as `export_accuracy.py` writes them (int8 weight codes; at -O3 with
output ranges calibrated on 512 training images), then timed on one thread: onnxruntime at
batch 1 and 32 (ORT_ENABLE_ALL), the TFLite interpreter at batch 1 (its graphs have a batch
of 1). Runs of the two graphs alternate, `--rounds` times, each round timing a fixed number
of calls after a warm-up, so load from other processes falls on both; the table gives the
median per-call time of each and the ratio float / integer (above 1: the integer graph is
faster). Test images are the inputs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_accuracy

from triton_dsl.compiler import compile_file
from triton_dsl.data import get_dataset


def _median_ms(call, calls: int) -> float:
    call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-path", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20, help="calls per round at batch 1")
    args = parser.parse_args()
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    with tempfile.TemporaryDirectory(prefix="triton-integer-timing-") as work:
        work = Path(work)
        model, normalize = export_accuracy.trained_model(args.source, args.checkpoint, work, "O2")
        weights = export_accuracy.weights_file(model, work, dataset=args.dataset,
                                               data_path=args.data_path, normalize=normalize)
        test = get_dataset(args.dataset, data_path=args.data_path, split="test", download=False)
        x = export_accuracy._normalized(torch.stack([test.dataset[i][0] for i in range(32)]),
                                        normalize, test).numpy()
        runners: dict[str, dict[str, object]] = {}
        for level in ("2", "3"):
            onnx_file = compile_file(args.source, work / f"m{level}.onnx", "--backend", "onnx", f"-O{level}",
                                     "--weights", str(weights), "--weight-codes", "int8")
            tflite_file = compile_file(args.source, work / f"m{level}.tflite", "--backend", "tflite",
                                       f"-O{level}", "--weights", str(weights))
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            interpreter = Interpreter(model_path=str(tflite_file), num_threads=1)
            interpreter.allocate_tensors()
            (tin,), _ = interpreter.get_input_details(), interpreter.get_output_details()

            def tflite_call(interpreter=interpreter, index=tin["index"]):
                interpreter.set_tensor(index, x[:1])
                interpreter.invoke()

            runners[level] = {
                "onnxruntime, batch 1": (lambda s=session, n=name: s.run(None, {n: x[:1]}), args.calls),
                "onnxruntime, batch 32": (lambda s=session, n=name: s.run(None, {n: x}), max(1, args.calls // 8)),
                "TFLite, batch 1": (tflite_call, args.calls),
            }
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for path in runners["2"]:
                for level in ("2", "3"):
                    call, calls = runners[level][path]
                    times.setdefault((path, level), []).append(_median_ms(call, calls))
    print(f"model {args.source.name}, checkpoint {args.checkpoint.name}, 1 thread, median of "
          f"{args.rounds} interleaved rounds")
    print("| runtime | float graph -O2 (ms/call) | integer graph -O3 (ms/call) | -O2 / -O3 |")
    print("| --- | --- | --- | --- |")
    for path in runners["2"]:
        f, i = statistics.median(times[(path, "2")]), statistics.median(times[(path, "3")])
        print(f"| {path} | {f:.3f} | {i:.3f} | {f / i:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""From a trained checkpoint to every deployment format, each checked in its own runtime.

    python examples/deployment/deploy.py MODEL.triton CHECKPOINT.pth --out DIR [-O2]

Steps, the way a user would take them by hand (README.md in this folder):
1. `triton compile MODEL.triton --output DIR/MODEL.py` writes the PyTorch program.
2. The program exports the checkpoint: `--export-packed` (the `.tpk` file of 2-bit
   ternary codes, for the native engine), `--export-onnx` (ONNX with int4 codes behind
   DequantizeLinear, for onnxruntime), `--export-mobile` (a TorchScript lite file, for
   PyTorch Mobile), `--export-tflite` (TFLite with int8 codes per channel behind DEQUANTIZE,
   for the TFLite interpreter `ai-edge-litert`) and `--export-weights` (safetensors, the
   compiler's `--weights`).
3. `triton compile MODEL.triton --backend onnx --weights DIR/MODEL.safetensors` writes the
   same model to ONNX from the compiler directly, at the chosen -O level (batch norms
   folded into the convolutions at -O2).
4. Every file is loaded in its runtime and run on one seeded input; the table gives its size,
   how much smaller it is than the float32 weights, and the largest difference of its output
   from the PyTorch program's evaluation output, relative to that output's largest value.

Exits 1 when a runtime's output differs by more than `--tolerance`. The TFLite file has a
fixed batch of 1 and is run one sample at a time.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from triton_dsl.compiler import compile_file
from triton_dsl.program.context import ProgramContext
from triton_dsl.program.weights import load_trained_model


def _load_program(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _export(program: Path, flag: str, checkpoint: Path, target: Path, *extra: str) -> Path:
    subprocess.run([sys.executable, str(program), flag, "--checkpoint", str(checkpoint),
                    "--output", str(target), *extra], check=True, stdout=subprocess.DEVNULL)
    return target


def _run_packed(path: Path, x: np.ndarray) -> np.ndarray:
    from triton_dsl import native

    return np.asarray(native.load(path).run(x))


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _run_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    rows = []
    for sample in x:  # a TFLite graph has a fixed batch of 1
        interpreter.set_tensor(inp["index"], sample[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"]).copy())
    return np.concatenate(rows)


def _run_mobile(path: Path, x: np.ndarray) -> np.ndarray:
    from torch.jit.mobile import _load_for_lite_interpreter

    return _load_for_lite_interpreter(str(path))(torch.from_numpy(x)).detach().numpy()


def deploy(source: Path, checkpoint: Path, out: Path, level: str = "O2", batch: int = 2) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    program_path = compile_file(source, out / f"{source.stem}.py", f"-{level}")
    program = _load_program(program_path)
    # The model the program's exports build from the checkpoint (its recorded
    # hyper-parameters included), as the PyTorch reference.
    context = ProgramContext(program.Model, program.MODEL_INFO, program.TRAINING,
                             program.PERFORMANCE, program.OPTIMIZATION, str(program_path))
    model, _ = load_trained_model(context, checkpoint, num_classes=None)
    model.eval()
    float32_bytes = sum(p.numel() * 4 for p in model.parameters())
    shape = [batch, *(int(d) for d in program.MODEL_INFO["inputs"][0]["shape"][1:])]
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model(x).numpy()

    stem = out / source.stem
    weights = _export(program_path, "--export-weights", checkpoint, stem.with_suffix(".safetensors"))
    compiled_onnx = compile_file(source, out / f"{source.stem}.compiled.onnx", "--backend", "onnx",
                                 f"-{level}", "--weights", str(weights))
    files = [
        ("packed .tpk", "triton_dsl.native", _export(program_path, "--export-packed", checkpoint,
                                                     stem.with_suffix(".tpk")), _run_packed),
        ("ONNX (program)", "onnxruntime", _export(program_path, "--export-onnx", checkpoint,
                                                  stem.with_suffix(".onnx"), "--source", str(source)),
         _run_onnx),
        (f"ONNX (compiler, -{level})", "onnxruntime", compiled_onnx, _run_onnx),
        ("TFLite", "ai-edge-litert", _export(program_path, "--export-tflite", checkpoint,
                                             stem.with_suffix(".tflite"), "--source", str(source)),
         _run_tflite),
        ("TorchScript lite", "PyTorch Mobile", _export(program_path, "--export-mobile", checkpoint,
                                                       stem.with_suffix(".ptl")), _run_mobile),
    ]
    rows = []
    for name, runtime, path, run in files:
        got = run(path, x.numpy())
        diff = float(np.abs(got - reference).max() / max(np.abs(reference).max(), 1e-12))
        size = path.stat().st_size
        rows.append({"format": name, "runtime": runtime, "file": path.name, "bytes": size,
                     "smaller": float32_bytes / size, "diff": diff})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the model's .triton file")
    parser.add_argument("checkpoint", type=Path, help="a trained checkpoint (state dict or the "
                                                      "program's training checkpoint)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the program and files")
    parser.add_argument("-O", dest="level", default="2", choices=["0", "1", "2", "3"])
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    rows = deploy(args.source, args.checkpoint, args.out, f"O{args.level}")
    print("| format | runtime | file | size | vs float32 | max relative diff |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['format']} | {r['runtime']} | {r['file']} | {r['bytes'] / 1024:.1f} KB | "
              f"{r['smaller']:.1f}x smaller | {r['diff']:.1e} |")
    bad = [r["format"] for r in rows if r["diff"] > args.tolerance]
    if bad:
        print(f"error: {', '.join(bad)} differ from PyTorch by more than {args.tolerance}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

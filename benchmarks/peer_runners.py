"""The runtimes `benchmarks/peer_bench.py` measures the engine against, each as a callable.

A `Prepared` model holds everything built once per `.triton` file: the ternary model, its
packed files (float activations, and 8-bit activations after `calibrate_activations` on the
calibration samples), the dequantized float32 PyTorch model, its ONNX export, the ONNX
Runtime static int8 model (QDQ, per-channel weights, MinMax calibration on the same
samples) and the OpenVINO float32 model with its NNCF-quantized int8 counterpart.
`runners(prepared, batch, threads)` then opens each of them with the same thread count and
returns `{name: callable}` over one fixed input, plus a note for each peer that could not
run. onnxruntime, openvino and nncf are optional (requirements/bench.txt): a missing one
is a note, never an error.

Calibration samples are real data where the dataset is at hand (MNIST for 1x28x28 inputs,
CIFAR-10 for 3x32x32, normalized as in training); ImageNet-sized models get standard
normal noise, and the table says which.
"""

from __future__ import annotations

import copy
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import native_bench
import seed_models

from triton_dsl import native
from triton_dsl.export.calibration import calibrate_activations
from triton_dsl.export.onnx import export_onnx
from triton_dsl.export.packed import save_packed

# The columns, in table order: (key, header). Engine keys first, then the peers.
PATHS = [("engine_int8", "engine int8"), ("engine_f32", "engine f32"),
         ("torch_f32", "PyTorch f32"), ("ort_f32", "ORT f32"), ("ort_int8", "ORT int8"),
         ("ov_f32", "OpenVINO f32"), ("ov_int8", "OpenVINO int8")]
INT8_PEERS = ("ort_int8", "ov_int8")

_DATASET_OF_SHAPE = {(1, 28, 28): "mnist", (3, 32, 32): "cifar10"}


def has_vnni() -> bool:
    """Whether the CPU has an int8 dot-product instruction (AVX512-VNNI or AVX-VNNI). Without
    one, onnxruntime's and OpenVINO's u8 x s8 kernels add pairs of products in saturating
    16-bit lanes (`vpmaddubsw`), which ternary weights (every nonzero code is +-127) overflow;
    both projects' documented remedy is 7-bit weights (onnxruntime `reduce_range`, NNCF
    `OverflowFix.ENABLE`), which the int8 peers then get. Linux's flags; elsewhere assumed."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return "avx512_vnni" in flags or "avx_vnni" in flags


@dataclass
class Prepared:
    name: str
    shape: tuple[int, ...]
    model: nn.Module
    float_model: nn.Module
    calibration: str  # where the calibration samples came from, for the table
    samples: np.ndarray
    source: Path | None = None  # the .triton file, which the ONNX export compiles
    files: dict[str, Path] = field(default_factory=dict)
    ov_models: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # peer key -> why it is absent
    int8_sources: dict[str, str] = field(default_factory=dict)  # int8 peer key -> its route
    int8_layers: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # preparation step -> time


def _why(error: Exception) -> str:
    """An exception as one short line for the table's notes."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"[:160]


def _optional(module: str):
    try:
        return __import__(module)
    except ImportError:
        return None


def versions() -> dict[str, str]:
    """Versions of everything the table compares (absent peers say so)."""
    out = {"torch": torch.__version__}
    for name in ("onnxruntime", "openvino", "nncf"):
        module = _optional(name)
        out[name] = getattr(module, "__version__", "?") if module else "not installed"
    return out


def calibration_samples(shape: tuple[int, ...], count: int, random_count: int,
                        data_path: str | None, seed: int = 0) -> tuple[np.ndarray, str]:
    """`count` normalized training images of the dataset this input shape implies, or
    `random_count` samples of standard normal noise when there is none (ImageNet sizes) or
    it is not at hand (noise carries no more information in more samples, and the large
    models it stands in for are the slow ones to calibrate)."""
    name = _DATASET_OF_SHAPE.get(tuple(shape))
    if name is not None:
        from triton_dsl.data import get_dataset, make_loader
        from triton_dsl.errors import UserError

        try:
            spec = get_dataset(name, data_path=data_path, split="train", download=False)
            loader = make_loader(spec, batch_size=count, train=False, shuffle=True, seed=seed)
            images, _ = next(iter(loader))
            return images.numpy().astype(np.float32), f"{name} train ({count} images)"
        except UserError as error:
            print(f"note: {name} not found ({str(error).splitlines()[0]}); calibrating "
                  f"{shape} on random data", file=sys.stderr)
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(random_count, *shape, generator=g).numpy(),
            f"random normal ({random_count} samples)")


def _chunks(samples: np.ndarray, size: int) -> list[np.ndarray]:
    return [samples[i:i + size] for i in range(0, len(samples), size)]


def prepare(file: Path, *, samples: int, random_samples: int, data_path: str | None,
            work: Path) -> Prepared:
    """Builds every model of `file` once (see the module docstring)."""
    name = file.stem
    start = time.perf_counter()
    model, shape = seed_models.build(file)
    float_model = native_bench.dequantized(model)
    data, where = calibration_samples(shape, samples, random_samples, data_path)
    p = Prepared(name, shape, model, float_model, where, data, source=file)
    p.seconds["model"] = time.perf_counter() - start
    example = torch.randn(1, *shape)
    batch = 8
    steps = [("engine", lambda: _prepare_engine(p, work, example, batch)),
             ("onnx+ort", lambda: _prepare_onnx(p, work, example, batch)),
             ("openvino", lambda: _prepare_openvino(p))]
    for step, run in steps:
        start = time.perf_counter()
        run()
        p.seconds[step] = time.perf_counter() - start
    return p


def _prepare_engine(p: Prepared, work: Path, example: torch.Tensor, batch: int) -> None:
    p.files["engine_f32"] = work / f"{p.name}_f32.tpk"
    save_packed(p.model, p.files["engine_f32"], example_input=example)
    calibrated = copy.deepcopy(p.model)
    p.int8_layers = calibrate_activations(
        calibrated, [torch.from_numpy(c) for c in _chunks(p.samples, batch)])
    p.files["engine_int8"] = work / f"{p.name}_int8.tpk"
    save_packed(calibrated, p.files["engine_int8"], example_input=example)


def _prepare_onnx(p: Prepared, work: Path, example: torch.Tensor, batch: int) -> None:
    onnx_path = work / f"{p.name}_f32.onnx"
    try:
        # The compiler's ONNX backend with dequantized float32 weights: ORT's float
        # baseline computes with exactly the ternary model's weights.
        export_onnx(p.model, onnx_path, source=p.source, weight_codes="float32")
    except Exception as error:  # noqa: BLE001 (the table says why the column is empty)
        for key in ("ort_f32", "ort_int8", "ov_f32", "ov_int8"):
            p.notes[key] = f"ONNX export failed: {_why(error)}"
        return
    p.files["onnx_f32"] = onnx_path
    if _optional("onnxruntime") is None:
        p.notes["ort_f32"] = p.notes["ort_int8"] = "onnxruntime not installed"
        return
    p.files["ort_f32"] = onnx_path
    try:
        p.files["ort_int8"] = _ort_quantize(onnx_path, work, p.samples, batch)
    except Exception as error:  # noqa: BLE001
        p.notes["ort_int8"] = f"quantize_static failed: {_why(error)}"


def _ort_quantize(onnx_path: Path, work: Path, samples: np.ndarray, batch: int) -> Path:
    """onnxruntime's static int8 quantization as its documentation recommends: the
    pre-processing pass (shape inference, graph optimization), then QDQ with per-channel
    int8 weights (7-bit without VNNI, see `has_vnni`) and int8 activations, MinMax ranges
    from the calibration samples."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    input_name = onnx.load(str(onnx_path)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{input_name: c} for c in _chunks(samples, batch)])

        def get_next(self):
            return next(self.items, None)

    source = onnx_path
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        pre = work / f"{onnx_path.stem}_pre.onnx"
        quant_pre_process(str(onnx_path), str(pre))
        source = pre
    except Exception as error:  # noqa: BLE001 (quantizing without it still works)
        print(f"note: quant_pre_process skipped ({type(error).__name__})", file=sys.stderr)
    out = work / f"{onnx_path.stem.replace('_f32', '')}_int8.onnx"
    quantize_static(str(source), str(out), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, reduce_range=not has_vnni(),
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return out


def _prepare_openvino(p: Prepared) -> None:
    if "onnx_f32" not in p.files:
        return
    ov = _optional("openvino")
    if ov is None:
        p.notes["ov_f32"] = p.notes["ov_int8"] = "openvino not installed"
        return
    try:
        p.ov_models["ov_f32"] = ov.Core().read_model(str(p.files["onnx_f32"]))
    except Exception as error:  # noqa: BLE001
        p.notes["ov_f32"] = p.notes["ov_int8"] = f"OpenVINO read failed: {_why(error)}"
        return
    nncf = _optional("nncf")
    if nncf is None:
        _openvino_from_qdq(p, ov)
        return
    try:
        transformer = any(type(m).__name__ == "MultiHeadAttention" for m in p.model.modules())
        extra = {"model_type": nncf.ModelType.TRANSFORMER} if transformer else {}
        if not has_vnni():
            extra["advanced_parameters"] = nncf.AdvancedQuantizationParameters(
                overflow_fix=nncf.OverflowFix.ENABLE)
        # One sample per item, as NNCF's documentation does; subset_size counts items.
        items = _chunks(p.samples, 1)
        p.ov_models["ov_int8"] = nncf.quantize(p.ov_models["ov_f32"], nncf.Dataset(items),
                                               subset_size=len(items), **extra)
    except Exception as error:  # noqa: BLE001
        p.notes["ov_int8"] = f"nncf.quantize failed: {_why(error)}"


def _openvino_from_qdq(p: Prepared, ov) -> None:
    """Without NNCF, OpenVINO's int8 column reads onnxruntime's QDQ file: OpenVINO turns its
    QuantizeLinear/DequantizeLinear pairs into its own low-precision graph and runs the
    quantized layers on its int8 kernels, with the same calibration ranges as ORT int8.
    `int8_sources` tells the table which route the column took."""
    if "ort_int8" not in p.files:
        p.notes["ov_int8"] = "nncf not installed (and no QDQ file to read instead)"
        return
    try:
        p.ov_models["ov_int8"] = ov.Core().read_model(str(p.files["ort_int8"]))
        p.int8_sources["ov_int8"] = "onnxruntime's QDQ file read by OpenVINO (nncf not installed)"
    except Exception as error:  # noqa: BLE001
        p.notes["ov_int8"] = f"nncf not installed; OpenVINO read of the QDQ file failed: {_why(error)}"


def _ort_runner(path: Path, x: np.ndarray, threads: int, spin: bool) -> Callable[[], Any]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not spin:
        # onnxruntime's workers spin after each run by default, taking cores from whichever
        # path runs next in an interleaved round.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: x})[0]


def _ov_runner(model, x: np.ndarray, threads: int) -> Callable[[], Any]:
    """A latency configuration: one stream, `threads` inference threads, float32 where the
    model is not quantized (OpenVINO would pick bf16 on AMX/AVX512-BF16 CPUs otherwise,
    which is not the float32 the other columns compute)."""
    import openvino as ov

    static = model.clone()
    static.reshape({static.inputs[0]: list(x.shape)})
    compiled = ov.Core().compile_model(static, "CPU", {
        "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()

    def run():
        request.infer({0: x}, share_inputs=True)
        return request.get_output_tensor(0).data

    return run


def runners(p: Prepared, x: np.ndarray, threads: int, *, ort_spin: bool = True
            ) -> tuple[dict[str, Callable], dict]:
    """{path key: callable over x} for everything that opened; {key: note} for the rest."""
    notes = dict(p.notes)
    fns: dict[str, Callable] = {}
    for key in ("engine_int8", "engine_f32"):
        fns[key] = functools.partial(native.load(p.files[key], threads=threads).run, x)
    x_torch = torch.from_numpy(x)

    def eager():
        with torch.inference_mode():
            return p.float_model(x_torch)

    fns["torch_f32"] = eager
    for key in ("ort_f32", "ort_int8"):
        if key in p.files and key not in notes:
            try:
                fns[key] = _ort_runner(p.files[key], x, threads, ort_spin)
            except Exception as error:  # noqa: BLE001
                notes[key] = f"session failed: {_why(error)}"
    for key in ("ov_f32", "ov_int8"):
        if key in p.ov_models and key not in notes:
            try:
                fns[key] = _ov_runner(p.ov_models[key], x, threads)
            except Exception as error:  # noqa: BLE001
                notes[key] = f"compile failed: {_why(error)}"
    return fns, notes


def agreement(fns: dict[str, Callable]) -> dict[str, float]:
    """Each path's output against PyTorch float32: relative L2 error (a sanity check that
    every path computes the same model, not a timing)."""
    outputs = {key: np.asarray(fn(), dtype=np.float64) for key, fn in fns.items()}
    want = outputs["torch_f32"]
    norm = max(float(np.linalg.norm(want)), 1e-30)
    return {key: float(np.linalg.norm(got.reshape(want.shape) - want)) / norm
            for key, got in outputs.items()}

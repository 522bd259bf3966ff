"""The -O3 integer lowering of 8-bit activation layers (compiler/codegen/onnx/integer_lowering.h).

A small QAT model (convolutions with a folded batch norm, a residual Add, a depthwise
convolution, a classifier) is trained a little, its output ranges are calibrated
(`triton_dsl.export.calibration.output_ranges`), and it is exported at -O3:
- onnxruntime's optimized graph (ORT_ENABLE_ALL) runs every 8-bit Conv as QLinearConv and
  the classifier as MatMulIntegerToFloat, with no float Conv, FusedConv or Gemm left;
- the TFLite interpreter's operators are int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED
  (int8 input, weights and output);
- both agree with PyTorch's eval mode on the top-1 prediction of nearly every input;
- -O2 keeps the float QDQ form (float Conv behind QuantizeLinear/DequantizeLinear).
"""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.programs import load_model_module
from torch import nn

from triton_dsl.export.calibration import output_ranges
from triton_dsl.export.onnx import export_onnx
from triton_dsl.export.tflite import export_tflite

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SOURCE = """
model Residual8 {
    layer conv1: TernaryConv2d { in_channels: 3, out_channels: 16, kernel_size: 3, padding: 1,
                                 bias: false, activation_bits: 8 }
    layer bn1: BatchNorm2d { num_features: 16 }
    layer conv2: TernaryConv2d { in_channels: 16, out_channels: 16, kernel_size: 3, padding: 1,
                                 bias: false, activation_bits: 8 }
    layer bn2: BatchNorm2d { num_features: 16 }
    layer depthwise: TernaryConv2d { in_channels: 16, out_channels: 16, kernel_size: 3,
                                     stride: 2, padding: 1, groups: 16, activation_bits: 8 }
    layer fc: TernaryLinear { in_features: 16, out_features: 5, activation_bits: 8 }
    forward(x: Tensor[batch, 3, 12, 12]) -> Tensor[batch, 5] {
        x = relu(bn1(conv1(x)))
        x = relu(x + bn2(conv2(x)))
        x = relu(depthwise(x))
        x = flatten(adaptive_avg_pool2d(x, output_size: 1), start_dim: 1)
        return fc(x)
    }
}
"""
SHAPE = (3, 12, 12)
CONVS, LINEARS = 3, 1


@pytest.fixture(scope="module")
def trained(triton_compiler, tmp_path_factory):
    directory = tmp_path_factory.mktemp("integer")
    source = directory / "model.triton"
    source.write_text(SOURCE)
    program = directory / "model.py"
    subprocess.run([str(triton_compiler), "compile", str(source), "-o", str(program)],
                   check=True, capture_output=True, timeout=60)
    model = load_model_module(program).Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for step in range(30):
        x = torch.randn(64, *SHAPE, generator=torch.Generator().manual_seed(step))
        y = (x[:, 0].mean(dim=(1, 2)) * 8).long().clamp(-2, 2) + 2
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    calibration = [torch.randn(64, *SHAPE, generator=torch.Generator().manual_seed(100 + i))
                   for i in range(4)]
    ranges = output_ranges(model, calibration)
    x = torch.randn(512, *SHAPE, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        reference = model(x).numpy()
    return {"model": model, "source": source, "ranges": ranges, "x": x.numpy(),
            "reference": reference, "directory": directory}


@pytest.fixture(autouse=True)
def _compiler(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))


def _optimized_op_types(path: Path, directory: Path) -> collections.Counter:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(directory / (path.stem + ".optimized.onnx"))
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return collections.Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)


def _agreement(got: np.ndarray, want: np.ndarray) -> float:
    return float((got.argmax(axis=1) == want.argmax(axis=1)).mean())


def test_onnxruntime_runs_the_layers_on_int8_kernels(trained):
    path = export_onnx(trained["model"], trained["directory"] / "o3.onnx", source=trained["source"],
                       weight_codes="int8", level=3, output_ranges=trained["ranges"])
    ops = _optimized_op_types(path, trained["directory"])
    assert ops["QLinearConv"] == CONVS, ops
    assert ops["MatMulIntegerToFloat"] == LINEARS, ops
    assert not ops["Conv"] and not ops["FusedConv"] and not ops["Gemm"] and not ops["MatMul"], ops
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: trained["x"]})
    assert _agreement(logits, trained["reference"]) >= 0.97


def test_tflite_runs_the_layers_on_int8_kernels(trained):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    path = export_tflite(trained["model"], trained["directory"] / "o3.tflite", source=trained["source"],
                         level=3, output_ranges=trained["ranges"])
    interpreter = interpreter_module.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    integer_ops = collections.Counter()
    for op in interpreter._get_ops_details():
        name = op["op_name"]
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            types = [tensors[i]["dtype"] for i in (op["inputs"][0], op["inputs"][1], op["outputs"][0])]
            assert types == [np.int8] * 3, (name, types)
            integer_ops[name] += 1
    assert integer_ops == {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}, integer_ops
    (tin,), (tout,) = interpreter.get_input_details(), interpreter.get_output_details()
    rows = []
    for sample in trained["x"][:200]:
        interpreter.set_tensor(tin["index"], sample[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(tout["index"])[0])
    assert _agreement(np.array(rows), trained["reference"][:200]) >= 0.97


def test_o2_keeps_float_convolutions_behind_qdq_pairs(trained):
    path = export_onnx(trained["model"], trained["directory"] / "o2.onnx", source=trained["source"],
                       weight_codes="int8", output_ranges=trained["ranges"])
    ops = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["Conv"] == CONVS and ops["Gemm"] == LINEARS and ops["Max"] == CONVS + LINEARS, ops
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: trained["x"]})
    np.testing.assert_allclose(logits, trained["reference"], rtol=0, atol=1e-4 * np.abs(trained["reference"]).max())


def test_without_output_ranges_only_layers_feeding_8bit_layers_are_lowered(trained):
    path = export_onnx(trained["model"], trained["directory"] / "o3_bare.onnx", source=trained["source"],
                       weight_codes="int8", level=3)
    ops = _optimized_op_types(path, trained["directory"])
    # conv1 feeds conv2 and the residual Add, conv2 the Add, the depthwise conv the pooling,
    # fc the output: none has a scale from a next layer alone, so all stay float.
    assert ops["QLinearConv"] == 0 and ops["MatMulIntegerToFloat"] == 0, ops

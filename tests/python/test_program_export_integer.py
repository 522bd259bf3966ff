"""`--export-onnx` / `--export-tflite` with `--integer --calibrate N`: the -O3 integer graph.

The integer lowering itself (which groups it forms, agreement with PyTorch) is tested in
test_integer_lowering.py; here only the command line's part: the flags reach the exporter
at -O3 with output ranges measured on the training split, so the written ONNX file runs its
8-bit layers as QLinearConv / MatMulIntegerToFloat in onnxruntime's optimized graph and the
TFLite file has int8 CONV_2D / FULLY_CONNECTED operators; a model trained with float
activations is calibrated to 8 bits on the same batches and lowered the same way; a model
without ternary layers is refused with one line and no file. Tiny models, a few training
steps on random inputs, and a synthetic MNIST keep it fast on a CPU.
"""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.programs import load_model_module, run_in_process
from fixtures.tiny_mnist import write_tiny_mnist
from fixtures.training import train_steps

from triton_dsl.errors import UserError

SOURCE = """
model Int8Net {
    layer stem: TernaryConv2d { in_channels: 1, out_channels: 8, kernel_size: 3, padding: 1,
                                bias: false, activation_bits: 8 }
    layer bn: BatchNorm2d { num_features: 8 }
    layer conv: TernaryConv2d { in_channels: 8, out_channels: 8, kernel_size: 3, stride: 2,
                                padding: 1, bias: false, activation_bits: 8 }
    layer bn2: BatchNorm2d { num_features: 8 }
    layer head: TernaryLinear { in_features: 8, out_features: 10, activation_bits: 8 }
    forward(x: Tensor[batch, 1, 28, 28]) -> Tensor[batch, 10] {
        x = relu(bn(stem(x)))
        x = relu(bn2(conv(x)))
        x = flatten(adaptive_avg_pool2d(x, output_size: 1), start_dim: 1)
        return head(x)
    }
    training { batch_size: 16 }
}
"""
CONVS, LINEARS = 2, 1
# The same network trained with float activations (post-training calibration at export).
FLOAT_SOURCE = SOURCE.replace(", activation_bits: 8", "").replace("Int8Net", "FloatActNet")
NO_TERNARY_SOURCE = """
model FloatNet {
    layer head: Linear { in_features: 784, out_features: 10 }
    forward(x: Tensor[batch, 1, 28, 28]) -> Tensor[batch, 10] {
        return head(flatten(x, start_dim: 1))
    }
    training { batch_size: 16 }
}
"""


@pytest.fixture(autouse=True)
def _compiler(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))


def _compiled_program(triton_compiler, directory: Path, name: str, source_text: str) -> dict:
    """The compiled program beside its source, a checkpoint whose layers have seen data (so
    8-bit layers' input ranges are set), and a synthetic MNIST."""
    source = directory / f"{name}.triton"
    source.write_text(source_text)
    script = directory / f"{name}.py"
    subprocess.run([str(triton_compiler), "compile", str(source), "-o", str(script)],
                   check=True, capture_output=True, timeout=60)
    model = load_model_module(script).Model()
    x = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    train_steps(model, x, torch.arange(32) % 10, torch.optim.Adam(model.parameters(), lr=0.01),
                steps=3)
    checkpoint = directory / f"{name}_best.pth"
    torch.save(model.state_dict(), checkpoint)
    data = write_tiny_mnist(directory / "mnist", train=64, test=16)
    return {"script": script, "checkpoint": checkpoint,
            "data": ["--dataset", "mnist", "--data-path", str(data), "--no-download"]}


@pytest.fixture(scope="module")
def program(triton_compiler, tmp_path_factory) -> dict:
    return _compiled_program(triton_compiler, tmp_path_factory.mktemp("integer_program"),
                             "int8net", SOURCE)


@pytest.fixture(scope="module")
def float_program(triton_compiler, tmp_path_factory) -> dict:
    return _compiled_program(triton_compiler, tmp_path_factory.mktemp("float_program"),
                             "floatactnet", FLOAT_SOURCE)


def _optimized_ops(path: Path, tmp_path: Path) -> collections.Counter:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return collections.Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)


def _export(program: dict, flag: str, target: Path, *extra: str) -> int:
    return run_in_process(program["script"], [flag, "--checkpoint", str(program["checkpoint"]),
                                              "--output", str(target), *program["data"],
                                              *extra])


def test_export_onnx_integer_runs_the_layers_on_int8_kernels(program, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    target = tmp_path / "int8net.onnx"
    assert _export(program, "--export-onnx", target, "--integer", "--calibrate", "2") == 0
    out = capsys.readouterr().out
    assert "on 2 training batches of 16" in out and "integer graph" in out, out
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)
    assert ops["QLinearConv"] == CONVS and ops["MatMulIntegerToFloat"] == LINEARS, ops
    assert not ops["Conv"] and not ops["FusedConv"] and not ops["Gemm"], ops
    (logits,) = session.run(None, {session.get_inputs()[0].name:
                                   np.zeros((2, 1, 28, 28), dtype=np.float32)})
    assert logits.shape == (2, 10) and np.isfinite(logits).all()


def test_export_onnx_without_integer_stays_float(program, tmp_path):
    onnx = pytest.importorskip("onnx")
    target = tmp_path / "float.onnx"
    assert _export(program, "--export-onnx", target) == 0
    ops = collections.Counter(n.op_type for n in onnx.load(str(target)).graph.node)
    assert ops["Conv"] == CONVS and ops["QuantizeLinear"] == CONVS + LINEARS, ops


def test_export_tflite_integer_has_int8_operators(program, tmp_path):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    target = tmp_path / "int8net.tflite"
    assert _export(program, "--export-tflite", target, "--integer", "--calibrate", "2") == 0
    interpreter = interpreter_module.Interpreter(model_path=str(target))
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    integer_ops = collections.Counter()
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            types = [tensors[i]["dtype"] for i in (op["inputs"][0], op["inputs"][1], op["outputs"][0])]
            assert types == [np.int8] * 3, (op["op_name"], types)
            integer_ops[op["op_name"]] += 1
    assert integer_ops == {"CONV_2D": CONVS, "FULLY_CONNECTED": LINEARS}, integer_ops


def test_a_float_activation_model_is_calibrated_and_lowered(float_program, tmp_path, capsys):
    target = tmp_path / "floatactnet.onnx"
    assert _export(float_program, "--export-onnx", target, "--integer", "--calibrate", "2") == 0
    out = capsys.readouterr().out
    assert "calibrated 3 layers to 8-bit activations on 2 training batches" in out, out
    ops = _optimized_ops(target, tmp_path)
    assert ops["QLinearConv"] == CONVS and ops["MatMulIntegerToFloat"] == LINEARS, ops
    assert not ops["Conv"] and not ops["FusedConv"] and not ops["Gemm"], ops
    # Without --integer the same checkpoint stays a float graph (nothing calibrated).
    plain = tmp_path / "plain.onnx"
    assert _export(float_program, "--export-onnx", plain) == 0
    assert not _optimized_ops(plain, tmp_path)["QLinearConv"]


def test_a_model_without_ternary_layers_is_refused_and_nothing_written(triton_compiler, tmp_path):
    program = _compiled_program(triton_compiler, tmp_path, "floatnet", NO_TERNARY_SOURCE)
    target = tmp_path / "float.onnx"
    with pytest.raises(UserError, match="has no ternary layer whose activations could be 8-bit"):
        _export(program, "--export-onnx", target, "--integer", "--calibrate", "2")
    assert not target.exists()

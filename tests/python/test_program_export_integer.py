"""`--export-onnx` / `--export-tflite` with `--integer --calibrate N`: the -O3 integer graph.

The integer lowering itself (which groups it forms, agreement with PyTorch) is tested in
test_integer_lowering.py; here only the command line's part: the flags reach the exporter
at -O3 with output ranges measured on the training split, so the written ONNX file runs its
8-bit layers as QLinearConv / MatMulIntegerToFloat in onnxruntime's optimized graph and the
TFLite file has int8 CONV_2D / FULLY_CONNECTED operators; a model without 8-bit layers is
refused with one line and no file. A tiny 8-bit model, a few training steps on random
inputs, and a synthetic MNIST keep it fast on a CPU.
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


@pytest.fixture(autouse=True)
def _compiler(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))


@pytest.fixture(scope="module")
def program(triton_compiler, tmp_path_factory) -> dict:
    """The compiled program beside its source, a checkpoint whose 8-bit layers have seen
    data (so their input ranges are set), and a synthetic MNIST."""
    directory = tmp_path_factory.mktemp("integer_program")
    source = directory / "int8net.triton"
    source.write_text(SOURCE)
    script = directory / "int8net.py"
    subprocess.run([str(triton_compiler), "compile", str(source), "-o", str(script)],
                   check=True, capture_output=True, timeout=60)
    model = load_model_module(script).Model()
    x = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    train_steps(model, x, torch.arange(32) % 10, torch.optim.Adam(model.parameters(), lr=0.01),
                steps=3)
    checkpoint = directory / "int8net_best.pth"
    torch.save(model.state_dict(), checkpoint)
    data = write_tiny_mnist(directory / "mnist", train=64, test=16)
    return {"script": script, "checkpoint": checkpoint,
            "data": ["--dataset", "mnist", "--data-path", str(data), "--no-download"]}


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


def test_a_model_without_8bit_layers_is_refused_and_nothing_written(tmp_path):
    model = load_model_module("tiny_cnn.py").Model().eval()
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    target = tmp_path / "float.onnx"
    with pytest.raises(UserError, match="has no ternary layer with 8-bit activations"):
        run_in_process("tiny_cnn.py", ["--export-onnx", "--integer", "--calibrate", "2",
                                       "--checkpoint", str(checkpoint), "--output", str(target)])
    assert not target.exists()

"""`training` and `state` updates in a user layer's forward, run in PyTorch and ONNX.

The layer (tests/compiler/goldens/pytorch/training_and_state.triton) centres its input with
a running mean it keeps in a `state` tensor: in training it uses the batch mean and moves
the running mean towards it (and counts steps); in evaluation it uses the running mean and
changes nothing. The ONNX graph is the evaluation computation.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from triton_dsl.compiler import compile_file
from triton_dsl.export.safetensors import export_tensors, write_safetensors

SOURCE = Path(__file__).resolve().parents[1] / "compiler/goldens/pytorch/training_and_state.triton"


def _model(tmp_path):
    path = compile_file(SOURCE, tmp_path / "centered.py")
    spec = importlib.util.spec_from_file_location("centered", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return module.Model()


def test_training_updates_the_state_and_evaluation_reads_it(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    model = _model(tmp_path)
    center = model.center
    x = torch.randn(16, 8) + 3.0
    model.train()
    out = model(x)
    out.sum().backward()  # the update is detached: training still differentiates
    assert torch.allclose(center.running_mean, 0.1 * x.mean(dim=0))
    assert float(center.steps) == 1.0
    model(x)
    assert torch.allclose(center.running_mean, 0.19 * x.mean(dim=0), atol=1e-6)
    assert float(center.steps) == 2.0
    assert not center.running_mean.requires_grad
    model.eval()
    before = center.running_mean.clone()
    with torch.no_grad():
        y = model(x)
        expected = model.fc((x - before) * center.scale)
    assert torch.equal(center.running_mean, before) and float(center.steps) == 2.0
    assert torch.allclose(y, expected)
    state = model.state_dict()
    assert torch.equal(state["center.running_mean"], before) and float(state["center.steps"]) == 2.0


def test_onnx_graph_is_the_evaluation_computation(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    model = _model(tmp_path)
    model.train()
    for _ in range(3):
        model(torch.randn(16, 8) + 2.0)
    model.eval()
    weights = write_safetensors(export_tensors(model), tmp_path / "w.safetensors")
    target = compile_file(SOURCE, tmp_path / "centered.onnx", "--backend", "onnx", "--weights", str(weights))
    x = torch.randn(5, 8)
    with torch.no_grad():
        want = model(x).numpy()
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert float(np.abs(got - want).max() / np.abs(want).max()) <= 1e-5

"""examples/deployment/deploy.py: from a checkpoint to every format, checked in each runtime.

A checkpoint with trained-like batch-norm statistics is written for a model; the script then
compiles the program, exports the packed, ONNX (program and compiler), TorchScript lite and
safetensors files through the program's own command line, and runs each file in its runtime.
Every runtime must match the PyTorch program within 1e-4, and the compressed formats must
be smaller than the float32 weights by what their codes promise.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from triton_dsl.compiler import compile_file

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "deployment" / "deploy.py"
MODELS = [REPO / "examples/basic/simple_mlp.triton", REPO / "examples/sequence/keyword_spotting.triton"]


def _deploy_module():
    spec = importlib.util.spec_from_file_location("deploy_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _checkpoint(source: Path, tmp_path: Path) -> Path:
    (tmp_path / "ref").mkdir()
    path = compile_file(source, tmp_path / "ref" / f"{source.stem}.py")
    spec = importlib.util.spec_from_file_location("ref_" + source.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model = module.Model()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(-1.5, 1.5, generator=g)
    checkpoint = tmp_path / f"{source.stem}_best.pth"
    torch.save(model.state_dict(), checkpoint)
    return checkpoint


@pytest.mark.parametrize("source", MODELS, ids=lambda p: p.stem)
def test_every_format_matches_pytorch(triton_compiler, monkeypatch, tmp_path, source):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    rows = _deploy_module().deploy(source, _checkpoint(source, tmp_path), tmp_path / "out")
    by_format = {r["format"]: r for r in rows}
    assert set(by_format) == {"packed .tpk", "ONNX (program)", "ONNX (compiler, -O2)", "TFLite",
                              "TorchScript lite"}
    for row in rows:
        assert row["diff"] <= 1e-4, row
    assert by_format["packed .tpk"]["smaller"] > 8
    assert by_format["ONNX (compiler, -O2)"]["smaller"] > 4
    assert by_format["ONNX (program)"]["smaller"] > 4
    assert by_format["TFLite"]["smaller"] > 2  # int8 codes; small models carry more float parts


def test_the_command_line_prints_the_table(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    source = MODELS[0]
    result = subprocess.run([sys.executable, str(SCRIPT), str(source), str(_checkpoint(source, tmp_path)),
                             "--out", str(tmp_path / "out"), "-O", "0"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "| packed .tpk | triton_dsl.native |" in result.stdout
    assert "ONNX (compiler, -O0)" in result.stdout

"""examples/custom: each custom-layer model compiles deterministically to ruff-clean Python,
trains a few steps on CPU, behaves as its layer promises, and exports to ONNX and TFLite
with the same answers as PyTorch.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixtures.runtimes import (
    assert_exports_match,
    load_program,
)
from fixtures.training import train_steps

from triton_dsl.compiler import compile_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "custom"
NAMES = ["learned_threshold_mlp", "running_statistics", "attention_block"]


def test_every_example_is_tested():
    assert {p.stem for p in EXAMPLES.glob("*.triton")} == set(NAMES)


def _compiled(tmp_path, name):
    source = EXAMPLES / f"{name}.triton"
    first = compile_file(source, tmp_path / f"{name}.py", "--verify")
    (tmp_path / "again").mkdir()
    second = compile_file(source, tmp_path / "again" / f"{name}.py")
    assert first.read_text() == second.read_text()
    return source, first, load_program(first)


def _train(model, shape, classes, steps=4):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(16, *shape, generator=generator)
    y = torch.randint(0, classes, (16,), generator=generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = train_steps(model, x, y, optimizer, steps)
    assert losses[-1] < losses[0]
    return x


@pytest.mark.parametrize("name", NAMES)
def test_example_trains_and_exports(triton_compiler, monkeypatch, tmp_path, name):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    source, program, module = _compiled(tmp_path, name)
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff (requirements/dev.txt) checks the generated program"
    result = subprocess.run([ruff, "check", "--no-cache", "--isolated", str(program)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    torch.manual_seed(0)
    model = module.Model()
    shape = [int(d) for d in module.MODEL_INFO["inputs"][0]["shape"][1:]]
    classes = module.MODEL_INFO["hyperparameters"]["num_classes"]
    x = _train(model, shape, classes)
    model.eval()
    with torch.no_grad():
        want = model(x).numpy()
    assert_exports_match(model, source, x, want, tmp_path, tflite_rows=2)


def test_learned_threshold_moves_and_zeroes_weights(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    _, _, module = _compiled(tmp_path, "learned_threshold_mlp")
    torch.manual_seed(0)
    model = module.Model()
    start = float(model.fc1.log_fraction)
    _train(model, [1, 28, 28], 10, steps=6)
    assert float(model.fc1.log_fraction) != start  # the threshold is trained
    layer = model.fc1
    a = layer.weight.detach().abs()
    delta = torch.exp(layer.log_fraction.detach()) * a.mean()
    zeros = float((a <= delta).float().mean())
    assert 0.2 < zeros < 0.8


def test_running_statistics_update_in_training_only(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    _, _, module = _compiled(tmp_path, "running_statistics")
    torch.manual_seed(0)
    model = module.Model()
    norm = model.norm
    x = _train(model, [1, 28, 28], 10, steps=3)
    assert float(norm.steps) == 3.0
    stored = norm.running_ms.clone()
    assert not torch.allclose(stored, torch.ones_like(stored))
    model.eval()
    with torch.no_grad():
        model(x)
    assert torch.equal(norm.running_ms, stored) and float(norm.steps) == 3.0

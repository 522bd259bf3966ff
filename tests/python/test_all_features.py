"""tests/compiler/goldens/pytorch/all_features.triton: every construct of the language's
custom-layer and quantization features in one file. It compiles with `--verify`, the same
way twice, to ruff-clean Python; the quantization section reaches the layers; a few CPU
training steps lower the loss and move the `state`; the ONNX and TFLite files the compiler
writes from the trained weights compute the evaluation-mode output.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import torch
from fixtures.runtimes import (
    assert_exports_match,
    load_program,
)
from fixtures.training import train_steps

from triton_dsl.compiler import compile_file

SOURCE = Path(__file__).resolve().parents[1] / "compiler/goldens/pytorch/all_features.triton"


def test_all_features_compile_train_and_export(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    program = compile_file(SOURCE, tmp_path / "everything.py", "--verify")
    (tmp_path / "again").mkdir()
    assert compile_file(SOURCE, tmp_path / "again" / "everything.py").read_text() == program.read_text()
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff (requirements/dev.txt) checks the generated program"
    lint = subprocess.run([ruff, "check", "--no-cache", "--isolated", str(program)],
                          capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout
    module = load_program(program)
    torch.manual_seed(0)
    model = module.Model()
    assert (model.stem.quantization, model.stem.activation_bits) == ("none", 32)
    assert (model.mix.quantization, model.mix.activation_bits) == ("deterministic", 8)
    assert model.head.activation_bits == 32

    x = torch.randn(16, 3, 4, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 5, (16,), generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = train_steps(model, x, y, optimizer, 5)
    assert losses[-1] < losses[0]
    assert float(model.center.running_mean.abs().sum()) > 0

    model.eval()
    with torch.no_grad():
        want = model(x).numpy()
    assert_exports_match(model, SOURCE, x, want, tmp_path, tflite_rows=3, tflite_tolerance=1e-3)

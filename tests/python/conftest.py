"""Fixtures shared by every Python test suite of the project.

Each test starts from the same random state, so a test that draws random weights or inputs
gives the same numbers every run and a failure can be reproduced exactly. Suites add their
fixtures here when more than one file needs them.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Seeds Python, NumPy and torch before every test."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def triton_compiler() -> Path:
    """The `triton` executable: $TRITON_COMPILER, else one on PATH, else the newest
    development build under build/*/compiler/. Tests that need it skip when there is none."""
    candidates = []
    if os.environ.get("TRITON_COMPILER"):
        candidates.append(Path(os.environ["TRITON_COMPILER"]))
    on_path = shutil.which("triton")
    if on_path:
        candidates.append(Path(on_path))
    # Several development builds may exist; the most recently linked is the likeliest to
    # match the sources.
    builds = [*REPO_ROOT.glob("build/*/compiler/triton"),
              *REPO_ROOT.glob("build/*/compiler/driver/triton")]
    candidates.extend(sorted(builds, key=lambda p: p.stat().st_mtime, reverse=True))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no `triton` compiler built (set TRITON_COMPILER or build into build/<name>)")


@pytest.fixture(scope="session")
def seed_model_file(triton_compiler, tmp_path_factory):
    """`seed_model_file("resnet18")`: the generated Python file of
    examples/basic/resnet18.triton, compiled once per session by `triton_compiler`. Tests use
    what the compiler emits, never hand-written copies of the seed models."""
    import subprocess

    directory = tmp_path_factory.mktemp("seed_models")

    def compiled(stem: str) -> Path:
        target = directory / f"{stem}.py"
        if not target.is_file():
            source = REPO_ROOT / "examples" / "basic" / f"{stem}.triton"
            subprocess.run([str(triton_compiler), "compile", str(source), "--output",
                            str(target)], check=True, capture_output=True, text=True)
        return target

    return compiled


@pytest.fixture(scope="module")
def triton_interpreter():
    """Runs `triton_dsl.gpu`'s Triton kernels under OpenAI Triton's CPU interpreter for the
    tests of one module and returns the `triton_dsl.gpu` package. Triton reads
    `TRITON_INTERPRET` both when a kernel is defined (module import: kernels imported
    compiled earlier are imported again) and when it runs, so the variable is set for the
    module's tests and restored after them. Skips when OpenAI Triton is not installed."""
    import importlib
    import sys

    pytest.importorskip("triton")
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        from triton_dsl.gpu.kernels import configs
        if not configs.INTERPRET:
            for name in [n for n in sys.modules if n.startswith("triton_dsl.gpu.")]:
                del sys.modules[name]
        for name in ("kernels.gemv", "kernels.gemm", "kernels.conv", "kernels.depthwise",
                     "layers", "executor"):
            importlib.import_module(f"triton_dsl.gpu.{name}")
        from triton_dsl import gpu
        yield gpu
    finally:
        if old is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = old

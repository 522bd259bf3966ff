"""Property test: every program the compiler accepts imports, constructs and runs forward.

The programs come from the structure-aware generator (fixtures/program_gen.py): random
block chains, constants at the 64-bit limits, huge dimensions, hostile identifiers and
strings. For each one the compiler must end normally (exit 0 or 1: never a crash, an
internal error or a hang), must refuse what the generator knows to be invalid (a tensor of
more than 2^40 elements, invalid UTF-8), and whatever it accepts must import in Python,
construct `Model()` with its defaults and run forward on a small input. A second property
runs deep block graphs through the compiler only, where construction would be too slow.

The seeds are derandomized, so CI sees the same programs on every run; the example counts
(raise them with TRITON_GEN_EXAMPLES / TRITON_GEN_DEEP_EXAMPLES for a longer search by hand)
keep the module near a minute on one core.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
from fixtures.program_gen import generate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# TRITON_COMPILER picks another build (to check that the property finds a re-introduced bug).
TRITON = os.environ.get("TRITON_COMPILER") or shutil.which("triton")
pytestmark = pytest.mark.skipif(TRITON is None, reason="the `triton` compiler is not installed")

COMPILE_TIMEOUT_S = 30


def _compile(tmp: Path, source: bytes) -> tuple[subprocess.CompletedProcess, Path]:
    name = f"gen_{uuid.uuid4().hex[:12]}"
    src, out = tmp / f"{name}.triton", tmp / f"{name}.py"
    src.write_bytes(source)
    try:
        result = subprocess.run([TRITON, "compile", str(src), "--output", str(out)],
                                capture_output=True, timeout=COMPILE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the compiler hung (>{COMPILE_TIMEOUT_S}s) on:\n{source.decode(errors='replace')}")
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode in (0, 1), (
        f"exit {result.returncode} (crash or internal error):\n{stderr}\n"
        f"{source.decode(errors='replace')}")
    if result.returncode == 1:
        assert "error:" in stderr and "internal error" not in stderr, stderr
    return result, out


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # runs the module body: `program.main` only under __main__
    return module


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("generated")


@settings(max_examples=int(os.environ.get("TRITON_GEN_EXAMPLES", "60")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**64 - 1))
def test_accepted_programs_import_construct_and_run(workdir, seed):
    program = generate(random.Random(seed))
    text = program.source.decode(errors="replace")
    result, out = _compile(workdir, program.source)
    if program.must_reject:
        assert result.returncode == 1, f"accepted although {program.must_reject}:\n{text}"
        return
    if result.returncode != 0 or not program.runnable:
        return
    python = out.read_bytes()
    python.decode("utf-8")  # Python reads the file as UTF-8; the compiler must emit it so
    for control in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
                    "\u2068", "\u2069"):
        assert control.encode() not in python, "a raw bidi control reached the generated code"
    module = _import(out)
    torch.manual_seed(0)
    model = module.Model()
    model.eval()
    with torch.no_grad():
        y = model(torch.randn(2, *program.input_shape))
    assert y.shape == (2, 3)
    sys.modules.pop(out.stem, None)


# How deep the compile-only property goes: 40 levels of a two-copies-per-level chain are
# 2^40 layers, far past the elaborator's layer budget, which must answer with one error fast.
DEEP_MAX_LEVELS = int(os.environ.get("TRITON_GEN_DEEP_LEVELS", "40"))


@settings(max_examples=int(os.environ.get("TRITON_GEN_DEEP_EXAMPLES", "15")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**64 - 1))
def test_deep_block_graphs_compile_in_bounded_time(workdir, seed):
    program = generate(random.Random(seed), max_depth=DEEP_MAX_LEVELS)
    result, _ = _compile(workdir, program.source)
    if program.must_reject:
        assert result.returncode == 1, program.must_reject

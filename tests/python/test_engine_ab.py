"""`benchmarks/engine_ab.py` runs end to end: the MLP at batch 1, both builds being this
one (so the two columns time the same engine), two rounds; its table has a row per
activation kind with both times and their ratio. Timings are not checked (a smoke test).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.programs import child_environment

REPO = Path(__file__).resolve().parents[2]


def test_engine_ab_times_both_builds_of_the_mlp(triton_compiler):
    native = pytest.importorskip("triton_dsl.native")
    package = Path(native.__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "engine_ab.py"),
         str(REPO / "examples" / "basic" / "simple_mlp.triton"), "--baseline", str(package),
         "--rounds", "2", "--runs", "2"],
        env=child_environment(TRITON_COMPILER=str(triton_compiler)), capture_output=True,
        text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| simple_mlp |")]
    assert [row.split("|")[2].strip() for row in rows] == ["f32", "int8"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert re.fullmatch(r"\d+\.\d+", cells[4]) and re.fullmatch(r"\d+\.\d+", cells[5]), row
        assert re.fullmatch(r"\d+\.\d+x", cells[6]), row


def test_engine_ab_rejects_a_folder_without_the_package(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "engine_ab.py"), "--baseline", str(tmp_path)],
        env=child_environment(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "holds no triton_dsl package" in result.stderr

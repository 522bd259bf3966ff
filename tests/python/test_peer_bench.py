"""`benchmarks/peer_bench.py` runs end to end: the MLP at batch 1, one round, every peer that
is installed, and the markdown file it writes carries the table, the machine and the
versions. Timings are not checked (a smoke test); every path's output is, loosely, against
PyTorch float32. The benchmark runs as its own process, as users run it: OpenVINO and NNCF
then never load into the test process. Skips without onnxruntime, the one required peer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.programs import child_environment

REPO = Path(__file__).resolve().parents[2]


def test_peer_bench_runs_the_mlp_and_writes_its_table(tmp_path, triton_compiler):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("triton_dsl.native")
    output = tmp_path / "peer.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "peer_bench.py"),
         str(REPO / "examples" / "basic" / "simple_mlp.triton"), "--batches", "1",
         "--rounds", "1", "--samples", "4", "--output", str(output)],
        env=child_environment(TRITON_COMPILER=str(triton_compiler)), capture_output=True,
        text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    header = next(line for line in result.stdout.splitlines() if line.startswith("| case |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    text = output.read_text()
    assert "- machine: " in text and "engine level" in text
    assert "onnxruntime" in text and "torch" in text
    # PyTorch's OpenMP workers wait passively unless the caller chose otherwise.
    policy = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    assert f"- OMP_WAIT_POLICY: {policy} " in text
    row = next(line for line in text.splitlines() if line.startswith("| MLP b1 | 1 |"))
    cells = dict(zip(columns, (c.strip() for c in row.strip("|").split("|")), strict=True))
    # The engines, PyTorch and both onnxruntime paths always run; OpenVINO where installed.
    for name in ("engine int8 ms", "engine f32 ms", "PyTorch f32 ms", "ORT f32 ms",
                 "ORT int8 ms"):
        assert re.match(r"\d+\.\d+", cells[name]), (name, cells[name])
    openvino = "openvino not installed" not in text
    assert (cells["OpenVINO f32 ms"] != "n/a") == openvino, cells
    # Every path computes the same model: float paths to rounding, int8 paths to a few %.
    errors = dict(re.findall(r"(engine int8|engine f32|ORT f32|ORT int8|OpenVINO f32|"
                             r"OpenVINO int8) ([\d.e+-]+)", result.stdout))
    for name in ("engine f32", "ORT f32"):
        assert float(errors[name]) < 1e-4, (name, errors)
    for name in ("engine int8", "ORT int8"):
        assert float(errors[name]) < 0.1, (name, errors)

"""`benchmarks/peer_bench.py` runs end to end: the MLP at batch 1, one round, every peer that
is installed, and the markdown file it writes carries the table, the machine and the
versions. Timings are not checked (a smoke test); every path's output is, loosely, against
PyTorch float32. Skips without onnxruntime, the benchmark's one required peer.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))


def test_peer_bench_runs_the_mlp_and_writes_its_table(tmp_path, monkeypatch, capsys,
                                                       triton_compiler):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("triton_dsl.native")
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    import peer_bench
    import peer_runners

    output = tmp_path / "peer.md"
    assert peer_bench.main([str(REPO / "examples" / "basic" / "simple_mlp.triton"),
                            "--batches", "1", "--rounds", "1", "--samples", "4",
                            "--output", str(output)]) == 0
    text = output.read_text()
    assert "| MLP b1 | 1 |" in text
    assert "- machine: " in text and "engine level" in text
    assert "onnxruntime" in text and "torch" in text
    row = next(line for line in text.splitlines() if line.startswith("| MLP b1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == len(peer_bench.HEADER)
    # The engines, PyTorch and both onnxruntime paths always run; OpenVINO where installed.
    for index in (2, 3, 4, 5, 6):
        assert re.match(r"\d+\.\d+", cells[index]), (peer_bench.HEADER[index], cells[index])
    openvino = peer_runners.versions()["openvino"] != "not installed"
    assert (cells[7] != "n/a") == openvino, cells[7]
    # Every path computes the same model: float paths to rounding, int8 paths to a few %.
    errors = dict(re.findall(r"(engine int8|engine f32|ORT f32|ORT int8|OpenVINO f32|"
                             r"OpenVINO int8) ([\d.e+-]+)", capsys.readouterr().out))
    for name in ("engine f32", "ORT f32"):
        assert float(errors[name]) < 1e-4, (name, errors)
    for name in ("engine int8", "ORT int8"):
        assert float(errors[name]) < 0.1, (name, errors)

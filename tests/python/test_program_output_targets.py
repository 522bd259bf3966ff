"""`--export-packed` / `--export-onnx` refuse targets that writing would destroy.

An export replaces its `--output`. A FIFO would block the program until a reader came, a
device node (as root, `/dev/null`) would be replaced, and the model program or the
checkpoint being exported would be lost. Each case must end with one `error:` line, exit
status 2, and leave the target as it was.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from fixtures.programs import copy_model, run_model


@pytest.fixture()
def workdir(tmp_path) -> Path:
    copy_model("tiny_cnn.py", tmp_path)
    torch.save({"precious": torch.arange(3)}, tmp_path / "tiny_cnn_best.pth")
    return tmp_path


def _refused(workdir: Path, flag: str, target: str, match: str) -> None:
    result = run_model(workdir / "tiny_cnn.py", flag, "--checkpoint",
                       str(workdir / "tiny_cnn_best.pth"), "--output", target)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert match in lines[0], lines[0]


@pytest.mark.parametrize("flag", ["--export-packed", "--export-onnx"])
def test_fifo_and_device_targets_are_refused(workdir, flag):
    fifo = workdir / "pipe"
    os.mkfifo(fifo)
    _refused(workdir, flag, str(fifo), "it is not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    _refused(workdir, flag, os.devnull, "it is not a regular file")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.parametrize("name", ["tiny_cnn.py", "tiny_cnn_best.pth"])
def test_the_program_or_checkpoint_is_not_overwritten(workdir, name):
    before = (workdir / name).read_bytes()
    _refused(workdir, "--export-packed", str(workdir / name), "it is the input file")
    assert (workdir / name).read_bytes() == before

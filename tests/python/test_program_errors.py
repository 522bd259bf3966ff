"""Bad input to a generated program: one `error:` line, exit status 2, nothing on disk touched.

Each case runs the fixture model file as its own process, the way a user meets it, and
checks the whole contract: the status, that stderr is exactly one line starting with
`error: `, and that every file already in the output directory is byte-for-byte unchanged.
Ctrl-C is tested here too, since it is about processes: the run stops cleanly, the last
completed epoch's checkpoint loads, and `--resume` finishes the run from it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fixtures.programs import child_environment, copy_model, run_model
from fixtures.tiny_mnist import write_tiny_mnist
from torch import nn


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("mnist"))


@pytest.fixture()
def workdir(tmp_path) -> Path:
    """A directory with the model file and files a careless program could overwrite."""
    copy_model("tiny_cnn.py", tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    torch.save({"precious": torch.arange(3)}, out / "tiny_cnn_best.pth")
    (out / "checkpoint_epoch_1.pth").write_bytes(b"an earlier run's checkpoint")
    (out / "notes.txt").write_text("keep me\n")
    return tmp_path


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _expect_user_error(workdir: Path, *args: str, match: str) -> str:
    before = _snapshot(workdir)
    result = run_model(workdir / "tiny_cnn.py", *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert match in lines[0], lines[0]
    assert _snapshot(workdir) == before
    return lines[0]


def _train_args(data_dir: Path, *extra: str) -> list[str]:
    return ["--train", "--dataset", "mnist", "--data-path", str(data_dir), "--output-dir", "out",
            "--no-progress", *extra]


def test_checkpoint_of_another_model(workdir, data_dir):
    other = workdir / "other.pth"
    torch.save(nn.Linear(3, 4).state_dict(), other)
    _expect_user_error(workdir, "--eval", "--checkpoint", str(other), "--data-path",
                       str(data_dir), match="does not belong to model `TinyCNN`")


def test_training_checkpoint_of_another_model_cannot_be_resumed(workdir, data_dir):
    other = workdir / "checkpoint_epoch_4.pth"
    torch.save({"format": "triton_dsl.checkpoint", "version": 1, "model_name": "ResNet18",
                "model": nn.Linear(3, 4).state_dict()}, other)
    _expect_user_error(workdir, *_train_args(data_dir, "--resume", str(other)),
                       match="is of model `ResNet18`, not `TinyCNN`")


def test_file_that_is_not_a_checkpoint(workdir, data_dir):
    _expect_user_error(workdir, "--eval", "--checkpoint", "out/notes.txt", "--data-path",
                       str(data_dir), match="is not a readable checkpoint")


def test_missing_checkpoint(workdir, data_dir):
    _expect_user_error(workdir, "--eval", "--checkpoint", "nowhere.pth", "--data-path",
                       str(data_dir), match="`nowhere.pth` does not exist")


def test_zero_epochs(workdir, data_dir):
    _expect_user_error(workdir, *_train_args(data_dir, "--epochs", "0"),
                       match="--epochs must be at least 1")


def test_output_directory_that_cannot_be_created(workdir, data_dir):
    _expect_user_error(workdir, "--train", "--dataset", "mnist", "--data-path", str(data_dir),
                       "--output-dir", "out/notes.txt/run",
                       match="`out/notes.txt` is a file")


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0,
                    reason="permissions do not stop root")
def test_read_only_output_directory(workdir, data_dir):
    (workdir / "out").chmod(0o555)
    try:
        _expect_user_error(workdir, *_train_args(data_dir), match="is not writable")
    finally:
        (workdir / "out").chmod(0o755)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_without_a_gpu(workdir, data_dir):
    _expect_user_error(workdir, *_train_args(data_dir, "--gpu"), match="no CUDA GPU")


def test_missing_dataset(workdir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _expect_user_error(workdir, "--train", "--dataset", "mnist", "--data-path", str(empty),
                       "--no-download", "--output-dir", "out", match="not found")


def test_corrupt_dataset(workdir, data_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in data_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    images = broken / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[: len(raw) // 2]))  # truncated
    _expect_user_error(workdir, *_train_args(broken), match="train-images-idx3-ubyte.gz")


def test_distributed_without_a_launcher(workdir, data_dir):
    _expect_user_error(workdir, *_train_args(data_dir, "--distributed"),
                       match="`--distributed` needs a launcher")


def test_unknown_flag_is_one_line_too(workdir):
    _expect_user_error(workdir, "--train", "--epochz", "3", match="unrecognized arguments")


def test_ctrl_c_stops_cleanly_and_resume_finishes_the_run(tmp_path, data_dir):
    script = copy_model("tiny_cnn.py", tmp_path)
    process = subprocess.Popen(
        [sys.executable, str(script), *_train_args(data_dir, "--epochs", "200")],
        cwd=tmp_path, env=child_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("epoch 1/200") or not line:
                break
        assert line.startswith("epoch 1/200"), process.stderr.read()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted after epoch" in stderr and "--resume" in stderr
    epochs = sorted(int(p.stem.rsplit("_", 1)[1]) for p in (tmp_path / "out").glob(
        "checkpoint_epoch_*.pth"))
    last = epochs[-1]
    assert epochs == list(range(1, last + 1))
    state = torch.load(tmp_path / "out" / f"checkpoint_epoch_{last}.pth", weights_only=True)
    assert state["epoch"] == last
    assert not list((tmp_path / "out").glob(".*tmp"))
    resumed = run_model(script, *_train_args(data_dir, "--epochs", str(last + 1), "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from out/checkpoint_epoch_{last}.pth after epoch {last}" in resumed.stdout
    assert f"epoch {last + 1}/{last + 1}" in resumed.stdout

"""Data-parallel training on the CPU: two gloo processes under both PyTorch launchers.

A short run of the tiny fixture model on tiny MNIST-format files checks what `--distributed`
promises: the job trains under `torchrun` and under `python -m torch.distributed.launch`
(which passes `--local-rank`), only rank 0 logs and writes, the metrics are summed over the
ranks (the epoch line counts both ranks' images), and the checkpoint is a normal one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixtures.programs import child_environment, copy_model
from fixtures.tiny_mnist import write_tiny_mnist


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("mnist"), train=64, test=40)


@pytest.mark.parametrize("launcher", ["torch.distributed.run", "torch.distributed.launch"])
def test_two_gloo_processes_train_and_only_rank_zero_writes(tmp_path, data_dir, launcher):
    script = copy_model("tiny_cnn.py", tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", launcher, "--standalone", "--nproc_per_node=2", str(script),
         "--train", "--distributed", "--dataset", "mnist", "--data-path", str(data_dir),
         "--epochs", "2", "--batch-size", "8", "--output-dir", "out", "--no-progress"],
        cwd=tmp_path, env=child_environment(), capture_output=True, text=True, timeout=300,
        check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    out = result.stdout
    assert "device cpu x2 (gloo)" in out
    assert out.count("epoch 1/2") == 1 and out.count("epoch 2/2") == 1  # rank 0 only
    assert out.count("TinyCNN: results") == 1
    state = torch.load(tmp_path / "out" / "checkpoint_epoch_2.pth", weights_only=True)
    # 64 images over 2 ranks of 32, batches of 8: each epoch saw all 64 images.
    assert state["history"][0]["images"] == 64
    assert (tmp_path / "out" / "tiny_cnn_best.pth").is_file()

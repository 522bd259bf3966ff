"""A training's output directory under shared use and hostile contents (issue 11, 12-14).

Two trainings into one folder (the lock, `--run-name`, a killed holder), a full disk
(every write fails with ENOSPC), and the gaps of `--resume`: a run killed between its last
checkpoint and its `.tpk`, resuming into a new folder, crafted checkpoint values,
temporaries left by killed writes, and "newest" meaning the content's epoch. Quick runs are
in-process through `program.run`/`program.main`; what is about processes (a second
process, SIGKILL, exit status) runs the fixture model file as a child.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fixtures.programs import (
    FIXTURES,
    child_environment,
    copy_model,
    load_model_module,
    run_in_process,
)
from fixtures.tiny_mnist import write_tiny_mnist

from triton_dsl.errors import UserError


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("mnist"))


def _args(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["--train", "--dataset", "mnist", "--data-path", str(data_dir), "--output-dir",
            str(out), "--no-progress", *extra]


def _train(data_dir: Path, out: Path, *extra: str) -> int:
    return run_in_process("tiny_cnn.py", _args(data_dir, out, *extra))


def _main(argv: list[str], capsys) -> tuple[int, list[str]]:
    """`program.main` in-process: (exit status, stderr lines)."""
    from triton_dsl import program

    module = load_model_module("tiny_cnn.py")
    with pytest.raises(SystemExit) as exited:
        program.main(module.Model, info=module.MODEL_INFO, training=module.TRAINING,
                     performance=module.PERFORMANCE, optimization=module.OPTIMIZATION,
                     script=str(FIXTURES / "tiny_cnn.py"), argv=argv)
    return exited.value.code, capsys.readouterr().err.strip().splitlines()


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir()) if p.is_file()}


# --- 12: two trainings, one folder --------------------------------------------------------

def test_second_training_into_a_busy_folder_fails_naming_the_holder(tmp_path, data_dir,
                                                                     capsys):
    script = copy_model("tiny_cnn.py", tmp_path)
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, str(script),
                              *_args(data_dir, out, "--epochs", "500")],
                             cwd=tmp_path, env=child_environment(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out / "checkpoint_epoch_1.pth").exists():
            assert first.poll() is None, "the first training ended early"
            time.sleep(0.1)
        before = _digests(out)
        status, lines = _main(_args(data_dir, out, "--epochs", "1"), capsys)
        assert status == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"error: output directory `{out}` is in use by another "
                                   f"training (pid {first.pid} on "), lines
        assert "--run-name" in lines[0]
        # The second run replaced nothing the first one wrote.
        after = _digests(out)
        assert all(after.get(name) == digest for name, digest in before.items()
                   if name.startswith("tiny_cnn_best") or name == "checkpoint_epoch_1.pth")
        # Asked to, the second run trains beside the first, in a subfolder of its own.
        assert _train(data_dir, out, "--epochs", "1", "--run-name", "second") == 0
        assert f"weights {out / 'second' / 'tiny_cnn_best.pth'}" in capsys.readouterr().out
        assert (out / "second" / "tiny_cnn.tpk").is_file()
        # A holder killed outright leaves no stale lock: the kernel released it.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert _train(data_dir, out, "--epochs", "1") == 0
    assert not (out / ".triton-train.lock").exists()


@pytest.mark.parametrize("name", ["..", "a/b", ""])
def test_run_name_must_be_one_folder_name(name, tmp_path, data_dir):
    with pytest.raises(UserError, match="--run-name must be a folder name"):
        _train(data_dir, tmp_path, "--run-name", name)


# --- 13: full disk ------------------------------------------------------------------------

def test_full_disk_is_one_line_and_keeps_the_earlier_checkpoints(tmp_path, data_dir, capsys,
                                                                 monkeypatch):
    out = tmp_path / "out"
    assert _train(data_dir, out, "--epochs", "1") == 0
    (out / "tiny_cnn.tpk").unlink()  # (so the resume below is not refused as complete)
    before = _digests(out)
    real_save = torch.save

    def disk_full(obj, f, *args, **kwargs):
        name = getattr(f, "name", f)
        if "checkpoint_epoch_2" not in str(name):
            return real_save(obj, f, *args, **kwargs)
        if hasattr(f, "write"):
            f.write(b"\0" * 4096)  # what fitted before the disk filled
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    capsys.readouterr()
    status, lines = _main(_args(data_dir, out, "--epochs", "2", "--resume"), capsys)
    assert status == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: cannot write ") and "checkpoint_epoch_2.pth" in lines[0]
    assert "no space left on device" in lines[0]
    assert _digests(out) == before  # checkpoint 1 and the best weights intact, no temporary


def test_full_disk_at_the_packed_model_is_an_error_not_a_warning(tmp_path, data_dir, capsys,
                                                                 monkeypatch):
    from triton_dsl.program import measure

    def disk_full(model, path, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(measure, "save_packed", disk_full)
    status, lines = _main(_args(data_dir, tmp_path, "--epochs", "1"), capsys)
    assert status == 2 and len(lines) == 1, lines
    assert "tiny_cnn.tpk" in lines[0] and "no space left on device" in lines[0]
    assert (tmp_path / "checkpoint_epoch_1.pth").is_file()
    assert not (tmp_path / "tiny_cnn.tpk").exists()


# --- 14: resume gaps ----------------------------------------------------------------------

def test_resume_finishes_a_run_killed_before_its_packed_model(tmp_path, data_dir, capsys):
    assert _train(data_dir, tmp_path, "--epochs", "1") == 0
    (tmp_path / "tiny_cnn.tpk").unlink()
    checkpoint = _digests(tmp_path)["checkpoint_epoch_1.pth"]
    capsys.readouterr()
    assert _train(data_dir, tmp_path, "--epochs", "1", "--resume") == 0
    out = capsys.readouterr().out
    assert "all 1 epochs were trained before" in out and "epoch 1/1" not in out
    assert (tmp_path / "tiny_cnn.tpk").stat().st_size > 0
    assert _digests(tmp_path)["checkpoint_epoch_1.pth"] == checkpoint  # nothing retrained
    # With the packed model in place the run is complete, and a resume says so.
    with pytest.raises(UserError, match="already completed epoch 1 of 1"):
        _train(data_dir, tmp_path, "--epochs", "1", "--resume")


def test_resume_into_a_new_output_dir_carries_the_best_weights(tmp_path, data_dir, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert _train(data_dir, first, "--epochs", "1") == 0
    assert _train(data_dir, second, "--epochs", "2", "--resume",
                  str(first / "checkpoint_epoch_1.pth")) == 0
    assert "weights " + str(second / "tiny_cnn_best.pth") in capsys.readouterr().out
    for name in ("tiny_cnn_best.pth", "checkpoint_epoch_2.pth", "tiny_cnn.tpk"):
        assert (second / name).is_file(), name
    state = torch.load(second / "checkpoint_epoch_2.pth", weights_only=True)
    best = torch.load(second / "tiny_cnn_best.pth", weights_only=True)
    if state["best_epoch"] == 1:  # the best is still epoch 1's: the carried-over file
        original = torch.load(first / "tiny_cnn_best.pth", weights_only=True)
        assert all(torch.equal(best[k], original[k]) for k in original)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("finished")
    torch.set_num_threads(1)
    assert _train(data_dir, out, "--epochs", "1") == 0
    return out / "checkpoint_epoch_1.pth"


def _numpy_keys_of_wrong_length(state):
    state["rng"]["numpy"]["keys"] = torch.zeros(5, dtype=torch.int64)


CRAFTED = {
    "epoch": [lambda s: s.update(epoch=-1), lambda s: s.update(epoch="abc"),
              lambda s: s.update(epoch=2.5)],
    "history": [lambda s: s.update(history="abc"), lambda s: s.update(history=[1])],
    "rng": [lambda s: s.update(rng="abc"), lambda s: s["rng"].update(torch=torch.zeros(3)),
            _numpy_keys_of_wrong_length],
    "scheduler": [lambda s: s.update(scheduler={"step": -4}),
                  lambda s: s.update(scheduler="abc")],
    "best_epoch": [lambda s: s.update(best_epoch=7)],
    "best_accuracy": [lambda s: s.update(best_accuracy=float("nan"))],
    "hyperparameters": [lambda s: s.update(hyperparameters="abc")],
}


@pytest.mark.parametrize(("field", "index"), [(field, i) for field, edits in CRAFTED.items()
                                              for i in range(len(edits))])
def test_crafted_checkpoint_value_is_one_line_naming_the_field(field, index, finished_run,
                                                              tmp_path, data_dir, capsys):
    state = torch.load(finished_run, weights_only=True)
    CRAFTED[field][index](state)
    crafted = tmp_path / "checkpoint_epoch_1.pth"
    torch.save(state, crafted)
    out = tmp_path / "out"
    status, lines = _main(_args(data_dir, out, "--epochs", "3", "--resume", str(crafted)),
                          capsys)
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: checkpoint `{crafted}` has an invalid `{field}`"), lines
    assert not out.exists()  # a mistake leaves no trace


def test_resume_from_a_few_bytes_of_garbage_is_one_line(tmp_path, data_dir, capsys):
    torn = tmp_path / "checkpoint_epoch_4.pth"
    torn.write_bytes(b"torn")  # torch's unpickler fails on this with an IndexError
    status, lines = _main(_args(data_dir, tmp_path / "out", "--resume", str(torn)), capsys)
    expected = f"error: `{torn}` is not a readable checkpoint (pop from empty list)"
    assert status == 2 and lines == [expected], lines


def test_stale_temporaries_of_killed_writes_are_removed_and_nothing_else(tmp_path, data_dir,
                                                                         capsys):
    ours = [".checkpoint_epoch_3.pth.k2j_x9a1.tmp", ".tiny_cnn_best.pth.0abcdefg.tmp",
            ".tiny_cnn.tpk.zz_zz_zz.tmp"]
    theirs = [".notes.txt.abcdefgh.tmp", "checkpoint_epoch_3.pth.tmp", ".other_best.pth.a.tmp"]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"half")
    assert _train(data_dir, tmp_path, "--epochs", "1") == 0
    assert "left half-written by an interrupted run" in capsys.readouterr().out
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & set(ours)
    assert set(theirs) <= left


def test_bare_resume_takes_the_newest_epoch_by_content(tmp_path, data_dir, capsys):
    assert _train(data_dir, tmp_path, "--epochs", "2") == 0
    # A name that promises more than the file holds, and a file that is not a checkpoint.
    shutil.copy(tmp_path / "checkpoint_epoch_1.pth", tmp_path / "checkpoint_epoch_9.pth")
    (tmp_path / "checkpoint_epoch_12.pth").write_bytes(b"torn")
    (tmp_path / "tiny_cnn.tpk").unlink()
    capsys.readouterr()
    assert _train(data_dir, tmp_path, "--epochs", "3", "--resume") == 0
    out = capsys.readouterr().out
    assert f"resumed from {tmp_path / 'checkpoint_epoch_2.pth'} after epoch 2" in out
    assert f"note: --resume skips `{tmp_path / 'checkpoint_epoch_12.pth'}`" in out
    assert "epoch 3/3" in out and "epoch 2/3" not in out

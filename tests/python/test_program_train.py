"""End-to-end tests of `--train`, `--eval`, `--resume` and `--fine-tune` on tiny real files.

The fixture model files follow the generated-code contract exactly, and the data are
MNIST-format IDX files written by the test, read by the real `triton_dsl.data`. Runs are
in-process through `program.run` (same code path as `main`, minus `sys.exit`) to keep the
suite fast; process-level behaviour (exit codes, signals) is in test_program_errors.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from fixtures.programs import load_model_module, run_in_process
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


def _train(data_dir: Path, out: Path, *extra: str, model: str = "tiny_cnn.py") -> int:
    return run_in_process(model, ["--train", "--dataset", "mnist", "--data-path", str(data_dir),
                                  "--output-dir", str(out), "--no-progress", *extra])


def _reported_best(text: str) -> str:
    return re.search(r"best test accuracy (\S+%)", text).group(1)


def test_train_writes_best_state_dict_epoch_checkpoints_and_packed_model(data_dir, tmp_path,
                                                                         capsys):
    assert _train(data_dir, tmp_path, "--epochs", "2") == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out
    for row in ("test accuracy", "packed size", "float32 size", "compression",
                "CPU latency (batch 1", "training time", "training images/s",
                "time waiting for data"):
        assert row in out
    # The best file is a plain state dict: load_state_dict(torch.load(...)) just works.
    model = load_model_module("tiny_cnn.py").Model()
    model.load_state_dict(torch.load(tmp_path / "tiny_cnn_best.pth", weights_only=True))
    state = torch.load(tmp_path / "checkpoint_epoch_2.pth", weights_only=True)
    assert state["epoch"] == 2 and state["model_name"] == "TinyCNN"
    assert state["hyperparameters"] == {"num_classes": 10, "width": 8}
    for key in ("optimizer", "scheduler", "scaler", "rng", "training", "history"):
        assert key in state
    assert set(state["rng"]) == {"torch", "numpy", "python", "cuda"}
    assert (tmp_path / "checkpoint_epoch_1.pth").is_file()
    assert (tmp_path / "tiny_cnn.tpk").stat().st_size > 0
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_eval_reproduces_the_best_epoch_accuracy_to_the_last_digit(data_dir, tmp_path, capsys):
    assert _train(data_dir, tmp_path, "--epochs", "3", model="simple_mlp.py") == 0
    trained = _reported_best(capsys.readouterr().out)
    assert run_in_process("simple_mlp.py", ["--eval", "--checkpoint",
                                            str(tmp_path / "simple_mlp_best.pth"),
                                            "--dataset", "mnist", "--data-path",
                                            str(data_dir)]) == 0
    evaluated = capsys.readouterr().out
    assert re.search(r"test accuracy (\S+%)", evaluated).group(1) == trained
    assert "SimpleMLP: evaluation of" in evaluated
    # --eval writes nothing: no packed file appears beside the checkpoint.
    assert not (Path.cwd() / "simple_mlp.tpk").exists()


def _model_tensors(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def test_two_epochs_plus_resumed_one_equal_three_uninterrupted(data_dir, tmp_path):
    # TinyCNN has dropout (torch RNG), random crops (data RNG), SGD momentum (optimizer
    # state) and a multistep drop at epoch 2 (schedule state): all must survive a resume.
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert _train(data_dir, straight, "--epochs", "3") == 0
    assert _train(data_dir, split, "--epochs", "2") == 0
    assert _train(data_dir, split, "--epochs", "3", "--resume") == 0
    expected = _model_tensors(straight / "checkpoint_epoch_3.pth")
    resumed = _model_tensors(split / "checkpoint_epoch_3.pth")
    assert expected.keys() == resumed.keys()
    for key in expected:
        assert torch.equal(expected[key], resumed[key]), key
    a = torch.load(straight / "checkpoint_epoch_3.pth", weights_only=True)
    b = torch.load(split / "checkpoint_epoch_3.pth", weights_only=True)
    assert [e["test_accuracy"] for e in a["history"]] == [e["test_accuracy"] for e in b["history"]]


def test_resume_of_a_finished_run_asks_for_more_epochs(data_dir, tmp_path):
    assert _train(data_dir, tmp_path, "--epochs", "1") == 0
    with pytest.raises(UserError, match="already completed epoch 1 of 1"):
        _train(data_dir, tmp_path, "--epochs", "1", "--resume")


def test_fine_tune_loads_matching_tensors_and_replaces_the_classifier(data_dir, tmp_path,
                                                                      capsys):
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    assert _train(data_dir, base, "--epochs", "1") == 0
    capsys.readouterr()
    assert _train(data_dir, tuned, "--epochs", "1", "--fine-tune", "--pretrained",
                  str(base / "tiny_cnn_best.pth"), "--num-classes", "12") == 0
    out = capsys.readouterr().out
    assert "skipped head.weight (checkpoint [10, 784], model [12, 784])" in out
    assert "skipped head.bias" in out
    state = torch.load(tuned / "tiny_cnn_best.pth", weights_only=True)
    assert state["head.weight"].shape == (12, 784)
    meta = torch.load(tuned / "checkpoint_epoch_1.pth", weights_only=True)
    assert meta["hyperparameters"]["num_classes"] == 12
    # The fine-tuned checkpoint evaluates with its own class count, read from the file.
    assert run_in_process("tiny_cnn.py", ["--eval", "--checkpoint",
                                          str(tuned / "checkpoint_epoch_1.pth"),
                                          "--data-path", str(data_dir)]) == 0


def test_num_classes_differing_from_the_checkpoint_needs_fine_tune(data_dir, tmp_path):
    assert _train(data_dir, tmp_path, "--epochs", "1") == 0
    with pytest.raises(UserError, match="--num-classes 12 differs from the 10 classes"):
        run_in_process("tiny_cnn.py", ["--eval", "--checkpoint",
                                       str(tmp_path / "tiny_cnn_best.pth"), "--num-classes",
                                       "12", "--data-path", str(data_dir)])


def test_recipe_settings_apply_and_flags_override_them(data_dir, tmp_path, capsys):
    assert _train(data_dir, tmp_path, "--epochs", "1", "--recipe", "fast", "--lr", "0.3") == 0
    out = capsys.readouterr().out
    assert "onecycle schedule" in out and "batch 32" in out and "lr 0.3" in out
    training = torch.load(tmp_path / "checkpoint_epoch_1.pth", weights_only=True)["training"]
    assert training["nesterov"] is True and training["label_smoothing"] == 0.1
    assert training["channels_last"] is True


def test_unknown_recipe_names_the_known_ones(data_dir, tmp_path):
    with pytest.raises(UserError, match="unknown recipe `slow`; the model file defines: `fast`"):
        _train(data_dir, tmp_path, "--recipe", "slow")


def test_every_training_section_feature_together(data_dir, tmp_path):
    # mixup/cutmix (soft targets into the loss), label smoothing, clipping, accumulation,
    # activation checkpointing, the clipped estimator and a warmed-up cosine schedule in one
    # run of the real program: it must train, and record the settings it used.
    from triton_dsl import program

    module = load_model_module("tiny_cnn.py")
    training = dict(module.TRAINING, epochs=2, optimizer="adamw", learning_rate=0.01,
                    label_smoothing=0.1, gradient_clipping=1.0, gradient_accumulation_steps=2,
                    activation_checkpointing=True, gradient_estimator="clipped_ste",
                    lr_schedule={"type": "cosine", "warmup_epochs": 1, "min_lr": 1e-4},
                    augmentation={"random_crop": {"size": 28, "padding": 2},
                                  "mixup": {"alpha": 0.2}, "cutmix": {"alpha": 1.0}})
    status = program.run(module.Model, info=module.MODEL_INFO, training=training,
                         performance=module.PERFORMANCE, script="tiny_cnn.py",
                         argv=["--train", "--data-path", str(data_dir), "--output-dir",
                               str(tmp_path), "--no-progress"])
    assert status == 0
    state = torch.load(tmp_path / "checkpoint_epoch_2.pth", weights_only=True)
    assert state["training"]["gradient_accumulation_steps"] == 2
    assert state["training"]["schedule"]["type"] == "cosine"
    assert state["scheduler"]["step"] == 2 * 3  # 96 images / 16 = 6 batches = 3 steps an epoch
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def _image_folder(root: Path, classes: int, *, size: int, mode: str, per_class: int = 2) -> Path:
    from PIL import Image

    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.new(mode, (size, size), color=(20 * c + i,) * len(mode)).save(
                    folder / f"{i}.png")
    return root


def test_fine_tune_on_a_custom_folder_dataset_with_more_classes(tmp_path, capsys,
                                                               seed_model_file):
    # The seed ResNet-18 with 10 classes, fine-tuned on a 12-class folder dataset.
    script = seed_model_file("resnet18")
    module = load_model_module(script)
    pretrained = tmp_path / "imagenet_checkpoint.pth"
    torch.save(module.Model().state_dict(), pretrained)
    folder = _image_folder(tmp_path / "custom", 12, size=32, mode="RGB")
    common = ["--dataset", "custom", "--data-path", str(folder), "--threads", "1"]
    with pytest.raises(UserError, match="has 12 classes but the model outputs 10; pass "
                                        "--num-classes 12"):
        run_in_process(script, ["--fine-tune", "--pretrained", str(pretrained),
                                       *common, "--output-dir", str(tmp_path / "x")])
    assert run_in_process(script, [
        "--fine-tune", "--pretrained", str(pretrained), "--num-classes", "12", *common,
        "--epochs", "1", "--batch-size", "8", "--max-train-batches", "1", "--no-progress",
        "--output-dir", str(tmp_path / "tuned")]) == 0
    out = capsys.readouterr().out
    assert "loaded 120 of 122 tensors" in out
    assert "skipped fc.weight (checkpoint [10, 512], model [12, 512])" in out
    assert "custom train: 24 images 3x32x32, 12 classes" in out


def test_folder_images_of_another_shape_are_refused_in_one_line(tmp_path, data_dir):
    folder = _image_folder(tmp_path / "custom", 3, size=28, mode="L")
    with pytest.raises(UserError, match=r"gives \[3, 28, 28\] images but model `TinyCNN` "
                                        r"takes \[1, 28, 28\]"):
        run_in_process("tiny_cnn.py", ["--train", "--dataset", "custom", "--data-path",
                                       str(folder), "--output-dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_resume_needs_a_training_checkpoint_not_plain_weights(data_dir, tmp_path):
    assert _train(data_dir, tmp_path, "--epochs", "1") == 0
    with pytest.raises(UserError, match="holds only model weights"):
        _train(data_dir, tmp_path, "--epochs", "2", "--resume",
               str(tmp_path / "tiny_cnn_best.pth"))


def test_test_dataset_folder_and_keep_checkpoints(data_dir, tmp_path, capsys):
    folder = _image_folder(tmp_path / "other", 10, size=28, mode="L")
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint_epoch_7.pth").write_bytes(b"an earlier run's file")
    assert _train(data_dir, out, "--epochs", "3", "--keep-checkpoints", "1",
                  "--test-dataset", str(folder / "val")) == 0
    assert f"testing on {folder / 'val'} test: 20 images 1x28x28, 10 classes" in \
        capsys.readouterr().out
    # Only this run's older checkpoints are pruned; the earlier run's file stays.
    assert sorted(p.name for p in out.glob("checkpoint_epoch_*.pth")) == [
        "checkpoint_epoch_3.pth", "checkpoint_epoch_7.pth"]

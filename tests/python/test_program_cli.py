"""The command line's parsing: every flag documented, defaults left to the model file.

Parsing is one function (`triton_dsl.program.cli.parse_arguments`), so these tests call it
directly; usage mistakes must come out as `UserError` (one line), not argparse's exit.
"""

from __future__ import annotations

import pytest
from fixtures.programs import copy_model, run_model

from triton_dsl.errors import UserError
from triton_dsl.program.cli import build_parser, parse_arguments

FLAGS = ["--train", "--eval", "--checkpoint", "--resume", "--dataset", "--test-dataset",
         "--data-path", "--epochs", "--batch-size", "--lr", "--weight-decay", "--momentum",
         "--optimizer", "--gpu", "--seed", "--output-dir", "--workers", "--num-classes",
         "--fine-tune", "--pretrained", "--export-mobile", "--output", "--export-onnx",
         "--export-packed", "--distributed", "--recipe", "--amp", "--channels-last",
         "--max-train-batches", "--compile", "--threads", "--keep-checkpoints", "--no-download",
         "--calibrate", "--calibration-method", "--engine", "--integer"]


def test_help_documents_every_flag():
    text = build_parser("model.py").format_help()
    for flag in FLAGS:
        assert flag in text, flag
    for choice in ("mnist", "fashion-mnist", "cifar10", "imagenet", "custom", "bf16", "fp16"):
        assert choice in text


def test_help_runs_from_a_model_file(tmp_path):
    result = run_model(copy_model("simple_mlp.py", tmp_path), "--help")
    assert result.returncode == 0 and "usage: simple_mlp.py" in result.stdout


def test_flags_not_given_are_none_so_the_training_section_decides():
    args = parse_arguments(["--train"])
    for name in ("epochs", "batch_size", "lr", "weight_decay", "momentum", "optimizer", "amp",
                 "channels_last", "seed", "recipe"):
        assert getattr(args, name) is None, name


def test_resume_and_fine_tune_imply_train_and_resume_path_is_optional():
    assert parse_arguments(["--resume"]).resume == "latest"
    assert parse_arguments(["--resume", "c.pth"]).train
    args = parse_arguments(["--fine-tune", "--pretrained", "x.pth", "--num-classes", "100"])
    assert args.train and args.num_classes == 100


@pytest.mark.parametrize("spelling", ["--local-rank=1", "--local_rank=1"])
def test_launchers_local_rank_argument_is_accepted(spelling):
    assert parse_arguments(["--train", spelling]).local_rank == 1


def test_engine_defaults_to_pytorch():
    assert parse_arguments(["--eval"]).engine == "pytorch"
    assert parse_arguments(["--eval", "--gpu", "--engine", "packed"]).engine == "packed"


def test_gpu_index_is_optional():
    assert parse_arguments(["--train", "--gpu"]).gpu == 0
    assert parse_arguments(["--train", "--gpu", "2"]).gpu == 2
    assert parse_arguments(["--train"]).gpu is None


@pytest.mark.parametrize("argv, message", [
    ([], "nothing to do"),
    (["--train", "--eval"], "--train and --eval cannot be combined"),
    (["--fine-tune"], "--fine-tune needs --pretrained"),
    (["--train", "--pretrained", "x.pth"], "--pretrained is used with --fine-tune"),
    (["--train", "--epochs", "0"], "--epochs must be at least 1"),
    (["--train", "--epochs", "three"], "expected a whole number"),
    (["--train", "--dataset", "svhn"], "invalid choice"),
    (["--train", "--amp", "fp8"], "invalid choice"),
    (["--train", "--batch-size", "-4"], "--batch-size must be at least 1"),
    (["--export-packed", "--calibrate", "0"], "--calibrate must be at least 1, got 0"),
    (["--export-packed", "--calibrate", "-2"], "--calibrate must be at least 1, got -2"),
    (["--export-packed", "--calibrate", "some"], "expected a whole number"),
    (["--eval", "--calibrate", "8"], "--calibrate is used with --export-packed"),
    (["--export-onnx", "--calibrate", "8"], "or with --export-onnx / --export-tflite --integer"),
    (["--export-packed", "--integer", "--calibrate", "8"],
     "--integer is used with --export-onnx or --export-tflite"),
    (["--export-tflite", "--integer"], "--integer needs --calibrate N"),
    (["--export-onnx", "--integer", "--calibrate", "8", "--onnx-codes", "float32"],
     "--integer needs integer weight codes"),
    (["--export-packed", "--calibration-method", "max"], "is used with --calibrate N"),
    (["--export-packed", "--calibrate", "8", "--calibration-method", "kl"], "invalid choice"),
    (["--eval", "--engine", "packed"], "--engine packed runs on the GPU engine; add --gpu"),
    (["--train", "--gpu", "--engine", "packed"], "--engine packed is used with --eval"),
    (["--eval", "--engine", "onnx"], "invalid choice"),
])
def test_usage_mistakes_are_user_errors(argv, message):
    with pytest.raises(UserError, match=message):
        parse_arguments(argv)


def test_program_main_stays_the_entry_function_after_everything_is_imported():
    # A submodule named like a package attribute would replace it once imported.
    import importlib
    import pkgutil

    from triton_dsl import program
    for info in pkgutil.iter_modules(program.__path__):
        importlib.import_module(f"triton_dsl.program.{info.name}")
    assert callable(program.main) and callable(program.run)
    assert program.main.__module__ == "triton_dsl.program"

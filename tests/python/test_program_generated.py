"""The command line on files the compiler really generated from the seed models.

Parametrized over the seed models small enough for a CPU test: each `.triton` file in
examples/basic is compiled with `triton_dsl.compiler.compile_file`, and the generated file's
command line (in-process, as `program.run`) trains it for one short epoch on tiny files of
its dataset's format, evaluates the best checkpoint and exports it. Skipped when no
`triton` executable is built. Also checks that a compile error reaches Python as a
`UserError` carrying the compiler's diagnostics.
"""

from __future__ import annotations

import re

import pytest
from fixtures.programs import load_model_module, run_in_process
from fixtures.tiny_cifar import write_tiny_cifar
from fixtures.tiny_mnist import write_tiny_mnist

from triton_dsl.compiler import compile_file
from triton_dsl.errors import UserError
from triton_dsl.program.context import ProgramContext
from triton_dsl.program.datasets import default_dataset
from triton_dsl.train.config import apply_recipe, training_config
from triton_dsl.train.report import Measurements, format_report

SEED_MODELS = [("simple_mlp", "mnist"), ("resnet18", "cifar10")]


@pytest.fixture()
def compiler_env(triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    return {"TRITON_COMPILER": str(triton_compiler)}


@pytest.mark.parametrize("stem, dataset", SEED_MODELS)
def test_generated_model_trains_evaluates_and_exports(tmp_path, repo_root, compiler_env, stem,
                                                      dataset, capsys):
    script = compile_file(repo_root / "examples" / "basic" / f"{stem}.triton",
                          tmp_path / f"{stem}.py")
    data = (write_tiny_mnist(tmp_path / "data") if dataset == "mnist"
            else write_tiny_cifar(tmp_path / "data"))
    common = ["--dataset", dataset, "--data-path", str(data), "--threads", "1"]
    out = ["--output-dir", str(tmp_path)]
    assert run_in_process(script, ["--train", *common, *out, "--epochs", "1", "--batch-size",
                                   "8", "--max-train-batches", "2", "--no-progress"]) == 0
    best = re.search(r"best test accuracy (\S+%)", capsys.readouterr().out).group(1)
    checkpoint = str(tmp_path / f"{stem}_best.pth")
    assert run_in_process(script, ["--eval", "--checkpoint", checkpoint, *common]) == 0
    assert re.search(r"test accuracy (\S+%)", capsys.readouterr().out).group(1) == best
    source = str(repo_root / "examples" / "basic" / f"{stem}.triton")
    assert run_in_process(script, ["--export-onnx", "--checkpoint", checkpoint, "--source",
                                   source, *out]) == 0
    assert (tmp_path / f"{stem}.onnx").stat().st_size > 0
    assert (tmp_path / f"{stem}.tpk").stat().st_size > 0


@pytest.mark.parametrize("stem", ["simple_mlp", "resnet18", "mobilenetv2",
                                  "vision_transformer"])
def test_every_seed_models_training_section_and_recipes_resolve(tmp_path, repo_root,
                                                                compiler_env, stem):
    script = compile_file(repo_root / "examples" / "basic" / f"{stem}.triton",
                          tmp_path / f"{stem}.py")
    module = load_model_module(script)
    for recipe in [None, *module.TRAINING.get("recipes", {})]:
        config = training_config(apply_recipe(module.TRAINING, recipe))
        assert config.epochs >= 1 and config.batch_size >= 1
    context = ProgramContext(module.Model, module.MODEL_INFO, module.TRAINING)
    assert default_dataset(context, None) in ("mnist", "cifar10", "imagenet")
    expected = f"{100 * module.PERFORMANCE['expected_accuracy']:.2f}%"
    assert expected in format_report(Measurements(), module.PERFORMANCE)


def test_compile_error_is_a_user_error_with_the_diagnostics(tmp_path, compiler_env):
    source = tmp_path / "broken.triton"
    source.write_text("model Broken {\n    layer fc: TernaryLinear { in_features: 4 }\n")
    with pytest.raises(UserError) as caught:
        compile_file(source, tmp_path / "broken.py")
    assert "broken.triton:" in str(caught.value) and "error:" in str(caught.value)
    assert "broken.triton" in caught.value.diagnostics
    assert not (tmp_path / "broken.py").exists()

"""The section keys the compiler accepts are exactly the keys the Python package acts on.

The compiler holds the one list (`triton --dump-sections=json`, from
`compiler/check/sections.cpp`). These tests fail when a key is added on one side only: for
every training and optimization key the compiler accepts, a sample value here must change
what the package does (so a new compiler key without a Python reader fails, as does a new
reader whose key the compiler rejects with a warning). Augmentation keys are compared with
the data module's own list.
"""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest

from triton_dsl.data.transforms.config import KNOWN_KEYS as AUGMENTATION_KEYS
from triton_dsl.errors import UserError
from triton_dsl.program import optimization
from triton_dsl.program.datasets import default_dataset
from triton_dsl.train.config import TrainConfig, apply_recipe, training_config

# A value of each top-level training key that training_config turns into a non-default
# setting, and the TrainConfig field it lands in.
TRAINING_SAMPLES = {
    "optimizer": ("adamw", "optimizer"),
    "learning_rate": (0.5, "learning_rate"),
    "momentum": (0.5, "momentum"),
    "nesterov": (True, "nesterov"),
    "weight_decay": (1e-3, "weight_decay"),
    "batch_size": (7, "batch_size"),
    "epochs": (3, "epochs"),
    "seed": (5, "seed"),
    "lr_schedule": ({"type": "cosine"}, "schedule"),
    "augmentation": ({"random_horizontal_flip": True}, "augmentation"),
    "loss": (None, None),  # one choice only (cross_entropy); checked below
    "label_smoothing": (0.1, "label_smoothing"),
    "gradient_estimator": ("clipped_ste", "gradient_estimator"),
    "mixed_precision": ("fp16", "mixed_precision"),
    "channels_last": (True, "channels_last"),
    "gpu_augmentation": (True, "gpu_augmentation"),
    "gradient_clipping": (1.0, "gradient_clipping"),
    "gradient_accumulation_steps": (2, "gradient_accumulation_steps"),
    "activation_checkpointing": (True, "activation_checkpointing"),
    "warmup_epochs": (2, "schedule"),
    "min_lr": (1e-4, "schedule"),
}
# Keys read outside training_config, each checked by its own test below.
TRAINING_ELSEWHERE = {"dataset", "recipes"}
SCHEDULE_SAMPLES = {"type": "multistep", "milestones": [2, 4], "gamma": 0.5, "step_size": 3,
                    "warmup_epochs": 1, "min_lr": 1e-3, "max_lr": 0.3, "pct_start": 0.4}


@pytest.fixture(scope="module")
def sections(triton_compiler) -> dict:
    out = subprocess.run([str(triton_compiler), "--dump-sections=json"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def test_dump_lists_the_four_sections(sections):
    assert set(sections) == {"training", "performance", "optimization", "quantization"}
    assert sections["training"]["lr_schedule"]["kind"] == "map"
    assert sections["optimization"]["fuse_bn"] == {"kind": "bool"}


def test_every_training_key_is_read(sections):
    compiler = set(sections["training"])
    python = set(TRAINING_SAMPLES) | TRAINING_ELSEWHERE
    assert compiler - python == set(), "the compiler accepts keys the package never reads"
    assert python - compiler == set(), "the package reads keys the compiler warns about"
    default = training_config({})
    for key, (value, field) in TRAINING_SAMPLES.items():
        if field is None:
            continue
        changed = training_config({key: value})
        assert getattr(changed, field) != getattr(default, field), key
    assert training_config({"loss": "cross_entropy"}).loss == "cross_entropy"
    with pytest.raises(UserError, match="loss"):
        training_config({"loss": "hinge"})


def test_every_schedule_key_is_read(sections):
    compiler = set(sections["training"]["lr_schedule"]["keys"])
    assert compiler == set(SCHEDULE_SAMPLES)
    default = training_config({"lr_schedule": {"type": "multistep"}}).schedule
    for key, value in SCHEDULE_SAMPLES.items():
        if key == "type":
            continue
        changed = training_config({"lr_schedule": {"type": "multistep", key: value}}).schedule
        assert getattr(changed, key) != getattr(default, key), key


def test_augmentation_keys_match_the_data_module(sections):
    assert set(sections["training"]["augmentation"]["keys"]) == set(AUGMENTATION_KEYS)


def test_dataset_and_recipes_are_read():
    context = SimpleNamespace(training={"dataset": "cifar10"}, model_name="M",
                              input_shape=lambda: None)
    assert default_dataset(context, None) == "cifar10"
    assert default_dataset(context, "mnist") == "mnist"
    merged = apply_recipe({"epochs": 5, "recipes": {"fast": {"epochs": 1}}}, "fast")
    assert merged == {"epochs": 1}
    assert isinstance(training_config(merged), TrainConfig)


def test_every_optimization_key_takes_effect(sections):
    assert set(sections["optimization"]) == set(optimization.KEYS)
    default = optimization.deployment({})
    assert (default.bits, default.fuse_bn, default.threads) == ("2", True, None)
    assert optimization.deployment({"fuse_bn": False}).fuse_bn is False
    assert optimization.deployment({"pack_bits": 1.6}).bits == "1.6"
    assert optimization.deployment({"num_threads": 3}).threads == 3
    # The command line wins over the file.
    assert optimization.deployment({"pack_bits": 1.6, "num_threads": 3}, bits="2",
                                   threads=1) == optimization.Deployment("2", True, 1)
    for bad in ({"pack_bits": 3}, {"num_threads": 0}, {"fuse_bn": "yes"}):
        with pytest.raises(UserError):
            optimization.deployment(bad)


def test_a_removed_hint_is_warned_about(triton_compiler, tmp_path):
    source = tmp_path / "m.triton"
    source.write_text("model M {\n layer fc: Linear { in_features: 4, out_features: 4 }\n"
                      " forward(x: Tensor[batch, 4]) -> Tensor { return fc(x) }\n"
                      " optimization { skip_zero_weights: true, num_threads: 2 }\n}\n")
    result = subprocess.run([str(triton_compiler), "compile", str(source), "--stop-after=check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "unknown key `skip_zero_weights` in `optimization`" in result.stderr
    assert "`num_threads`" not in result.stderr


# A value of each quantization key and the text it puts into the generated layer (the
# section acts in the compiler: it sets the ternary layers' attributes).
QUANTIZATION_SAMPLES = {
    "weights": ('weights: "float"', 'quantization="none"'),
    "threshold": ("threshold: 0.5", "threshold=0.5"),
    "scaling": ('scaling: "per_tensor"', 'scaling="per_layer"'),
    "activation_bits": ("activation_bits: 8", "activation_bits=8"),
    "gradient_estimator": ('gradient_estimator: "clipped_ste"', 'gradient_estimator="clipped_ste"'),
    "float_layers": ('float_layers: ["last"]', 'quantization="none"'),
    "layers": ("layers { fc { threshold: 0.4 } }", "threshold=0.4"),
}


def test_every_quantization_key_takes_effect(sections, triton_compiler, tmp_path):
    assert set(sections["quantization"]) == set(QUANTIZATION_SAMPLES)
    for key, (entry, effect) in QUANTIZATION_SAMPLES.items():
        source = tmp_path / f"{key}.triton"
        source.write_text(
            "model M {\n    layer fc: TernaryLinear { in_features: 4, out_features: 2 }\n"
            "    forward(x: Tensor[batch, 4]) -> Tensor { return fc(x) }\n"
            f"    quantization {{\n        {entry}\n    }}\n}}\n")
        out = subprocess.run([str(triton_compiler), "compile", str(source), "-o", "-"],
                             capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        assert effect in out.stdout, key
        assert out.stderr == "", out.stderr

"""Unit tests of the trainer's parts: settings, schedules, optimizers, losses, model setup,
the training step's accumulation and clipping, checkpoint files and the report table.

These call `triton_dsl.train` directly with small tensors, so each behaviour is checked
against numbers computed here by hand or by plain PyTorch.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from fixtures.programs import load_model_module
from torch import nn

from triton_dsl.errors import UserError
from triton_dsl.train import checkpoint as ckpt
from triton_dsl.train.config import ScheduleConfig, apply_recipe, training_config
from triton_dsl.train.latency import measure_cpu_latency
from triton_dsl.train.loop import RunIdentity, Trainer
from triton_dsl.train.losses import build_criterion, count_correct, count_top_k
from triton_dsl.train.model_setup import apply_gradient_estimator, enable_activation_checkpointing
from triton_dsl.train.optim import build_optimizer
from triton_dsl.train.report import Measurements, format_report
from triton_dsl.train.schedule import StepSchedule

# --- settings ---------------------------------------------------------------------------


def test_recipe_keys_replace_section_keys_and_flags_override_both():
    section = {"optimizer": "sgd", "learning_rate": 0.1, "epochs": 100,
               "lr_schedule": {"type": "multistep", "milestones": [50, 75]},
               "recipes": {"fast": {"epochs": 30, "lr_schedule": {"type": "onecycle"}}}}
    merged = apply_recipe(section, "fast")
    assert merged["lr_schedule"] == {"type": "onecycle"}  # replaced, no stray milestones
    assert "recipes" not in merged
    config = training_config(merged, {"epochs": 3, "learning_rate": None})
    assert config.epochs == 3 and config.learning_rate == 0.1
    assert config.schedule.type == "onecycle" and config.schedule.milestones == []


@pytest.mark.parametrize("section, message", [
    ({"epochs": 0}, "at least 1"),
    ({"optimizer": "lbfgs"}, "`optimizer` is `lbfgs`"),
    ({"lr_schedule": {"type": "linear"}}, "`lr_schedule.type` is `linear`"),
    ({"label_smoothing": 1.5}, "must be below 1"),
    ({"gradient_clipping": -1}, "positive max norm"),
    ({"batch_size": 2.5}, "whole number"),
    ({"gradient_estimator": "magic"}, "`gradient_estimator` is `magic`"),
])
def test_bad_training_settings_are_user_errors(section, message):
    with pytest.raises(UserError, match=message):
        training_config(section)


def test_setting_spellings():
    config = training_config({"mixed_precision": "bfloat16", "gradient_clipping": {"max_norm": 2},
                              "warmup_epochs": 2, "lr_schedule": "cosine"})
    assert config.mixed_precision == "bf16" and config.gradient_clipping == 2.0
    assert config.schedule.type == "cosine" and config.schedule.warmup_epochs == 2.0


# --- schedules --------------------------------------------------------------------------

def _schedule(kind: str, *, epochs: int = 10, steps: int = 4, lr: float = 1.0, **options):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    config = ScheduleConfig(type=kind, **options)
    return StepSchedule(optimizer, config, base_lr=lr, steps_per_epoch=steps, epochs=epochs)


def test_multistep_and_step_change_at_whole_epochs():
    s = _schedule("multistep", milestones=[2, 5], gamma=0.1)
    assert [s.lr_at(e * 4) for e in (0, 1, 2, 4, 5, 9)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01])
    assert s.lr_at(7) == 1.0  # still epoch 1
    s = _schedule("step", step_size=3, gamma=0.5)
    assert [s.lr_at(e * 4) for e in (0, 2, 3, 6)] == pytest.approx([1, 1, 0.5, 0.25])


def test_exponential_is_smooth_per_step_and_floored_at_min_lr():
    s = _schedule("exponential", gamma=0.5, min_lr=0.2)
    assert s.lr_at(2) == pytest.approx(0.5 ** 0.5)
    assert s.lr_at(4 * 9) == pytest.approx(0.2)


def test_cosine_with_warmup_rises_linearly_then_ends_at_min_lr():
    s = _schedule("cosine", warmup_epochs=1, min_lr=0.01)
    assert [s.lr_at(i) for i in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert s.lr_at(4) == pytest.approx(1.0)
    middle = 4 + 18  # halfway through the 36 post-warmup steps
    assert s.lr_at(middle) == pytest.approx(0.01 + 0.99 * 0.5)
    assert s.lr_at(40) == pytest.approx(0.01)


def test_onecycle_starts_low_peaks_at_pct_start_and_ends_lower_still():
    s = _schedule("onecycle", max_lr=0.4, pct_start=0.25, div_factor=25, final_div_factor=1e4)
    assert s.lr_at(0) == pytest.approx(0.4 / 25)
    assert s.lr_at(10) == pytest.approx(0.4)  # 25% of 40 steps
    assert s.lr_at(40) == pytest.approx(0.4 / 25 / 1e4)
    assert all(s.lr_at(i) <= s.lr_at(i + 1) for i in range(10))
    assert all(s.lr_at(i) >= s.lr_at(i + 1) for i in range(10, 40))


def test_schedule_state_is_the_step_count_and_sets_the_rate():
    s = _schedule("multistep", milestones=[1])
    for _ in range(5):
        s.step()
    assert s.state_dict() == {"step": 5}
    fresh = _schedule("multistep", milestones=[1])
    fresh.load_state_dict(s.state_dict())
    assert fresh.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


# --- optimizers, losses, model setup ----------------------------------------------------

def test_optimizers_and_weight_decay_only_on_weights():
    model = load_model_module("tiny_cnn.py").Model()
    sgd = build_optimizer(model, training_config({"optimizer": "sgd", "nesterov": True,
                                                  "weight_decay": 5e-4}))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["nesterov"]
    decayed = {id(p) for p in sgd.param_groups[0]["params"]}
    assert sgd.param_groups[0]["weight_decay"] == 5e-4
    assert sgd.param_groups[1]["weight_decay"] == 0.0
    assert id(model.stem.weight) in decayed and id(model.bn.weight) not in decayed
    for name, kind in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                       ("rmsprop", torch.optim.RMSprop)):
        assert isinstance(build_optimizer(model, training_config({"optimizer": name})), kind)


def test_label_smoothing_and_soft_targets():
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    criterion = build_criterion(training_config({"label_smoothing": 0.1}))
    expected = nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    assert criterion(logits, labels) == pytest.approx(expected.item())
    soft = nn.functional.one_hot(labels, 4).float()
    assert criterion(logits, soft) == pytest.approx(expected.item(), rel=1e-5)
    assert count_correct(logits, soft) == count_correct(logits, labels)
    assert count_top_k(logits, labels, 4) == 6


def test_gradient_estimator_reaches_every_ternary_layer():
    model = load_model_module("tiny_cnn.py").Model()
    assert apply_gradient_estimator(model, "clipped_ste") == 3
    assert {model.stem.gradient_estimator, model.conv.gradient_estimator,
            model.head.gradient_estimator} == {"clipped_ste"}
    assert apply_gradient_estimator(model, None) == 0


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_activation_checkpointing_keeps_names_gradients_and_statistics(mode):
    # In training mode: dropout draws are replayed and batch-norm statistics are updated
    # once per step, as without checkpointing.
    module = load_model_module("tiny_cnn.py")
    plain, checkpointed = module.Model().train(mode == "train"), module.Model()
    checkpointed.train(mode == "train")
    checkpointed.load_state_dict(plain.state_dict())
    assert enable_activation_checkpointing(checkpointed) >= 4
    assert list(checkpointed.state_dict()) == list(plain.state_dict())
    x = torch.randn(4, 1, 28, 28)
    torch.manual_seed(1)
    plain(x).square().sum().backward()
    torch.manual_seed(1)
    checkpointed(x).square().sum().backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    for (name, a), b in zip(plain.named_buffers(), checkpointed.buffers()):
        torch.testing.assert_close(a, b, msg=name)


# --- the training step ------------------------------------------------------------------

class _Batches:
    """A fixed list of batches with the loader protocol the trainer uses."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def _one_epoch(tmp_path, batches, **settings) -> nn.Module:
    torch.manual_seed(0)
    model = load_model_module("simple_mlp.py").Model(hidden=16)
    section = {"optimizer": "sgd", "momentum": 0.0, "learning_rate": 0.5, "epochs": 1,
               **settings}
    trainer = Trainer(model, training_config(section), identity=RunIdentity("SimpleMLP", {}, "m"),
                      train_loader=_Batches(batches), test_loader=_Batches(batches[:1]),
                      device=torch.device("cpu"), output_dir=tmp_path, progress=False,
                      log=lambda text: None)
    trainer.fit()
    return model


def test_gradient_accumulation_matches_one_large_batch(tmp_path):
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    large = _one_epoch(tmp_path / "a", [(x, y)])
    accumulated = _one_epoch(tmp_path / "b", [(x[:4], y[:4]), (x[4:], y[4:])],
                             gradient_accumulation_steps=2)
    for a, b in zip(large.parameters(), accumulated.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_gradient_clipping_bounds_the_update(tmp_path):
    torch.manual_seed(0)
    initial = load_model_module("simple_mlp.py").Model(hidden=16)
    x, y = torch.randn(8, 1, 28, 28) * 50, torch.randint(0, 10, (8,))
    clipped = _one_epoch(tmp_path, [(x, y)], gradient_clipping=0.01, learning_rate=1.0)
    change = torch.cat([(a - b).flatten() for a, b in zip(clipped.parameters(),
                                                           initial.parameters())])
    assert 0 < change.norm() <= 0.01 + 1e-6


def test_each_steps_loss_is_in_the_epochs_history_and_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = load_model_module("simple_mlp.py").Model(hidden=16)
    initial = copy.deepcopy(model).train()
    batches = [(torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,))) for n in (4, 4, 2)]
    trainer = Trainer(model, training_config({"optimizer": "sgd", "learning_rate": 0.5,
                                              "epochs": 1}),
                      identity=RunIdentity("SimpleMLP", {}, "m"),
                      train_loader=_Batches(batches), test_loader=_Batches(batches[:1]),
                      device=torch.device("cpu"), output_dir=tmp_path, progress=False,
                      log=lambda text: None)
    epoch = trainer.fit().history[0]
    losses = epoch["step_losses"]
    assert len(losses) == 3
    # The first step sees the initial weights; the later ones the updated weights.
    x, y = batches[0]
    assert losses[0] == pytest.approx(nn.functional.cross_entropy(initial(x), y).item(),
                                      rel=1e-5)
    assert losses[1] != pytest.approx(losses[0])
    weighted = sum(loss * len(y) for loss, (_, y) in zip(losses, batches)) / 10
    assert epoch["train_loss"] == pytest.approx(weighted, rel=1e-9)
    saved = torch.load(tmp_path / "checkpoint_epoch_1.pth", weights_only=True)
    assert saved["history"][0]["step_losses"] == losses


# --- files and report -------------------------------------------------------------------

def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "state.pth"
    ckpt.atomic_save({"a": torch.ones(2)}, target)

    def fail(temp):
        with open(temp, "wb") as handle:
            handle.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ckpt.atomic_write(target, fail)
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["state.pth"]


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    import random

    import numpy as np
    ckpt.atomic_save({"rng": ckpt.capture_rng_state()}, tmp_path / "r.pth")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.restore_rng_state(torch.load(tmp_path / "r.pth", weights_only=True)["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert (np.random.rand(3) == expected[1]).all() and random.random() == expected[2]


def test_unreadable_and_foreign_files_are_user_errors(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"\x00not a checkpoint")
    with pytest.raises(UserError, match="is not a readable checkpoint"):
        ckpt.load_file(tmp_path / "junk.pth")
    with pytest.raises(UserError, match="not a model checkpoint"):
        ckpt.model_state_of({"epoch": 3}, "x.pth")


def test_report_shows_measured_beside_expected():
    text = format_report(
        Measurements(test_accuracy=0.9612, packed_bytes=52 * 1024, float32_bytes=832 * 1024,
                     cpu_latency_ms=0.5, latency_threads=1, training_seconds=90,
                     images_per_second=1234.4, data_wait_share=0.05, best_epoch=7),
        {"expected_accuracy": 0.96, "model_size_kb": 53, "inference_ms": 0.7,
         "compression": 16, "training_minutes": 3})
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:4]]
            for line in text.splitlines() if line.startswith("| ") and "metric" not in line}
    assert rows["test accuracy (best, epoch 7)"] == ["96.12%", "96.00%"]
    assert rows["packed size (2-bit)"] == ["52.0 KB", "53.0 KB"]
    assert rows["compression vs float32"] == ["16.0x", "16x"]
    assert rows["CPU latency (batch 1, 1 thread)"] == ["0.500 ms", "0.7 ms"]
    assert rows["training time"] == ["1.50 min", "3 min"]
    assert rows["training images/s"][0] == "1,234"
    assert rows["time waiting for data"][0] == "5.0% of step time"


def test_latency_is_a_positive_median_and_threads_are_restored():
    before = torch.get_num_threads()
    model = load_model_module("simple_mlp.py").Model()
    ms = measure_cpu_latency(model, torch.randn(1, 1, 28, 28), threads=1, warmup=2, runs=10)
    assert ms > 0 and math.isfinite(ms)
    assert torch.get_num_threads() == before
    assert model.training  # the caller's model is untouched


def test_optimizer_steps_are_visible_to_the_ternary_eval_cache():
    # The layers cache eval-mode quantized weights keyed on the parameters' version
    # counters; every optimizer the trainer builds must bump them.
    x = torch.randn(4, 1, 28, 28)
    for name in ("sgd", "adam", "adamw", "rmsprop"):
        model = load_model_module("simple_mlp.py").Model(hidden=16).eval()
        optimizer = build_optimizer(model, training_config({"optimizer": name,
                                                            "learning_rate": 0.5}))
        with torch.no_grad():
            model(x)  # fills the cache
        model(x).sum().backward()
        optimizer.step()
        fresh = load_model_module("simple_mlp.py").Model(hidden=16).eval()
        fresh.load_state_dict(model.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(model(x), fresh(x), msg=name)

"""The resolved training settings: the model file's `training` section, a recipe, and flags.

A generated model carries its `training` section as plain data. The trainer needs one flat,
typed view of it in which the precedence is settled once: the section as written, then the
keys of `recipes.NAME` when `--recipe NAME` is given (each recipe key replaces the section's
key wholesale, so a recipe's `lr_schedule` never inherits stray `milestones`), then command
line flags. Everything downstream (optimizer, schedule, loss, precision) reads a
`TrainConfig` and never the raw dictionaries, so a key is interpreted in exactly one place.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from triton_dsl.errors import UserError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "constant", "multistep", "step", "exponential", "cosine", "onecycle")
PRECISIONS = ("none", "bf16", "fp16")
LOSSES = ("cross_entropy",)
GRADIENT_ESTIMATORS = ("ste", "clipped_ste")


@dataclass
class ScheduleConfig:
    """The learning-rate schedule, evaluated per optimizer step (see `schedule.py`)."""

    type: str = "none"
    milestones: list[int] = field(default_factory=list)  # epochs, for multistep
    gamma: float = 0.1
    step_size: int = 30  # epochs, for step
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    max_lr: float | None = None  # onecycle peak; the base learning rate when absent
    pct_start: float = 0.3  # onecycle: share of the steps spent rising
    div_factor: float = 25.0  # onecycle: start at max_lr / div_factor
    final_div_factor: float = 1e4  # onecycle: end at start / final_div_factor


@dataclass
class TrainConfig:
    """Every setting the trainer reads, with the defaults used when the file is silent."""

    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 10
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    gradient_estimator: str | None = None
    mixed_precision: str = "none"
    channels_last: bool = False
    gpu_augmentation: bool = False
    gradient_clipping: float | None = None  # max global L2 norm of the gradients
    gradient_accumulation_steps: int = 1
    activation_checkpointing: bool = False
    augmentation: dict[str, Any] = field(default_factory=dict)
    seed: int = 42

    def to_plain(self) -> dict[str, Any]:
        """A dict of plain values, storable in a `weights_only` checkpoint."""
        return dataclasses.asdict(self)


# Keys of the section that are not settings of one run: `recipes` holds alternatives, and the
# rest name data-side settings the data module reads from `augmentation` itself.
_SECTION_ONLY_KEYS = {"recipes"}


def apply_recipe(training: dict[str, Any], recipe: str | None) -> dict[str, Any]:
    """The training section with `recipes[recipe]` laid over it (a recipe key replaces)."""
    merged = {k: copy.deepcopy(v) for k, v in training.items() if k not in _SECTION_ONLY_KEYS}
    if recipe is None:
        return merged
    recipes = training.get("recipes") or {}
    if recipe not in recipes:
        known = ", ".join(f"`{name}`" for name in sorted(recipes)) or "none"
        raise UserError(f"unknown recipe `{recipe}`; the model file defines: {known}")
    for key, value in recipes[recipe].items():
        merged[key] = copy.deepcopy(value)
    return merged


def _number(section: dict[str, Any], key: str, default: float, *, minimum: float | None = None,
            integer: bool = False) -> Any:
    value = section.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"training key `{key}` must be a number, got `{value!r}`")
    if integer:
        if int(value) != value:
            raise UserError(f"training key `{key}` must be a whole number, got `{value}`")
        value = int(value)
    if minimum is not None and value < minimum:
        raise UserError(f"training key `{key}` must be at least {minimum}, got {value}")
    return value


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    text = str(value).lower()
    if text not in choices:
        options = ", ".join(f"`{c}`" for c in choices)
        raise UserError(f"training key `{key}` is `{value}`; expected one of {options}")
    return text


def _schedule(section: dict[str, Any]) -> ScheduleConfig:
    raw = section.get("lr_schedule") or {}
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        raise UserError(f"training key `lr_schedule` must be a map, got `{raw!r}`")
    schedule = ScheduleConfig()
    schedule.type = _choice(raw.get("type", "none"), "lr_schedule.type", SCHEDULES)
    milestones = raw.get("milestones", [])
    if not isinstance(milestones, (list, tuple)) or not all(
            isinstance(m, int) and not isinstance(m, bool) for m in milestones):
        raise UserError(f"`lr_schedule.milestones` must be a list of epochs, got `{milestones!r}`")
    schedule.milestones = sorted(int(m) for m in milestones)
    schedule.gamma = float(_number(raw, "gamma", schedule.gamma, minimum=0.0))
    schedule.step_size = _number(raw, "step_size", schedule.step_size, minimum=1, integer=True)
    # warmup_epochs and min_lr may sit in the schedule or at the top of the section.
    schedule.warmup_epochs = float(_number(raw, "warmup_epochs",
                                           _number(section, "warmup_epochs", 0.0, minimum=0.0),
                                           minimum=0.0))
    schedule.min_lr = float(_number(raw, "min_lr", _number(section, "min_lr", 0.0, minimum=0.0),
                                    minimum=0.0))
    if raw.get("max_lr") is not None:
        schedule.max_lr = float(_number(raw, "max_lr", 0.0, minimum=0.0))
    schedule.pct_start = float(_number(raw, "pct_start", schedule.pct_start, minimum=0.0))
    if not 0.0 <= schedule.pct_start < 1.0:
        raise UserError(f"`lr_schedule.pct_start` must be in [0, 1), got {schedule.pct_start}")
    schedule.div_factor = float(_number(raw, "div_factor", schedule.div_factor, minimum=1.0))
    schedule.final_div_factor = float(_number(raw, "final_div_factor",
                                              schedule.final_div_factor, minimum=1.0))
    return schedule


def _precision(value: Any) -> str:
    if value is None or value is False:
        return "none"
    if value is True:
        return "bf16"
    aliases = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "fp32": "none",
               "float32": "none", "off": "none"}
    text = aliases.get(str(value).lower(), str(value).lower())
    return _choice(text, "mixed_precision", PRECISIONS)


def _clipping(value: Any) -> float | None:
    if value is None or value is False:
        return None
    if isinstance(value, dict):
        value = value.get("max_norm")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UserError(f"training key `gradient_clipping` must be a positive max norm, "
                        f"got `{value!r}`")
    return float(value)


def training_config(section: dict[str, Any], overrides: dict[str, Any] | None = None
                    ) -> TrainConfig:
    """Builds a `TrainConfig` from a (recipe-merged) section and command-line overrides.

    `overrides` maps `TrainConfig` field names to values; `None` values mean "not given".
    """
    section = dict(section)
    for key, value in (overrides or {}).items():
        if value is not None:
            section[key] = value
    config = TrainConfig()
    config.optimizer = _choice(section.get("optimizer", config.optimizer), "optimizer",
                               OPTIMIZERS)
    config.learning_rate = float(_number(section, "learning_rate", config.learning_rate,
                                         minimum=0.0))
    config.momentum = float(_number(section, "momentum", config.momentum, minimum=0.0))
    config.nesterov = bool(section.get("nesterov", False))
    config.weight_decay = float(_number(section, "weight_decay", 0.0, minimum=0.0))
    config.batch_size = _number(section, "batch_size", config.batch_size, minimum=1,
                                integer=True)
    epochs = section.get("epochs", config.epochs)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or int(epochs) != epochs:
        raise UserError(f"the number of epochs must be a whole number, got `{epochs!r}`")
    if epochs < 1:
        raise UserError(f"the number of epochs must be at least 1, got {int(epochs)}")
    config.epochs = int(epochs)
    config.schedule = _schedule(section)
    config.loss = _choice(section.get("loss", "cross_entropy"), "loss", LOSSES)
    config.label_smoothing = float(_number(section, "label_smoothing", 0.0, minimum=0.0))
    if config.label_smoothing >= 1.0:
        raise UserError(f"training key `label_smoothing` must be below 1, "
                        f"got {config.label_smoothing}")
    estimator = section.get("gradient_estimator")
    config.gradient_estimator = (None if estimator is None else
                                 _choice(estimator, "gradient_estimator", GRADIENT_ESTIMATORS))
    config.mixed_precision = _precision(section.get("mixed_precision"))
    config.channels_last = bool(section.get("channels_last", False))
    config.gpu_augmentation = bool(section.get("gpu_augmentation", False))
    config.gradient_clipping = _clipping(section.get("gradient_clipping"))
    config.gradient_accumulation_steps = _number(section, "gradient_accumulation_steps", 1,
                                                 minimum=1, integer=True)
    config.activation_checkpointing = bool(section.get("activation_checkpointing", False))
    augmentation = section.get("augmentation") or {}
    if not isinstance(augmentation, dict):
        raise UserError(f"training key `augmentation` must be a map, got `{augmentation!r}`")
    config.augmentation = copy.deepcopy(augmentation)
    config.seed = _number(section, "seed", config.seed, integer=True)
    if config.optimizer == "sgd" and config.nesterov and config.momentum <= 0:
        raise UserError("nesterov momentum needs `momentum` above 0")
    return config

"""The trainer behind every generated model's `--train`: a library the command line calls.

`Trainer` (loop.py) runs epochs; `training_config` (config.py) resolves the `training`
section, a recipe and flags into a `TrainConfig`; `evaluate` (evaluate.py) is the one way
test accuracy is measured; checkpoint.py reads and writes checkpoint files; report.py
prints the measured-versus-expected table. Nothing here parses arguments or prints errors:
that is `triton_dsl.program`'s job, so tests and other tools can call these directly.
"""

from __future__ import annotations

from triton_dsl.train.config import TrainConfig, apply_recipe, training_config
from triton_dsl.train.evaluate import EvalResult, evaluate
from triton_dsl.train.loop import RunIdentity, Trainer, TrainResult

__all__ = ["EvalResult", "RunIdentity", "TrainConfig", "TrainResult", "Trainer",
           "apply_recipe", "evaluate", "training_config"]

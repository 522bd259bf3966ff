"""Loading weights into a freshly built model for `--eval`, the exports and `--fine-tune`.

A checkpoint of either kind is accepted (see `triton_dsl.train.checkpoint`). The model is
built with the hyper-parameters the checkpoint recorded when it is a training checkpoint,
else with the file's, and `--num-classes` must agree with the checkpoint unless
`--fine-tune` asks to replace the classifier. Every mismatch is one line that says which
tensor or setting differs and what to do about it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from torch import nn

from triton_dsl.errors import UserError
from triton_dsl.program.context import ProgramContext, build_model, model_hyperparameters
from triton_dsl.train import checkpoint as ckpt


def _classes_in_checkpoint(state: dict, model: nn.Module, model_classes: int) -> int | None:
    """The checkpoint's class count, read off the tensors whose dim 0 is the model's."""
    _, _, shapes = ckpt.describe_mismatch(model, state)
    for _, theirs, ours in shapes:
        if ours and theirs and ours[0] == model_classes and theirs[1:] == ours[1:]:
            return theirs[0]
    return None


def load_trained_model(context: ProgramContext, path: str | os.PathLike, *,
                       num_classes: int | None) -> tuple[nn.Module, dict[str, Any]]:
    """A model built to fit the checkpoint at `path`, with its weights loaded."""
    loaded = ckpt.load_file(path)
    ckpt.check_model_name(loaded, context.model_name, path)
    state = ckpt.model_state_of(loaded, path)
    hyper = model_hyperparameters(context, None)
    if ckpt.is_training_checkpoint(loaded):
        recorded = loaded.get("hyperparameters") or {}
        hyper.update({k: v for k, v in recorded.items() if k in hyper})
        if num_classes is not None and recorded.get("num_classes") not in (None, num_classes):
            raise UserError(f"--num-classes {num_classes} differs from the "
                            f"{recorded['num_classes']} classes of checkpoint `{path}`; use "
                            f"--fine-tune --pretrained {path} to train a new classifier")
    if num_classes is not None:
        hyper = model_hyperparameters(context, num_classes)
    model = build_model(context, hyper)
    classes = hyper.get("num_classes")
    if isinstance(classes, int):
        theirs = _classes_in_checkpoint(state, model, classes)
        if theirs is not None:
            if num_classes is not None:
                raise UserError(f"--num-classes {num_classes} differs from the {theirs} classes "
                                f"of checkpoint `{path}`; use --fine-tune --pretrained {path} "
                                f"to train a new classifier")
            raise UserError(f"checkpoint `{path}` has {theirs} classes and the model {classes}; "
                            f"pass --num-classes {theirs}")
    ckpt.load_model_state(model, state, path=path, model_name=context.model_name)
    return model, hyper


def load_pretrained(model: nn.Module, context: ProgramContext, path: str | os.PathLike,
                    *, log=print) -> None:
    """`--fine-tune`: loads every matching tensor and says what was skipped."""
    loaded = ckpt.load_file(path)
    state = ckpt.model_state_of(loaded, path)
    found, skipped = ckpt.load_matching(model, state)
    if not found:
        raise UserError(f"no tensor of `{path}` fits model `{context.model_name}`; is it a "
                        f"checkpoint of this model?")
    log(f"fine-tune: loaded {len(found)} of {len(model.state_dict())} tensors from {path}")
    for line in skipped:
        log(f"fine-tune: skipped {line}")
    sys.stdout.flush()

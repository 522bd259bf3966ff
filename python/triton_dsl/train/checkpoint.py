"""Checkpoint files: atomic writes, the training-state format, and careful loading.

Two kinds of file, both loadable with `torch.load(path, weights_only=True)` (only tensors
and plain containers inside, so loading never runs code from the file):

- `<stem>_best.pth`: the model's plain `state_dict()`, nothing else, so
  `model.load_state_dict(torch.load(path))` works in any script.
- `checkpoint_epoch_N.pth`: a dict with `format` = "triton_dsl.checkpoint", `version`,
  `model` (state dict), `optimizer`, `scheduler`, `scaler`, `epoch` (completed epochs),
  `rng` (torch, cuda, numpy, python generator states as tensors/lists), `model_name`,
  `hyperparameters`, `training` (the resolved settings), `best_accuracy`, `best_epoch`,
  `history` and `elapsed_seconds`.

Every write goes to a temporary file in the destination's directory and is renamed over
the target, so an interrupted run (Ctrl-C, a crash, a full disk) leaves either the old file
or the new one, never a torn one.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from triton_dsl.errors import UserError

CHECKPOINT_FORMAT = "triton_dsl.checkpoint"
CHECKPOINT_VERSION = 1
_EPOCH_FILE = re.compile(r"^checkpoint_epoch_(\d+)\.pth$")


def _file_mode() -> int:
    # mkstemp creates 0600 files; a finished output gets the usual permissions instead.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Calls `write(temp_path)` and renames the result over `path`."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(temp)
        os.chmod(temp, _file_mode())
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        # Also on KeyboardInterrupt: the target keeps its previous content.
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return path


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """`torch.save` through a temporary file and a rename."""
    return atomic_write(path, lambda temp: torch.save(obj, temp))


def epoch_checkpoint_name(epoch: int) -> str:
    return f"checkpoint_epoch_{epoch}.pth"


def epoch_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """`(epoch, path)` of every `checkpoint_epoch_N.pth` in `directory`, by epoch."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _EPOCH_FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found)


# --- random number generator states, as tensors and lists ---------------------------------

def capture_rng_state() -> dict[str, Any]:
    """The state of every generator the trainer draws from, in weights_only-safe types."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)),
                  "position": int(position), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
        "python": {"version": int(version), "internal": list(internal),
                   "gauss_next": gauss_next},
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["position"],
                         n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# --- loading ----------------------------------------------------------------------------

def load_file(path: str | os.PathLike) -> Any:
    """Loads a checkpoint file safely, turning every way it can be unreadable into one line."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"checkpoint `{path}` does not exist")
    if path.is_dir():
        raise UserError(f"checkpoint `{path}` is a directory, not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError,
            UnicodeDecodeError, KeyError, AttributeError, TypeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if len(reason) > 120:
            reason = reason[:117] + "..."
        raise UserError(f"`{path}` is not a readable checkpoint ({reason})") from None
    except OSError as error:
        raise UserError(f"cannot read checkpoint `{path}`: {error.strerror or error}") from None


def is_training_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT


def model_state_of(obj: Any, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The model state dict inside a loaded checkpoint of either kind."""
    if is_training_checkpoint(obj):
        version = obj.get("version")
        if version != CHECKPOINT_VERSION:
            raise UserError(f"checkpoint `{path}` has format version {version}; this version of "
                            f"triton_dsl reads version {CHECKPOINT_VERSION}")
        obj = obj["model"]
    if (not isinstance(obj, dict) or not obj
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                       for k, v in obj.items())):
        raise UserError(f"`{path}` is not a model checkpoint (expected a state dict of tensors)")
    return obj


def check_model_name(obj: Any, model_name: str, path: str | os.PathLike) -> None:
    if is_training_checkpoint(obj) and obj.get("model_name") not in (None, model_name):
        raise UserError(f"checkpoint `{path}` is of model `{obj.get('model_name')}`, "
                        f"not `{model_name}`")


def describe_mismatch(model: torch.nn.Module, state: dict[str, torch.Tensor]
                      ) -> tuple[list[str], list[str], list[tuple[str, list[int], list[int]]]]:
    """(missing keys, unexpected keys, [(key, checkpoint shape, model shape)])."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [(k, list(state[k].shape), list(own[k].shape)) for k in own
              if k in state and state[k].shape != own[k].shape]
    return missing, unexpected, shapes


def _short_list(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor], *,
                     path: str | os.PathLike, model_name: str) -> None:
    """Loads `state` strictly, explaining a mismatch in one line instead of a traceback."""
    missing, unexpected, shapes = describe_mismatch(model, state)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_short_list(missing)}")
        if unexpected:
            parts.append(f"unexpected {_short_list(unexpected)}")
        raise UserError(f"checkpoint `{path}` does not belong to model `{model_name}` "
                        f"({'; '.join(parts)})")
    if shapes:
        key, theirs, ours = shapes[0]
        raise UserError(f"checkpoint `{path}` does not fit model `{model_name}`: `{key}` has "
                        f"shape {theirs} in the checkpoint and {ours} in the model")
    model.load_state_dict(state)


def load_matching(model: torch.nn.Module, state: dict[str, torch.Tensor]
                  ) -> tuple[list[str], list[str]]:
    """Loads every tensor whose name and shape match; returns (loaded, skipped descriptions)."""
    own = model.state_dict()
    loaded, skipped, selected = [], [], {}
    for key, tensor in state.items():
        if key not in own:
            skipped.append(f"{key} (not in the model)")
        elif own[key].shape != tensor.shape:
            skipped.append(f"{key} (checkpoint {list(tensor.shape)}, "
                           f"model {list(own[key].shape)})")
        else:
            selected[key] = tensor
            loaded.append(key)
    for key in own:
        if key not in state:
            skipped.append(f"{key} (not in the checkpoint; freshly initialized)")
    model.load_state_dict(selected, strict=False)
    return loaded, skipped

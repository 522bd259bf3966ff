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
or the new one, never a torn one. A write that fails (a full disk, a quota) is one line
naming the file; `torch.save` is handed an open Python file for that reason, since given a
path its C++ writer reports a full disk as an obscure `RuntimeError`. A temporary file can
only outlive its write when the process is killed; the training that next holds the
directory's lock removes such leftovers (`remove_stale_temporaries`).

A training checkpoint is validated field by field before anything of it is used
(`check_training_state`), so a damaged or hand-edited file is one line naming the field,
never a traceback in the middle of restoring it.
"""

from __future__ import annotations

import contextlib
import math
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


def _temporary_prefix(name: str) -> str:
    return f".{name}."


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Calls `write(temp_path)` and renames the result over `path`.

    An `OSError` of the file system (a full disk, a quota, a read-only remount) becomes a
    one-line `UserError`; `path` keeps its previous content either way.
    """
    path = Path(path)
    temp = None
    try:
        fd, temp = tempfile.mkstemp(prefix=_temporary_prefix(path.name), suffix=".tmp",
                                    dir=path.parent)
        os.close(fd)
        write(temp)
        os.chmod(temp, _file_mode())
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as error:
        # Also on KeyboardInterrupt: the target keeps its previous content.
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)
        if isinstance(error, OSError) and error.errno is not None:
            kept = "its previous content is unchanged" if path.exists() else "nothing written"
            raise UserError(f"cannot write `{path}`: {(error.strerror or str(error)).lower()} "
                            f"({kept})") from None
        raise
    return path


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """`torch.save` through a temporary file and a rename."""
    def write(temp: str) -> None:
        # A Python file, not a path: write errors then arrive as OSError (see the top).
        with open(temp, "wb") as handle:
            torch.save(obj, handle)

    return atomic_write(path, write)


def remove_stale_temporaries(directory: str | os.PathLike, names: list[str]) -> list[Path]:
    """Deletes the temporaries `atomic_write` leaves for `names` when killed mid-write.

    Only for the holder of the directory's training lock: no other training can be writing
    them. `names` are the final names (`checkpoint_epoch_*.pth` is matched as a pattern).
    Returns the removed paths.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for entry in directory.iterdir():
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        owner = entry.name[1:].rsplit(".", 2)[0]  # ".NAME.XXXXXXXX.tmp" -> NAME
        if (owner in names or _EPOCH_FILE.match(owner)) and entry.is_file():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry)
    return removed


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


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _bad_field(path: str | os.PathLike, key: str, expected: str, value: Any) -> UserError:
    return UserError(f"checkpoint `{path}` has an invalid `{key}`: expected {expected}, "
                     f"got `{_shown(value)}`")


# Keys of a history entry that the trainer reads back after a resume.
_HISTORY_NUMBERS = ("seconds", "images", "data_wait_share")


def check_training_state(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Raises a one-line `UserError` naming the first field of a training checkpoint that a
    resume could not use; the model and optimizer tensors are checked where they are loaded
    (against the model they must fit)."""
    epoch = state.get("epoch")
    if not _is_whole(epoch) or epoch < 1:
        raise _bad_field(path, "epoch", "the number of completed epochs (1 or more)", epoch)
    best_epoch = state.get("best_epoch", 0)
    if not _is_whole(best_epoch) or not 0 <= best_epoch <= epoch:
        raise _bad_field(path, "best_epoch", f"a whole number from 0 to {epoch}", best_epoch)
    for key in ("best_accuracy", "best_top5"):
        value = state.get(key, 0.0)
        if not _is_real(value) or not 0.0 <= value <= 1.0:
            raise _bad_field(path, key, "a fraction from 0 to 1", value)
    elapsed = state.get("elapsed_seconds", 0.0)
    if not _is_real(elapsed) or elapsed < 0:
        raise _bad_field(path, "elapsed_seconds", "a number of seconds (0 or more)", elapsed)
    history = state.get("history", [])
    if not isinstance(history, list) or len(history) > epoch:
        raise _bad_field(path, "history", f"a list of at most {epoch} epoch entries", history)
    for entry in history:
        if not isinstance(entry, dict) or not all(
                _is_real(entry.get(k)) and entry.get(k) >= 0 for k in _HISTORY_NUMBERS):
            raise _bad_field(path, "history", "entries with numeric "
                             + ", ".join(f"`{k}`" for k in _HISTORY_NUMBERS), entry)
    for key in ("hyperparameters", "optimizer"):
        if not isinstance(state.get(key), dict):
            raise _bad_field(path, key, "a map", state.get(key))
    if state.get("model_name") is not None and not isinstance(state.get("model_name"), str):
        raise _bad_field(path, "model_name", "a name", state.get("model_name"))
    scheduler = state.get("scheduler")
    if (not isinstance(scheduler, dict) or not _is_whole(scheduler.get("step"))
            or scheduler["step"] < 0):
        raise _bad_field(path, "scheduler", "a map with a whole `step` of 0 or more", scheduler)
    if state.get("scaler") is not None and not isinstance(state.get("scaler"), dict):
        raise _bad_field(path, "scaler", "a map", state.get("scaler"))
    problem = rng_state_problem(state.get("rng"))
    if problem:
        raise UserError(f"checkpoint `{path}` has an invalid `rng`: {problem}")


def read_epoch(path: Path) -> tuple[int | None, str | None]:
    """(completed epochs, None) as recorded inside a training checkpoint, else (None, why).

    Tensors are memory-mapped, not read, so asking every checkpoint of a run is cheap."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is skipped with its reason
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return None, (reason[:80] or type(error).__name__)
    if not is_training_checkpoint(state):
        return None, "not a training checkpoint"
    try:
        check_training_state(state, path)
    except UserError as error:
        return None, str(error).split(": ", 1)[-1]
    return state["epoch"], None


def newest_epoch_checkpoint(directory: str | os.PathLike
                            ) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The `checkpoint_epoch_N.pth` of `directory` that records the most completed epochs.

    Chosen by the epoch inside each file, not the number in its name (a copied or renamed
    file can carry any name); a tie goes to the newer file. Returns the path (None when no
    file is usable) and the (path, reason) of every file skipped as unusable."""
    best, best_key, skipped = None, None, []
    for number, path in epoch_checkpoints(directory):
        epoch, problem = read_epoch(path)
        if epoch is None:
            skipped.append((path, problem or "unreadable"))
            continue
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            mtime = 0
        key = (epoch, mtime, number)
        if best_key is None or key > best_key:
            best, best_key = path, key
    return best, skipped


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


def _rng_states(state: Any):
    """The generator states `state` describes, in the forms the generators take."""
    n, p = state["numpy"], state["python"]
    numpy_state = (n["kind"], n["keys"].numpy().astype(np.uint32), n["position"],
                   n["has_gauss"], n["cached_gaussian"])
    python_state = (p["version"], tuple(p["internal"]), p["gauss_next"])
    return state["torch"].cpu(), numpy_state, python_state, list(state.get("cuda") or [])


def rng_state_problem(state: Any) -> str | None:
    """None when `state` restores cleanly, else why not; tried on throwaway generators."""
    try:
        torch_state, numpy_state, python_state, cuda = _rng_states(state)
        torch.Generator().set_state(torch_state)
        np.random.RandomState().set_state(numpy_state)
        random.Random().setstate(python_state)
        if not all(isinstance(t, torch.Tensor) and t.dtype == torch.uint8 for t in cuda):
            return "the CUDA states are not byte tensors"
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError,
            OverflowError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"the generator states do not restore ({type(error).__name__}: {reason[:80]})"
    return None


def restore_rng_state(state: dict[str, Any]) -> None:
    torch_state, numpy_state, python_state, cuda = _rng_states(state)
    torch.set_rng_state(torch_state)
    np.random.set_state(numpy_state)
    random.setstate(python_state)
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
            UnicodeDecodeError, KeyError, AttributeError, TypeError, IndexError,
            OverflowError) as error:
        # (IndexError: torch's weights-only unpickler on a few bytes of garbage.)
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

"""The training loop: epochs of steps, evaluation, checkpoints, resume, and the epoch log.

One `Trainer` owns a run. Per epoch it asks the loader for the epoch's batches (their order
depends only on seed and epoch, see `triton_dsl.data`), runs the steps (autocast, gradient
scaling, accumulation, clipping, one schedule step per optimizer step), evaluates on the
test set (`evaluate.py`), writes `checkpoint_epoch_N.pth`, and `<stem>_best.pth` when the
test accuracy improved.

The step never waits for the GPU: loss and accuracy are summed into device tensors and read
once per epoch, together with each step's loss (the epoch's `step_losses`, so even a short
run shows whether the loss falls); the progress bar shows values copied to pinned host
memory asynchronously, a few steps behind. What the host does spend waiting for the next
batch is timed, and its share of the epoch is reported with the images per second.

Resume restores the model, optimizer, schedule step, gradient scaler, the RNG states and the
run's history from a checkpoint; since a checkpoint is written right after an epoch's
evaluation and data order depends only on (seed, epoch), the resumed run computes the same
weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from triton_dsl.errors import UserError
from triton_dsl.train import checkpoint as ckpt
from triton_dsl.train.config import TrainConfig
from triton_dsl.train.distributed import DistContext, all_reduce_sum, any_rank, barrier
from triton_dsl.train.evaluate import EvalResult, evaluate
from triton_dsl.train.interrupt import GracefulInterrupt, TrainingInterrupted
from triton_dsl.train.losses import build_criterion, count_correct
from triton_dsl.train.model_setup import build_runner, to_channels_last
from triton_dsl.train.optim import build_optimizer
from triton_dsl.train.precision import Precision
from triton_dsl.train.report import format_accuracy
from triton_dsl.train.schedule import StepSchedule

# Distributed ranks must agree on stopping; they poll each other this often (in steps).
_INTERRUPT_POLL_STEPS = 20


@dataclass
class RunIdentity:
    """What a checkpoint records about the model, to refuse loading it into another one."""

    model_name: str
    hyperparameters: dict[str, Any]
    stem: str


@dataclass
class TrainResult:
    best_accuracy: float = 0.0
    best_top5: float = 0.0
    best_epoch: int = 0
    epochs_completed: int = 0
    training_seconds: float = 0.0
    images_per_second: float | None = None
    data_wait_share: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    last_checkpoint: Path | None = None
    best_path: Path | None = None


class _LiveStats:
    """Running loss/accuracy for the progress bar, read without synchronizing the device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        pinned = device.type == "cuda"
        self.host = torch.zeros(3, dtype=torch.float64, pin_memory=pinned)
        self.event = torch.cuda.Event() if pinned else None
        self.pending = False
        self.shown: tuple[float, float] | None = None

    def offer(self, sums: torch.Tensor) -> None:
        """`sums` = [loss_sum, correct, seen] on the device; copies it when the last copy landed."""
        if self.event is None:
            self.host.copy_(sums)
            self._publish()
            return
        if self.pending and self.event.query():
            self._publish()
            self.pending = False
        if not self.pending:
            self.host.copy_(sums, non_blocking=True)
            self.event.record()
            self.pending = True

    def _publish(self) -> None:
        loss_sum, correct, seen = self.host.tolist()
        if seen > 0:
            self.shown = (loss_sum / seen, correct / seen)


class Trainer:
    """Trains `model` with `config`, writing checkpoints into `output_dir` (rank 0 only)."""

    def __init__(self, model: nn.Module, config: TrainConfig, *, identity: RunIdentity,
                 train_loader: Iterable, test_loader: Iterable, device: torch.device,
                 output_dir: str | os.PathLike, dist_context: DistContext | None = None,
                 compile_model: bool = False, test_sharded: bool = False,
                 max_train_batches: int | None = None,
                 keep_checkpoints: int = 0, progress: bool | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.model = model
        self.config = config
        self.identity = identity
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.device = device
        self.output_dir = Path(output_dir)
        self.dist = dist_context or DistContext()
        # Each rank evaluates its shard (summed) or, when the test set does not split evenly,
        # the whole set (nothing to sum).
        self.test_sharded = test_sharded and self.dist.enabled
        self.keep_checkpoints = keep_checkpoints
        self.progress = progress
        self._log = log or (lambda text: print(text, flush=True))
        batches = len(train_loader)  # type: ignore[arg-type]
        if max_train_batches is not None:
            batches = min(batches, max_train_batches)
        if batches < 1:
            raise UserError("the training set yields no batch; use a smaller `--batch-size`")
        self.batches_per_epoch = batches
        accumulation = config.gradient_accumulation_steps
        self.steps_per_epoch = math.ceil(batches / accumulation)
        self.runner = build_runner(model, device=device, channels_last=config.channels_last,
                                   activation_checkpointing=config.activation_checkpointing,
                                   compile_model=compile_model, dist_context=self.dist)
        self.optimizer = build_optimizer(model, config)
        base_lr = config.learning_rate
        self.schedule = StepSchedule(self.optimizer, config.schedule, base_lr=base_lr,
                                     steps_per_epoch=self.steps_per_epoch, epochs=config.epochs)
        self.precision = Precision(config.mixed_precision, device, announce=self.dist.is_main)
        self.criterion = build_criterion(config)
        if device.type == "cuda":
            # Fixed shapes every step: let cuDNN time its algorithms once and keep the best.
            torch.backends.cudnn.benchmark = True
        self.start_epoch = 0
        self.result = TrainResult()
        self._written: list[Path] = []

    # --- logging -------------------------------------------------------------------------

    def log(self, text: str) -> None:
        if self.dist.is_main:
            self._log(text)

    def _bar_disabled(self) -> bool | None:
        # None lets tqdm decide: a bar on a terminal, none in a log file or a pipe.
        if not self.dist.is_main:
            return True
        return None if self.progress is None else not self.progress

    # --- checkpoints ---------------------------------------------------------------------

    def training_state(self, epoch: int) -> dict[str, Any]:
        r = self.result
        return {
            "format": ckpt.CHECKPOINT_FORMAT,
            "version": ckpt.CHECKPOINT_VERSION,
            "model_name": self.identity.model_name,
            "hyperparameters": dict(self.identity.hyperparameters),
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.precision.scaler.state_dict(),
            "rng": ckpt.capture_rng_state(),
            "training": self.config.to_plain(),
            "best_accuracy": r.best_accuracy,
            "best_top5": r.best_top5,
            "best_epoch": r.best_epoch,
            "history": list(r.history),
            "elapsed_seconds": r.training_seconds,
        }

    def resume_from(self, path: str | os.PathLike, *, allow_completed: bool = False) -> None:
        """Restores everything a checkpoint holds; the next `fit` continues after its epoch.

        Every field is checked before any is used (`ckpt.check_training_state`). A checkpoint
        that already completed all `config.epochs` is refused unless `allow_completed` (the
        run was killed after its last checkpoint, before its packed model was written): `fit`
        then trains nothing and the caller finishes the run.
        """
        path = Path(path)
        state = ckpt.load_file(path)
        if not ckpt.is_training_checkpoint(state):
            raise UserError(f"`{path}` holds only model weights; `--resume` needs a "
                            f"`checkpoint_epoch_N.pth` file (use `--fine-tune --pretrained` "
                            f"to start from weights)")
        ckpt.check_model_name(state, self.identity.model_name, path)
        model_state = ckpt.model_state_of(state, path)
        ckpt.check_training_state(state, path)
        epoch = state["epoch"]
        if epoch > self.config.epochs or (epoch == self.config.epochs and not allow_completed):
            raise UserError(f"checkpoint `{path}` already completed epoch {epoch} of "
                            f"{self.config.epochs}; pass a larger `--epochs` to train further")
        theirs = state["hyperparameters"]
        ours = self.identity.hyperparameters
        differing = [k for k in ours if k in theirs and theirs[k] != ours[k]]
        if differing:
            key = differing[0]
            flag = " (`--num-classes`)" if key == "num_classes" else ""
            raise UserError(f"checkpoint `{path}` was trained with `{key}` = {theirs[key]!r}, "
                            f"this run uses {ours[key]!r}{flag}")
        ckpt.load_model_state(self.model, model_state, path=path,
                              model_name=self.identity.model_name)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise UserError(f"the optimizer state in `{path}` does not fit this run's "
                            f"`{self.config.optimizer}` optimizer ({reason[:100]})") from None
        self.schedule.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            try:
                self.precision.scaler.load_state_dict(state["scaler"])
            except (ValueError, KeyError, TypeError, RuntimeError) as error:
                raise UserError(f"checkpoint `{path}` has an invalid `scaler` "
                                f"({type(error).__name__})") from None
        self.start_epoch = epoch
        r = self.result
        r.best_accuracy = float(state.get("best_accuracy", 0.0))
        r.best_top5 = float(state.get("best_top5", 0.0))
        r.best_epoch = state.get("best_epoch", 0)
        r.history = list(state.get("history", []))
        r.training_seconds = float(state.get("elapsed_seconds", 0.0))
        r.epochs_completed = epoch
        ckpt.restore_rng_state(state["rng"])
        self.log(f"resumed from {path} after epoch {epoch}")
        if self.dist.is_main:
            self._carry_best_weights(path.parent, state)

    def _carry_best_weights(self, source_dir: Path, state: dict[str, Any]) -> None:
        """Makes sure `<stem>_best.pth` exists in the output directory after a resume.

        Resuming into another `--output-dir` starts a folder without the best weights of the
        epochs already done; they come from the checkpoint's folder (its best file, else the
        best epoch's checkpoint). When neither exists any more, the best is chosen afresh
        among the epochs still to train, and the log says so.
        """
        r = self.result
        target = self.output_dir / f"{self.identity.stem}_best.pth"
        if target.exists() or r.best_epoch == 0:
            return
        best_file = source_dir / target.name
        best_checkpoint = source_dir / ckpt.epoch_checkpoint_name(r.best_epoch)
        weights = None
        if best_file.is_file():
            weights = ckpt.model_state_of(ckpt.load_file(best_file), best_file)
        elif r.best_epoch == state["epoch"]:
            weights = state["model"]
        elif best_checkpoint.is_file():
            weights = ckpt.model_state_of(ckpt.load_file(best_checkpoint), best_checkpoint)
        if weights is None:
            self.log(f"note: the best weights of epoch {r.best_epoch} are not in "
                     f"`{source_dir}`; the best of the epochs trained now is kept instead")
            r.best_accuracy, r.best_top5, r.best_epoch = 0.0, 0.0, 0
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        ckpt.atomic_save(weights, target)
        r.best_path = target

    def _save_epoch(self, epoch: int, improved: bool) -> None:
        if not self.dist.is_main:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / ckpt.epoch_checkpoint_name(epoch)
        ckpt.atomic_save(self.training_state(epoch), path)
        self.result.last_checkpoint = path
        self._written.append(path)
        if improved:
            best = self.output_dir / f"{self.identity.stem}_best.pth"
            ckpt.atomic_save(self.model.state_dict(), best)
            self.result.best_path = best
        # Prune only files this run wrote: earlier runs' checkpoints are the user's.
        if self.keep_checkpoints > 0:
            while len(self._written) > self.keep_checkpoints:
                old = self._written.pop(0)
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()

    # --- one epoch -----------------------------------------------------------------------

    def _set_epoch(self, epoch: int) -> None:
        for loader in (self.train_loader,):
            set_epoch = getattr(loader, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(epoch)
            sampler = getattr(loader, "sampler", None)
            if callable(getattr(sampler, "set_epoch", None)):
                sampler.set_epoch(epoch)

    def _train_epoch(self, epoch: int, interrupt: GracefulInterrupt) -> dict[str, float]:
        config = self.config
        accumulation = config.gradient_accumulation_steps
        self.model.train()
        self._set_epoch(epoch)
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss, correct, seen
        step_losses = torch.zeros(self.batches_per_epoch, dtype=torch.float64,
                                  device=self.device)
        steps = 0
        live = _LiveStats(self.device)
        bar = tqdm(total=self.batches_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}",
                   leave=False, dynamic_ncols=True, file=sys.stderr,
                   disable=self._bar_disabled())
        wait_seconds = 0.0
        images = 0
        lr_at_start = self.schedule.current_lr()
        started = time.perf_counter()
        iterator = iter(self.train_loader)
        self.optimizer.zero_grad(set_to_none=True)
        try:
            for index in range(self.batches_per_epoch):
                fetch = time.perf_counter()
                try:
                    inputs, targets = next(iterator)
                except StopIteration:
                    break
                inputs = inputs.to(self.device, non_blocking=True)
                targets = targets.to(self.device, non_blocking=True)
                if config.channels_last:
                    inputs = to_channels_last(inputs)
                wait_seconds += time.perf_counter() - fetch
                last_in_group = ((index + 1) % accumulation == 0
                                 or index + 1 == self.batches_per_epoch)
                sync_context = (self.runner.no_sync() if self.dist.enabled and not last_in_group
                                and hasattr(self.runner, "no_sync") else contextlib.nullcontext())
                with sync_context:
                    with self.precision.autocast():
                        logits = self.runner(inputs)
                        loss = self.criterion(logits.float(), targets)
                    self.precision.scaler.scale(loss / accumulation).backward()
                if last_in_group:
                    self._optimizer_step()
                batch = targets.shape[0]
                images += batch
                with torch.no_grad():
                    sums[0] += loss.detach().double() * batch
                    sums[1] += count_correct(logits.detach(), targets)
                    sums[2] += batch
                    step_losses[index] = loss.detach()  # a device-side copy, no sync
                steps += 1
                live.offer(sums)
                bar.update(1)
                if live.shown is not None:
                    bar.set_postfix(loss=f"{live.shown[0]:.4f}",
                                    acc=format_accuracy(live.shown[1]), refresh=False)
                if self.dist.enabled:
                    if (index + 1) % _INTERRUPT_POLL_STEPS == 0 and any_rank(
                            interrupt.requested, self.dist, self.device):
                        raise TrainingInterrupted
                else:
                    interrupt.check()
        except (RuntimeError, OSError):
            # A DataLoader worker dies of the same Ctrl-C; report that as the interruption.
            if interrupt.requested:
                raise TrainingInterrupted from None
            raise
        finally:
            bar.close()
        all_reduce_sum(sums, self.dist)
        all_reduce_sum(step_losses, self.dist)
        loss_sum, correct, seen = sums.tolist()  # the one host sync of the epoch
        step_losses = (step_losses[:steps] / self.dist.world_size).tolist()  # ready by now
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - started
        return {
            "train_loss": loss_sum / max(seen, 1.0),
            "train_accuracy": correct / max(seen, 1.0),
            # The mean loss of each step's batch (averaged over processes), in step order.
            "step_losses": step_losses,
            "lr": lr_at_start,
            "seconds": seconds,
            "images": images * self.dist.world_size,
            "images_per_second": images * self.dist.world_size / seconds if seconds else 0.0,
            "data_wait_share": wait_seconds / seconds if seconds else 0.0,
        }

    def _optimizer_step(self) -> None:
        scaler = self.precision.scaler
        if self.config.gradient_clipping is not None:
            scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.gradient_clipping)
        scaler.step(self.optimizer)
        scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step()

    def evaluate(self) -> EvalResult:
        return evaluate(self.model, self.test_loader, device=self.device,
                        channels_last=self.config.channels_last,
                        dist_context=self.dist if self.test_sharded else None)

    # --- the run -------------------------------------------------------------------------

    def fit(self) -> TrainResult:
        """Trains from `start_epoch` to `config.epochs`; stops cleanly on Ctrl-C."""
        r = self.result
        with GracefulInterrupt() as interrupt:
            try:
                for epoch in range(self.start_epoch, self.config.epochs):
                    epoch_started = time.perf_counter()
                    stats = self._train_epoch(epoch, interrupt)
                    evaluation = self.evaluate()
                    # Training time is wall-clock, evaluation included (what a user waits);
                    # images/s above counts the training steps only.
                    r.training_seconds += time.perf_counter() - epoch_started
                    improved = evaluation.accuracy > r.best_accuracy or r.best_epoch == 0
                    if improved:
                        r.best_accuracy = evaluation.accuracy
                        r.best_top5 = evaluation.top5_accuracy
                        r.best_epoch = epoch + 1
                    entry = {"epoch": epoch + 1, **stats,
                             "test_accuracy": evaluation.accuracy,
                             "test_top5": evaluation.top5_accuracy,
                             "test_loss": evaluation.loss}
                    r.history.append(entry)
                    r.epochs_completed = epoch + 1
                    self._save_epoch(epoch + 1, improved)
                    barrier(self.dist)
                    self.log(self._epoch_line(entry, improved))
                    interrupt.check()
            except TrainingInterrupted:
                r.interrupted = True
        self._summarize_speed()
        return r

    def _epoch_line(self, entry: dict[str, Any], improved: bool) -> str:
        return (f"epoch {entry['epoch']}/{self.config.epochs}  "
                f"loss {entry['train_loss']:.4f}  train {format_accuracy(entry['train_accuracy'])}"
                f"  test {format_accuracy(entry['test_accuracy'])}"
                f"{' (best)' if improved else ''}  lr {entry['lr']:.6g}  "
                f"{entry['images_per_second']:,.0f} img/s  "
                f"data wait {100.0 * entry['data_wait_share']:.1f}%  {entry['seconds']:.1f}s")

    def _summarize_speed(self) -> None:
        r = self.result
        # The first epoch pays for warm-up (allocator, cuDNN autotuning, compilation), so the
        # steady-state speed is measured over the later ones when there are any.
        epochs = r.history[1:] if len(r.history) > 1 else r.history
        seconds = sum(e["seconds"] for e in epochs)
        if seconds > 0:
            r.images_per_second = sum(e["images"] for e in epochs) / seconds
            r.data_wait_share = sum(e["data_wait_share"] * e["seconds"] for e in epochs) / seconds

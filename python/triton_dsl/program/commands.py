"""The work behind each action of the command line: train, evaluate, export.

Each function takes the `ProgramContext` and the parsed flags and returns an exit status.
All checks that can fail on the user's input (settings, device, output directory, data,
checkpoints) run before the first epoch or the first file written, so a mistake costs
nothing and overwrites nothing. Only rank 0 of a distributed job prints and writes.
A training holds its output directory's lock (`train/output_lock.py`) from before it reads
the directory until it ends, so two runs never write into one folder; the holder alone
may clean the temporaries a killed run left there.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path

import torch

from triton_dsl.errors import UserError
from triton_dsl.program import calibrate, datasets
from triton_dsl.program.context import (
    ProgramContext,
    build_model,
    check_output_dir,
    example_input,
    make_output_dir,
    model_hyperparameters,
    resolve_device,
)
from triton_dsl.program.measure import measure_deployment, write_packed
from triton_dsl.program.optimization import Deployment, deployment
from triton_dsl.program.weights import load_pretrained, load_trained_model
from triton_dsl.train import checkpoint as ckpt
from triton_dsl.train.config import apply_recipe, training_config
from triton_dsl.train.distributed import DistContext, init_distributed, shutdown
from triton_dsl.train.evaluate import evaluate
from triton_dsl.train.loop import RunIdentity, Trainer
from triton_dsl.train.model_setup import apply_gradient_estimator
from triton_dsl.train.output_lock import OutputDirLock
from triton_dsl.train.report import Measurements, format_accuracy, format_report
from triton_dsl.train.seeding import seed_everything

EXIT_INTERRUPTED = 130


def resolve_config(context: ProgramContext, args):
    section = apply_recipe(context.training, args.recipe)
    overrides = {
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.lr,
        "weight_decay": args.weight_decay, "momentum": args.momentum,
        "optimizer": args.optimizer, "mixed_precision": args.amp,
        "channels_last": args.channels_last, "seed": args.seed,
    }
    return training_config(section, overrides)


def _deployment(context: ProgramContext, args) -> Deployment:
    """The `optimization` section with `--bits` and `--threads` laid over."""
    return deployment(context.optimization, bits=args.bits, threads=args.threads)


def _resume_path(resume: str | None, output_dir: Path, log) -> Path | None:
    """`--resume PATH` as given; bare `--resume`: the checkpoint of `output_dir` that records
    the most completed epochs (by its content; unusable files are skipped with a note)."""
    if resume is None:
        return None
    if resume != "latest":
        return Path(resume)
    if not ckpt.epoch_checkpoints(output_dir):
        raise UserError(f"--resume: no checkpoint_epoch_N.pth in `{output_dir}`; pass the file")
    newest, skipped = ckpt.newest_epoch_checkpoint(output_dir)
    for path, reason in skipped:
        log(f"note: --resume skips `{path}`: {reason}")
    if newest is None:
        path, reason = skipped[-1]
        raise UserError(f"--resume: no usable checkpoint_epoch_N.pth in `{output_dir}` "
                        f"(`{path.name}`: {reason}); pass the file")
    return newest


def _stale_temporaries(output_dir: Path, stem: str, log) -> None:
    """Removes what killed runs left half-written here (only under the directory's lock)."""
    names = [f"{stem}_best.pth", f"{stem}.tpk"]
    for path in ckpt.remove_stale_temporaries(output_dir, names):
        log(f"note: removed `{path}`, left half-written by an interrupted run")


def train(context: ProgramContext, args) -> int:
    config = resolve_config(context, args)
    dist = init_distributed(args.distributed, use_gpu=args.gpu is not None,
                            local_rank_arg=args.local_rank)
    try:
        output_dir = check_output_dir(args.output_dir or ".")
        # One training per output directory (train/output_lock.py); only rank 0 writes.
        lock = OutputDirLock(output_dir) if dist.is_main else contextlib.nullcontext()
        with lock:
            return _train(context, args, config, dist, output_dir)
    finally:
        shutdown(dist)


def _train(context: ProgramContext, args, config, dist, output_dir: Path) -> int:
    def log(text: str) -> None:
        if dist.is_main:
            print(text, flush=True)

    device = resolve_device(args.gpu, local_rank=dist.local_rank if dist.enabled else None)
    if dist.is_main:
        _stale_temporaries(output_dir, context.stem, log)
    resume = _resume_path(args.resume, output_dir, log)
    packed_path = output_dir / f"{context.stem}.tpk"

    hyper = model_hyperparameters(context, args.num_classes)
    if resume is not None:
        loaded = ckpt.load_file(resume)
        if ckpt.is_training_checkpoint(loaded) and args.num_classes is None:
            recorded = loaded.get("hyperparameters")
            if not isinstance(recorded, dict):
                recorded = {}  # resume_from names the broken field
            hyper.update({k: v for k, v in recorded.items() if k in hyper})
    splits = datasets.load_splits(context, args, need_train=True)
    model_classes = hyper.get("num_classes")
    datasets.check_classes(splits.train, model_classes, fine_tune=args.fine_tune)

    seed_everything(config.seed)
    model = build_model(context, hyper)
    estimated = apply_gradient_estimator(model, config.gradient_estimator)
    if args.fine_tune:
        load_pretrained(model, context, args.pretrained, log=log)
    train_loader = datasets.train_loader(splits.train, config, device=device, dist=dist,
                                         workers=args.workers)
    test_loader = datasets.test_loader(splits.test, config, device=device, dist=dist,
                                       workers=args.workers)
    identity = RunIdentity(context.model_name, hyper, context.stem)
    trainer = Trainer(model, config, identity=identity, train_loader=train_loader,
                      test_loader=test_loader, device=device, output_dir=output_dir,
                      dist_context=dist, compile_model=args.compile,
                      test_sharded=datasets.test_is_sharded(splits.test, dist),
                      max_train_batches=args.max_train_batches,
                      keep_checkpoints=args.keep_checkpoints,
                      progress=False if args.no_progress else None)
    if resume is not None:
        # A run killed after its last checkpoint but before its packed model may finish.
        trainer.resume_from(resume, allow_completed=not packed_path.exists())
        if trainer.start_epoch >= config.epochs:
            log(f"all {config.epochs} epochs were trained before; writing what the run "
                f"did not finish")
    if dist.is_main:
        make_output_dir(output_dir)
        log(f"training {context.model_name} ({sum(p.numel() for p in model.parameters()):,} "
            f"parameters) on {splits.train.describe()}; testing on {splits.test.describe()}")
        log(f"device {device}{f' x{dist.world_size} ({dist.backend})' if dist.enabled else ''}, "
            f"{config.optimizer} lr {config.learning_rate:g}, {config.schedule.type} schedule, "
            f"batch {config.batch_size}, {config.epochs} epochs"
            + (f", {config.mixed_precision}" if trainer.precision.mode != "none" else "")
            + (", channels-last" if config.channels_last else "")
            + (", torch.compile" if args.compile else "")
            + (f", {config.gradient_estimator} on {estimated} ternary layers" if estimated
               else ""))
    result = trainer.fit()
    if result.interrupted:
        if dist.is_main:
            where = (f"; continue with --resume {result.last_checkpoint}"
                     if result.last_checkpoint else
                     (f"; the newest checkpoint is {ckpt.epoch_checkpoints(output_dir)[-1][1]}"
                      if ckpt.epoch_checkpoints(output_dir) else "; no epoch was completed"))
            print(f"interrupted after epoch {result.epochs_completed}{where}", file=sys.stderr,
                  flush=True)
        return EXIT_INTERRUPTED
    if not dist.is_main:
        return 0

    best_path = output_dir / f"{context.stem}_best.pth"
    if not best_path.is_file():
        raise UserError(f"the best weights `{best_path}` are missing; the last checkpoint is "
                        f"{result.last_checkpoint or resume}")
    model.load_state_dict(ckpt.load_file(best_path))
    measurements = Measurements(
        test_accuracy=result.best_accuracy, top5_accuracy=result.best_top5,
        training_seconds=result.training_seconds, images_per_second=result.images_per_second,
        data_wait_share=result.data_wait_share, best_epoch=result.best_epoch)
    example = example_input(context, splits.test.input_shape)
    packed = measure_deployment(model, example, measurements,
                                packed_path=packed_path,
                                deploy=_deployment(context, args))
    log(f"best test accuracy {format_accuracy(result.best_accuracy)} at epoch "
        f"{result.best_epoch}; weights {best_path}"
        + (f"; packed model {packed}" if packed else ""))
    log(format_report(measurements, context.performance, title=f"{context.model_name}: results"))
    return 0


def _checkpoint_for(context: ProgramContext, args) -> Path:
    if args.checkpoint:
        return Path(args.checkpoint)
    default = Path(args.output_dir or ".") / f"{context.stem}_best.pth"
    if not default.exists():
        raise UserError(f"no checkpoint given and `{default}` does not exist; pass --checkpoint")
    return default


def evaluate_checkpoint(context: ProgramContext, args) -> int:
    path = _checkpoint_for(context, args)
    model, hyper = load_trained_model(context, path, num_classes=args.num_classes)
    config = resolve_config(context, args)
    device = resolve_device(args.gpu)
    splits = datasets.load_splits(context, args, need_train=False)
    datasets.check_classes(splits.test, hyper.get("num_classes"), fine_tune=False)
    loader = datasets.test_loader(splits.test, config, device=device, dist=DistContext(),
                                  workers=args.workers)
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    engine = ""
    if args.engine == "packed":
        runner = _packed_on_gpu(model, context, splits.test.input_shape, args, device)
        engine = " with the packed GPU engine"
        result = evaluate(runner, loader, device=device)
    else:
        result = evaluate(model, loader, device=device, channels_last=config.channels_last)
    print(f"test accuracy {format_accuracy(result.accuracy)} ({result.correct}/{result.total}) "
          f"on {splits.test.describe()}{engine}", flush=True)
    measurements = Measurements(test_accuracy=result.accuracy,
                                top5_accuracy=result.top5_accuracy)
    measure_deployment(model, example_input(context, splits.test.input_shape), measurements,
                       packed_path=None, deploy=_deployment(context, args))
    print(format_report(measurements, context.performance,
                        title=f"{context.model_name}: evaluation of {path}"), flush=True)
    return 0


def _packed_on_gpu(model, context: ProgramContext, input_shape, args, device):
    """`--eval --engine packed`: the model written to a temporary `.tpk` and loaded by the
    GPU engine (`triton_dsl.gpu`), as a module `evaluate` can call."""
    import tempfile

    from triton_dsl import gpu

    if not gpu.available():
        raise UserError("--engine packed needs OpenAI Triton (`pip install triton`) and a "
                        "CUDA GPU")
    example = example_input(context, input_shape).cpu()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{context.stem}.tpk"
        write_packed(model.cpu(), path, example, _deployment(context, args))
        model.to(device)
        return gpu.load(path, device=device).as_module()


def _export_target(context: ProgramContext, args, suffix: str) -> Path:
    target = Path(args.output) if args.output else (
        Path(args.output_dir or ".") / f"{context.stem}{suffix}")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"cannot write `{target}`: directory `{parent}` does not exist")
    _refuse_unsafe_target(target, [context.script, args.checkpoint])
    return target


def _model_source(context: ProgramContext, args, export: str = "ONNX") -> Path:
    """The `.triton` file the program was compiled from: `--source`, else the file named in
    MODEL_INFO beside the program (the compiler writes only the file name, never a path)."""
    if args.source:
        source = Path(args.source)
    else:
        name = context.info.get("source")
        if not name or not context.script:
            raise UserError(f"the {export} export needs the model's `.triton` source; pass "
                            f"--source PATH")
        source = Path(context.script).resolve().parent / name
    if not source.is_file():
        raise UserError(f"the {export} export compiles the model's source, and `{source}` does not "
                        f"exist; pass --source PATH")
    return source


def _refuse_unsafe_target(target: Path, inputs) -> None:
    """An export replaces its target, so the target must be a regular file or absent.

    Writing onto a FIFO blocks until a reader comes, and replacing a device node (as root,
    `--output /dev/null`) destroys it; writing over the model program or the checkpoint
    being exported loses the input. `os.stat` follows links, as the write would.
    """
    try:
        status = os.stat(target)
    except OSError:
        return  # absent (or unreachable, which the write itself reports)
    if not stat.S_ISREG(status.st_mode):
        what = "a directory" if stat.S_ISDIR(status.st_mode) else "not a regular file"
        raise UserError(f"cannot write `{target}`: it is {what}")
    for source in inputs:
        if source and os.path.exists(source) and os.path.samefile(source, target):
            raise UserError(f"cannot write `{target}`: it is the input file `{source}`")


def _lowering(context: ProgramContext, args, model) -> tuple[int, dict | None]:
    """The compiler level and calibrated output ranges of an ONNX or TFLite export: the
    -O2 float form, or with `--integer` the -O3 integer lowering."""
    if not args.integer:
        return 2, None
    return 3, calibrate.output_ranges_for_export(context, args, model,
                                                 resolve_config(context, args))


def export(context: ProgramContext, args, kind: str) -> int:
    """`--export-onnx`, `--export-tflite`, `--export-weights`, `--export-mobile` or
    `--export-packed` of a checkpoint."""
    suffix = {"onnx": ".onnx", "tflite": ".tflite", "weights": ".safetensors", "mobile": ".ptl",
              "packed": ".tpk"}[kind]
    target = _export_target(context, args, suffix)
    path = _checkpoint_for(context, args)
    model, _ = load_trained_model(context, path, num_classes=args.num_classes)
    model.eval()
    example = example_input(context)
    if kind in ("onnx", "tflite"):
        source = _model_source(context, args, "ONNX" if kind == "onnx" else "TFLite")
        level, ranges = _lowering(context, args, model)
        if kind == "onnx":
            from triton_dsl.export.onnx import export_onnx
            export_onnx(model, target, source=source, model_name=context.info.get("name"),
                        weight_codes=args.onnx_codes, level=level, output_ranges=ranges)
        else:
            from triton_dsl.export.tflite import export_tflite
            export_tflite(model, target, source=source, model_name=context.info.get("name"),
                          level=level, output_ranges=ranges)
        form = "ONNX" if kind == "onnx" else "TFLite"
        print(f"wrote {target} ({form}{', integer graph' if args.integer else ''}, "
              f"{target.stat().st_size / 1024:.1f} KB) from {path}")
    elif kind == "weights":
        from triton_dsl.export.safetensors import export_tensors, write_safetensors
        ckpt.atomic_write(target, lambda temp: write_safetensors(export_tensors(model), temp))
        print(f"wrote {target} (safetensors) from {path}")
    elif kind == "mobile":
        from triton_dsl.export.mobile import export_mobile
        export_mobile(model, target, example_input=example, packed=args.mobile_weights == "packed")
        print(f"wrote {target} (TorchScript lite, {args.mobile_weights} weights, "
              f"{target.stat().st_size / 1024:.1f} KB) from {path}")
    else:
        deploy = _deployment(context, args)
        if args.calibrate is not None:
            float_accuracy, test_loader = calibrate.calibrate_for_export(
                context, args, model, resolve_config(context, args))
        report = write_packed(model, target, example, deploy)
        print(f"wrote {target} ({report.packed_bytes / 1024:.1f} KB packed, "
              f"{report.float32_bytes / report.packed_bytes:.1f}x smaller than float32) "
              f"from {path}", flush=True)
        if args.calibrate is not None:
            print(calibrate.report(model, target, test_loader, float_accuracy, deploy.threads),
                  flush=True)
    return 0

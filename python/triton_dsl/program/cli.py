"""The generated program's command line: every flag, parsed in this one place.

`parse_arguments(argv, prog)` returns an `argparse.Namespace`; nothing else in the package
reads `sys.argv`. Usage mistakes become a `UserError`, so they print as the same single
`error: ...` line (exit 2) as every other mistake, instead of argparse's usage block.
Flags left out are `None`, which lets the training section of the model file supply the
value (`triton_dsl.train.config` applies the precedence: section < recipe < flag).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from triton_dsl.errors import UserError

_NAME_MAX = 255  # bytes of one path component on common file systems
DATASETS = ("mnist", "fashion-mnist", "cifar10", "cifar100", "imagenet", "custom")

_DESCRIPTION = """\
Train, evaluate and export a ternary model compiled by Triton DSL.

The model file's `training` section supplies the defaults; flags override it. Outputs go
to --output-dir (default: the current directory): <stem>_best.pth (the best weights, a plain
state dict), checkpoint_epoch_N.pth (everything needed to resume) and <stem>.tpk (the packed
ternary model). One training at a time holds an output directory; --run-name NAME puts a
second one into a subfolder.
"""

_EPILOG = """\
examples:
  %(prog)s --train --dataset mnist --epochs 10
  %(prog)s --eval --checkpoint STEM_best.pth
  %(prog)s --train --resume                      (continue from the newest checkpoint)
  %(prog)s --train --recipe fast --gpu --compile
  %(prog)s --fine-tune --pretrained X.pth --dataset custom --data-path DIR --num-classes 100
  %(prog)s --export-mobile --checkpoint X.pth --output model.ptl
  %(prog)s --export-packed --calibrate 32         (8-bit activations, no retraining)
  %(prog)s --export-onnx --integer --calibrate 8  (8-bit layers on int8 kernels)
  torchrun --nproc_per_node=4 %(prog)s --train --distributed --gpu
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(message)


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got `{text}`") from None
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got `{text}`") from None


def _check_run_name(name: str) -> None:
    """A run name is one plain folder name, so it can never point outside --output-dir."""
    if (not name or name in (".", "..") or "/" in name or "\0" in name
            or (os.sep != "/" and os.sep in name) or len(name.encode()) > _NAME_MAX):
        shown = name if len(name) <= 40 else name[:37] + "..."
        raise UserError(f"--run-name must be a folder name (no `/`, not `.` or `..`, at most "
                        f"{_NAME_MAX} bytes), got `{shown}`")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)

    actions = parser.add_argument_group("what to do (one of)")
    actions.add_argument("--train", action="store_true",
                         help="train the model, evaluating on the test set after every epoch")
    actions.add_argument("--eval", action="store_true",
                         help="evaluate --checkpoint on the test set and print the metrics table")
    actions.add_argument("--fine-tune", action="store_true",
                         help="train starting from --pretrained weights: every tensor whose name "
                              "and shape match is loaded, the rest (the classifier when "
                              "--num-classes differs) starts fresh; implies --train")
    actions.add_argument("--export-onnx", action="store_true",
                         help="write --checkpoint as an ONNX model to --output "
                              "(default <output-dir>/<stem>.onnx)")
    actions.add_argument("--export-tflite", action="store_true",
                         help="write --checkpoint as a TFLite model (batch 1) to --output "
                              "(default <output-dir>/<stem>.tflite)")
    actions.add_argument("--export-weights", action="store_true",
                         help="write --checkpoint as a safetensors file (the state_dict plus "
                              "each ternary layer's codes and scales) to --output (default "
                              "<output-dir>/<stem>.safetensors), for `triton compile "
                              "--backend onnx|tflite --weights`")
    actions.add_argument("--export-mobile", action="store_true",
                         help="write --checkpoint as TorchScript for the PyTorch lite "
                              "interpreter to --output (default <output-dir>/<stem>.ptl)")
    actions.add_argument("--export-packed", action="store_true",
                         help="write --checkpoint as a packed ternary .tpk file to --output "
                              "(default <output-dir>/<stem>.tpk)")

    calibration = parser.add_argument_group(
        "post-training calibration (with --export-packed, or with --export-onnx / "
        "--export-tflite --integer)")
    calibration.add_argument("--calibrate", type=_int, metavar="N",
                             help="--export-packed: switch every ternary layer with float "
                                  "activations to 8-bit activations, their ranges measured on "
                                  "N batches of the training split, and print the test "
                                  "accuracy of the calibrated native engine next to the float "
                                  "model's; --integer: measure on N training batches the "
                                  "output ranges the integer graph needs")
    calibration.add_argument("--calibration-method", choices=("mse", "percentile", "max"),
                             default=None,
                             help="how each layer's range is estimated from the batches: the "
                                  "least squared quantization error (mse, the default), the "
                                  "99.99th percentile of |x|, or the largest |x|")

    files = parser.add_argument_group("checkpoints and outputs")
    files.add_argument("--checkpoint", metavar="PATH",
                       help="weights to evaluate or export: a <stem>_best.pth or a "
                            "checkpoint_epoch_N.pth (default for exports: "
                            "<output-dir>/<stem>_best.pth)")
    files.add_argument("--resume", nargs="?", const="latest", metavar="PATH",
                       help="continue training from a checkpoint_epoch_N.pth; without PATH, "
                            "from the newest one in --output-dir; implies --train")
    files.add_argument("--pretrained", metavar="PATH",
                       help="weights to start --fine-tune from")
    files.add_argument("--output-dir", metavar="DIR", default=None,
                       help="where checkpoints and the packed model go (default: .)")
    files.add_argument("--run-name", metavar="NAME",
                       help="write into the subfolder NAME of --output-dir (for a second "
                            "training beside one that holds --output-dir's lock)")
    files.add_argument("--output", metavar="PATH", help="the file an export writes")
    files.add_argument("--source", metavar="PATH",
                       help="--export-onnx, --export-tflite: the model's .triton file, which "
                            "the compiler's ONNX or TFLite backend compiles (default: the file "
                            "named in the program, beside it)")
    files.add_argument("--onnx-codes", choices=("int4", "int2", "int8", "float32"),
                       default="int4",
                       help="--export-onnx: how ternary codes are stored: int4 (default, "
                            "opset 21), int2 (smallest; opset 25, recent runtimes only), int8 "
                            "(opset 17), or float32 (dequantized float weights, opset 17)")
    files.add_argument("--integer", action="store_true",
                       help="--export-onnx, --export-tflite: write the -O3 integer graph, in "
                            "which layers with 8-bit activations run on int8 kernels "
                            "(QLinearConv / MatMulIntegerToFloat in onnxruntime, int8 CONV_2D "
                            "/ FULLY_CONNECTED in TFLite) instead of the float form; needs "
                            "--calibrate N, and a model with `activation_bits: 8` layers")
    files.add_argument("--mobile-weights", choices=("packed", "float"), default="packed",
                       help="--export-mobile: ternary weights as 2-bit codes unpacked by the "
                            "graph (default, 16x smaller) or as float constants, "
                            "mobile-optimized")
    files.add_argument("--keep-checkpoints", type=_int, default=0, metavar="N",
                       help="keep only the newest N epoch checkpoints this run writes "
                            "(default 0: keep all)")

    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS,
                      help="the training data (default: guessed from the model's input shape: "
                           "1x28x28 mnist, 3x32x32 cifar10, 3x224x224 imagenet)")
    data.add_argument("--test-dataset", metavar="NAME|DIR",
                      help="evaluate on this dataset's test split, or on a folder of images "
                           "with one subfolder per class, instead of --dataset's test split")
    data.add_argument("--data-path", metavar="DIR",
                      help="where the dataset files are (else $TRITON_DATA, else the user "
                           "cache, downloading MNIST/CIFAR-10 there when missing)")
    data.add_argument("--no-download", action="store_true",
                      help="never download a missing dataset; fail instead")
    data.add_argument("--workers", type=_int, metavar="N",
                      help="data loading worker processes for image folders (default: the CPU "
                           "cores per process, at most 8)")
    data.add_argument("--num-classes", type=_int, metavar="N",
                      help="build the model with N classes (the model's `num_classes`); with "
                           "a checkpoint of another class count this needs --fine-tune")

    hyper = parser.add_argument_group("training (override the model file's training section)")
    hyper.add_argument("--recipe", metavar="NAME",
                       help="lay `training.recipes.NAME` over the training section first")
    hyper.add_argument("--epochs", type=_int, metavar="N")
    hyper.add_argument("--batch-size", type=_int, metavar="N")
    hyper.add_argument("--lr", type=_float, metavar="LR", help="the base learning rate")
    hyper.add_argument("--weight-decay", type=_float, metavar="WD")
    hyper.add_argument("--momentum", type=_float, metavar="M")
    hyper.add_argument("--optimizer", choices=("sgd", "adam", "adamw", "rmsprop"))
    hyper.add_argument("--amp", choices=("bf16", "fp16", "none"),
                       help="mixed precision on the GPU (the section's `mixed_precision`)")
    hyper.add_argument("--channels-last", action="store_true", default=None,
                       help="train convolutions in channels-last memory format")
    hyper.add_argument("--seed", type=int, metavar="N",
                       help="seed of weights, data order and augmentation (default 42)")
    hyper.add_argument("--max-train-batches", type=_int, metavar="N",
                       help="stop each epoch after N batches (for quick tests)")

    run = parser.add_argument_group("devices and speed")
    run.add_argument("--gpu", nargs="?", const=0, type=int, metavar="INDEX",
                     help="train on CUDA GPU INDEX (default 0); without it, on the CPU")
    run.add_argument("--engine", choices=("pytorch", "packed"), default="pytorch",
                     help="what --eval runs: the PyTorch model (default), or the model packed "
                          "to .tpk on the GPU engine triton_dsl.gpu (needs --gpu)")
    run.add_argument("--compile", action="store_true",
                     help="run the training step through torch.compile")
    run.add_argument("--distributed", action="store_true",
                     help="data-parallel training over the processes torchrun or "
                          "torch.distributed.launch started (nccl on GPUs, gloo on CPUs)")
    run.add_argument("--local-rank", "--local_rank", type=int, dest="local_rank",
                     help=argparse.SUPPRESS)
    run.add_argument("--threads", type=_int, metavar="N",
                     help="CPU threads for the latency measurement (default: the "
                          "`optimization` section's `num_threads`, else PyTorch's)")
    run.add_argument("--no-progress", action="store_true",
                     help="no progress bar (epoch lines are still printed)")
    run.add_argument("--bits", choices=("2", "1.6"), default=None,
                     help="packing of ternary weights in .tpk files (default: the "
                          "`optimization` section's `pack_bits`, else 2)")
    return parser


def _check_integer_export(args: argparse.Namespace) -> None:
    """`--integer` and `--calibrate` go with the exports that use them. An integer export
    without `--calibrate` is refused rather than given a default: the ranges come from the
    training split (which may have to be downloaded), and how many batches is the user's
    trade of time against range estimates."""
    if args.integer and not (args.export_onnx or args.export_tflite):
        raise UserError("--integer is used with --export-onnx or --export-tflite")
    if args.integer and args.calibrate is None:
        raise UserError("--integer needs --calibrate N: the number of training batches that "
                        "measure the integer graph's output ranges (e.g. --calibrate 8)")
    if args.integer and args.export_onnx and args.onnx_codes == "float32":
        raise UserError("--integer needs integer weight codes; --onnx-codes float32 stores "
                        "float weights")
    if args.calibrate is not None and not (args.export_packed or args.integer):
        raise UserError("--calibrate is used with --export-packed, or with --export-onnx / "
                        "--export-tflite --integer")


def parse_arguments(argv: Sequence[str] | None, prog: str | None = None) -> argparse.Namespace:
    args = build_parser(prog).parse_args(argv)
    if args.fine_tune or args.resume is not None:
        args.train = True
    chosen = [name for name in ("train", "eval", "export_onnx", "export_tflite", "export_weights",
                                "export_mobile", "export_packed")
              if getattr(args, name)]
    if not chosen:
        raise UserError("nothing to do; pass --train, --eval, --export-onnx, --export-tflite, "
                        "--export-weights, "
                        "--export-mobile or --export-packed (see --help)")
    if len(chosen) > 1:
        flags = " and ".join("--" + name.replace("_", "-") for name in chosen)
        raise UserError(f"{flags} cannot be combined; run them one after the other")
    if args.fine_tune and not args.pretrained:
        raise UserError("--fine-tune needs --pretrained PATH (the weights to start from)")
    if args.pretrained and not args.fine_tune:
        raise UserError("--pretrained is used with --fine-tune")
    if args.fine_tune and args.resume is not None:
        raise UserError("--fine-tune starts a new run; it cannot be combined with --resume")
    if args.engine == "packed" and not args.eval:
        raise UserError("--engine packed is used with --eval")
    if args.engine == "packed" and args.gpu is None:
        raise UserError("--engine packed runs on the GPU engine; add --gpu")
    _check_integer_export(args)
    if args.calibration_method is not None and args.calibrate is None:
        raise UserError("--calibration-method is used with --calibrate N")
    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {args.epochs}")
    for flag in ("batch_size", "num_classes", "max_train_batches", "workers", "threads",
                 "calibrate"):
        value = getattr(args, flag)
        if value is not None and value < 1 and not (flag == "workers" and value == 0):
            raise UserError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    if args.run_name is not None:
        _check_run_name(args.run_name)
        # Everything downstream reads --output-dir only, so the subfolder is settled here.
        args.output_dir = os.path.join(args.output_dir or ".", args.run_name)
    if args.keep_checkpoints < 0:
        raise UserError(f"--keep-checkpoints must be 0 or more, got {args.keep_checkpoints}")
    return args

"""ONNX export of a trained model, through PyTorch's TorchScript-based exporter.

The ternary layers compute `alpha * t` from their latent weights in plain tensor ops, so
the exported graph holds the *quantized* weights as constants after constant folding: ONNX
Runtime then computes exactly what the PyTorch model computes in eval mode. The batch
dimension is left dynamic. The file is written to a temporary name and renamed, and
checked with `onnx.checker` before it replaces anything.

The exporter writes `movedim(-1, 0)` (`functional.repeat`, the class token of a ViT) as a
`Transpose` with a negative entry in `perm`, which ONNX Runtime and OpenVINO refuse to load;
`_nonnegative_perms` rewrites each such entry as the axis it names.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from triton_dsl.errors import UserError
from triton_dsl.train.checkpoint import atomic_write

DEFAULT_OPSET = 17


@contextlib.contextmanager
def _as_user_error():
    """An operator ONNX cannot express is the model's limitation, reported in one line."""
    try:
        yield
    except (torch.onnx.errors.OnnxExporterError, torch.onnx.errors.UnsupportedOperatorError,
            torch.onnx.errors.SymbolicValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UserError(f"cannot export to ONNX: {reason}") from None


def export_onnx(model: nn.Module, path: str | os.PathLike, *, example_input: torch.Tensor,
                opset: int = DEFAULT_OPSET, input_name: str = "input",
                output_name: str = "logits") -> Path:
    """Writes `model` (in eval mode, on the CPU) as ONNX to `path`; returns the path."""
    import onnx

    path = Path(path)
    model = model.cpu().eval()
    example = example_input.detach().cpu().float()

    def write(temp: str) -> None:
        with torch.no_grad(), _as_user_error(), warnings.catch_warnings():
            # The TorchScript-based exporter is chosen on purpose (it folds the ternary
            # quantization into constants); its deprecation notice is not the user's concern.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(model, (example,), temp, dynamo=False, opset_version=opset,
                              input_names=[input_name], output_names=[output_name],
                              dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                              do_constant_folding=True)
        graph = onnx.load(temp)
        if _nonnegative_perms(graph):
            onnx.save(graph, temp)
        try:
            onnx.checker.check_model(graph)
        except onnx.checker.ValidationError as error:
            raise UserError(f"the exported ONNX model is invalid: {error}") from None

    atomic_write(path, write)
    return path


def _nonnegative_perms(model) -> bool:
    """Rewrites negative `Transpose` perm entries (-1 is the last axis) in place, in every
    graph and subgraph; returns whether anything changed."""
    changed = False
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            for attribute in node.attribute:
                graphs.extend(attribute.graphs)
                if attribute.g.ByteSize():
                    graphs.append(attribute.g)
                if node.op_type == "Transpose" and attribute.name == "perm" and \
                        any(p < 0 for p in attribute.ints):
                    rank = len(attribute.ints)
                    fixed = [p % rank for p in attribute.ints]
                    del attribute.ints[:]
                    attribute.ints.extend(fixed)
                    changed = True
    return changed

"""TorchScript for PyTorch's lite interpreter (PyTorch Mobile), from a trained model.

The model is traced (`torch.jit.trace`) in eval mode, so the graph holds exactly the eval
computation: batch norm uses its running statistics, dropout is gone.

Ternary weights stay compressed (the default, `packed=True`): on a copy of the model each
ternary layer's float weight is replaced by its 2-bit codes, four to a byte
(`packed_codes`, uint8) and its per-channel scales (`code_scales`) in a scripted
`PackedTernaryWeight`, which unpacks them into `alpha * t` on the model's first call and
keeps the result for later calls (shifts, masks and a multiply per weight, once). The file then holds
2 bits per ternary weight instead of 32: MobileNetV2 at 1000 classes is about 1.2 MB
instead of 8.9 MB. The module is saved as traced: freezing or `optimize_for_mobile` would
fold the unpacking into float constants again.

`packed=False` traces the float `alpha * t` weights as constants instead, then
`optimize_for_mobile` folds batch norm into convolutions and fuses activations where it can
(when this PyTorch build lacks XNNPACK, which the optimizer needs, the module is frozen
instead): a 16x larger file that saves the unpacking at run time.

`_save_for_lite_interpreter` writes the `.ptl` file that
`torch.jit.mobile._load_for_lite_interpreter` and the mobile runtimes load. The file is
written to a temporary name and renamed.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from triton_dsl.export.mobile_weights import PackedTernaryWeight
from triton_dsl.train.checkpoint import atomic_write


def _mobile_optimizer_available() -> bool:
    # optimize_for_mobile asserts inside C++ when PyTorch was built without XNNPACK.
    xnnpack = getattr(torch.backends, "xnnpack", None)
    return bool(getattr(xnnpack, "enabled", False))


def _norms_after_ternary_layers(model: nn.Module) -> dict[nn.Module, nn.Module]:
    """Ternary layer -> the batch norm that alone reads its output and is called nowhere
    else, from the model's `torch.fx` graph (empty where the model does not trace)."""
    from triton_dsl.layers import symbolic_trace
    from triton_dsl.layers.ternary import TernaryWeightMixin

    try:
        graph = symbolic_trace(model).graph
    except Exception:  # noqa: BLE001 (a model fx cannot trace keeps its norms)
        return {}
    modules = dict(model.named_modules())
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    pairs = {}
    for node in graph.nodes:
        if node.op != "call_module" or len(node.users) != 1:
            continue
        layer, (user,) = modules[node.target], node.users
        if not isinstance(layer, TernaryWeightMixin) or not layer.has_codes:
            continue
        if user.op != "call_module" or calls[user.target] != 1 or len(user.args) != 1:
            continue
        norm = modules[user.target]
        if isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)) and norm.track_running_stats \
                and norm.num_features == layer.weight.shape[0] and calls[node.target] == 1:
            pairs[layer] = norm
    return pairs


def _fold_norm(codes: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None,
               norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes, scales and bias of `norm(layer(x))` in evaluation: the norm's
    inv = gamma / sqrt(running_var + eps) multiplies each channel's scale (a negative inv
    flips the channel's codes, so scales stay positive) and bias * inv + beta - mean * inv
    becomes the bias."""
    with torch.no_grad():
        inv = torch.rsqrt(norm.running_var.float() + norm.eps)
        if norm.weight is not None:
            inv = inv * norm.weight.float()
        shift = -norm.running_mean.float() * inv
        if norm.bias is not None:
            shift = shift + norm.bias.float()
        sign = torch.where(inv < 0, -1, 1).to(codes.dtype)
        codes = codes * sign.reshape(-1, *([1] * (codes.dim() - 1)))
        folded_bias = shift if bias is None else bias.float() * inv + shift
        return codes, scales * inv.abs(), folded_bias


def _with_packed_weights(model: nn.Module) -> tuple[nn.Module, list[torch.jit.ScriptModule]]:
    """A copy of `model` whose ternary layers take their weight from a scripted
    `PackedTernaryWeight` (returned too, so their caches can be emptied after tracing),
    with the batch norm that follows a ternary layer folded into its scales and bias and
    replaced by an identity (the float path gets the same folding from `torch.jit.freeze`)."""
    from triton_dsl.layers.ternary import TernaryWeightMixin

    model = copy.deepcopy(model)
    norms = _norms_after_ternary_layers(model)
    names = {m: name for name, m in model.named_modules()}
    weights = []
    for layer in list(model.modules()):
        if not isinstance(layer, TernaryWeightMixin) or not layer.has_codes:
            continue
        codes, scales = layer.ternary_weight()
        if layer in norms:
            codes, scales, bias = _fold_norm(codes, scales, layer.bias, norms[layer])
            layer.bias = nn.Parameter(bias, requires_grad=False)
            parent_name, _, child = names[norms[layer]].rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, nn.Identity())
        del layer.weight  # the float weight must not reach the file
        layer.packed_weight = torch.jit.script(PackedTernaryWeight(codes, scales))
        # An instance attribute, ahead of the class's method (nn.Module's __setattr__ would
        # file a module under _modules, where the method shadows it).
        object.__setattr__(layer, "_forward_weight", layer.packed_weight)
        weights.append(layer.packed_weight)
    return model, weights


def trace_for_mobile(model: nn.Module, example_input: torch.Tensor, *,
                     packed: bool = True) -> torch.jit.ScriptModule:
    """The traced module: with packed ternary weights (see the module docstring), or with
    float weights and, where this PyTorch supports it, mobile-optimized."""
    model = model.cpu().eval()
    weights: list[torch.jit.ScriptModule] = []
    if packed:
        model, weights = _with_packed_weights(model)
    example = example_input.detach().cpu().float()
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns about Python values turned into constants (in eval mode that is
        # exactly what is wanted: the quantized weights are fixed) and that TorchScript is
        # deprecated in favour of torch.export, which has no lite-interpreter format.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, (example,), check_trace=False)
        if packed:
            for weight in weights:  # tracing ran them once: the file holds the codes only
                weight.cached = None
            return traced
        if _mobile_optimizer_available():
            from torch.utils.mobile_optimizer import optimize_for_mobile
            return optimize_for_mobile(traced)
        return torch.jit.freeze(traced.eval())


def export_mobile(model: nn.Module, path: str | os.PathLike, *,
                  example_input: torch.Tensor, packed: bool = True) -> Path:
    """Writes `model` as a lite-interpreter TorchScript file at `path`; returns the path.
    `packed` keeps ternary weights as 2-bit codes (see the module docstring)."""
    path = Path(path)
    module = trace_for_mobile(model, example_input, packed=packed)

    def write(temp: str) -> None:
        with warnings.catch_warnings():
            # "use ExecuTorch instead": the lite format is what this export promises.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            module._save_for_lite_interpreter(temp)

    atomic_write(path, write)
    return path

"""Exports a trained PyTorch model to the packed ternary `.tpk` file of the native runtime.

`save_packed(model, path, example_input=..., bits="2"|"1.6")` traces the eval-mode module
with `torch.fx` (ternary layers of `triton_dsl.layers` stay leaves, so their packed codes
and scales come from `ternary_weight()`), runs the traced graph once on the example input
to learn every value's shape, lowers each node (layers through the registry of
`packed_layers.py`, functions and methods here), folds batch norm into the convolution or
linear layer before it and fuses a following activation into its producer
(`packed_passes.py`), and writes the graph with packed weights (`docs/packed-format.md`). `load_packed(path)` opens the file with the native
engine. The graph comes from the trained module rather than from the compiler so the engine
runs exactly what was trained (see `docs/architecture.md`).
"""

from __future__ import annotations

import math
import operator
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as tf
from torch import fx, nn

from triton_dsl import layers as L
from triton_dsl.export import packed_passes
from triton_dsl.export.packed_format import ABSENT, ExportError, Graph, Op, serialize
from triton_dsl.export.packed_layers import as_numpy as _np
from triton_dsl.export.packed_layers import lowering_for
from triton_dsl.export.packed_layers import pair as _pair

__all__ = ["ExportError", "PackedReport", "build_graph", "load_packed", "save_packed"]

# In reshape and expand targets: "the batch size", dim 0 of the graph's first input.
BATCH = -2


@dataclass(frozen=True)
class PackedReport:
    """Sizes of a written `.tpk` file, for the trainer's report."""

    path: str
    bits: str
    packed_bytes: int
    float32_bytes: int
    ternary_weights: int
    float_parameters: int
    ops: int

    @property
    def compression(self) -> float:
        return self.float32_bytes / self.packed_bytes if self.packed_bytes else 0.0

    def summary(self) -> str:
        return (f"{self.path}: {self.packed_bytes / 1024:.1f} KiB packed ({self.bits}-bit "
                f"ternary), {self.float32_bytes / 1024:.1f} KiB as float32, "
                f"{self.compression:.1f}x smaller, {self.ops} ops")


class _Tracer(fx.Tracer):
    """Keeps ternary layers and torch.nn built-ins as leaves; traces through the rest."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if callable(getattr(m, "ternary_weight", None)) or L.is_leaf(m):
            return True
        if isinstance(m, nn.modules.batchnorm._BatchNorm):  # its forward branches on input
            return True
        if isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
            return False
        return super().is_leaf_module(m, qualname)


class _Recorder(fx.Interpreter):
    """Runs the traced graph once and keeps every node's concrete result."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.results: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.results[n] = result
        return result


_ACT_FUNCTIONS = {torch.relu: "relu", tf.relu: "relu", torch.sigmoid: "sigmoid",
                  tf.sigmoid: "sigmoid", torch.tanh: "tanh", tf.tanh: "tanh", tf.silu: "silu",
                  tf.relu6: "relu6", torch.nn.functional.hardtanh: None}
_ACT_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_BINARY = {operator.add: "add", torch.add: "add", operator.mul: "mul", torch.mul: "mul",
           operator.sub: "sub", torch.sub: "sub", operator.truediv: "div", torch.div: "div",
           operator.iadd: "add", operator.imul: "mul"}
_BINARY_METHODS = {"add": "add", "mul": "mul", "sub": "sub", "div": "div", "add_": "add",
                   "mul_": "mul"}


class _Builder:
    """Turns the traced fx graph into a `Graph`, node by node."""

    def __init__(self, gm: fx.GraphModule, results: dict[fx.Node, Any], bits: str,
                 grown: dict[fx.Node, Any]) -> None:
        self.gm = gm
        self.results = results
        self.grown = grown  # the same nodes' results with one more batch row
        self.bits = bits
        self.graph = Graph()
        self.value_of: dict[fx.Node, int] = {}
        self.producer: dict[int, Op] = {}
        self.modules = dict(gm.named_modules())
        self.ternary_weights = 0
        self.creator: dict[int, fx.Node] = {}
        self.batch = 1

    # -- helpers ------------------------------------------------------------------------
    def shape(self, node: fx.Node) -> tuple[int, ...]:
        return tuple(self.results[node].shape)

    def new_value(self, node: fx.Node) -> int:
        vid = self.graph.add_value(self.shape(node))
        self.value_of[node] = vid
        self.creator[vid] = node
        return vid

    def val(self, arg) -> int:
        if isinstance(arg, fx.Node) and arg in self.value_of:
            return self.value_of[arg]
        if isinstance(arg, fx.Node) and isinstance(self.results.get(arg), torch.Tensor):
            raise ExportError(f"value `{arg.name}` is used before it is defined")
        # A Python number or a constant tensor used as an operand becomes a constant op.
        tensor = torch.as_tensor(self.results[arg] if isinstance(arg, fx.Node) else arg,
                                 dtype=torch.float32)
        vid = self.graph.add_value(tuple(tensor.shape), batch_leading=False)
        self.emit(Op("constant", [], vid, tensors=[self.graph.add_float(_np(tensor))]))
        return vid

    def emit(self, op: Op) -> Op:
        self.graph.ops.append(op)
        self.producer[op.output] = op
        return op

    def op(self, node: fx.Node, kind: str, inputs: list, **kw) -> Op:
        ins = [self.val(a) for a in inputs]
        return self.emit(Op(kind, ins, self.new_value(node), **kw))

    def alias(self, node: fx.Node, arg: fx.Node) -> None:
        self.value_of[node] = self.value_of[arg]

    def dim(self, node: fx.Node, d: int) -> int:
        rank = len(self.shape(node))
        return d + rank if d < 0 else d

    # -- node kinds ---------------------------------------------------------------------
    def build(self, example_input: tuple) -> Graph:
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                vid = self.new_value(node)
                if not self.graph.inputs:
                    self.batch = self.shape(node)[0] if self.shape(node) else 1
                self.graph.inputs.append(vid)
            elif node.op == "output":
                outs = node.args[0]
                outs = outs if isinstance(outs, (tuple, list)) else (outs,)
                self.graph.outputs.extend(self.val(o) for o in outs)
            elif node.op == "call_module" and not isinstance(self.results.get(node),
                                                             torch.Tensor):
                m = self.modules[node.target]
                raise ExportError(f"layer `{node.target}` of type {type(m).__name__} cannot be "
                                  "exported to the packed format (it does not return a tensor)")
            elif not isinstance(self.results.get(node), torch.Tensor):
                continue  # sizes, shapes and tuples are folded to constants where used
            elif node.op == "get_attr":
                self.op(node, "constant", [],
                        tensors=[self.graph.add_float(_np(self.results[node]))])
            elif node.op == "call_module":
                lowering_for(self.modules[node.target], node.target)(
                    self, node, self.modules[node.target])
            elif node.op == "call_function":
                self.call_function(node)
            elif node.op == "call_method":
                self.call_method(node)
            else:
                raise ExportError(f"unsupported fx node `{node.format_node()}`")
        return self.graph

    def activation(self, node: fx.Node, x: fx.Node, name: str) -> None:
        """An `activation` op; `packed_passes.fuse_activations` fuses it where it can."""
        self.op(node, "activation", [x], ints=[_act_code(name)])

    def layer_norm(self, node, x, normalized_shape, weight, bias, eps) -> None:
        rank = len(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else 1
        tensors = [ABSENT if weight is None else self.graph.add_float(_np(weight).reshape(-1)),
                   ABSENT if bias is None else self.graph.add_float(_np(bias).reshape(-1))]
        self.op(node, "layer_norm", [x], ints=[rank], floats=[float(eps)], tensors=tensors)

    def pool(self, node, x, kernel, stride, padding, is_max, count_include_pad=True,
             ceil_mode=False, dilation=1) -> None:
        if ceil_mode or _pair(dilation) != (1, 1):
            raise ExportError("pooling with ceil_mode or dilation is not supported")
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride if stride not in (None, ()) else kernel)
        ph, pw = _pair(padding)
        ints = [kh, kw, sh, sw, ph, pw]
        if is_max:
            self.op(node, "max_pool2d", [x], ints=ints)
        else:
            self.op(node, "avg_pool2d", [x], ints=ints + [1 if count_include_pad else 0])

    def target_dims(self, node: fx.Node) -> list[int]:
        """The traced shape of `node` with sizes that follow the batch written as BATCH."""
        out = list(self.shape(node))
        grown = self.grown.get(node)
        if isinstance(grown, torch.Tensor) and grown.dim() == len(out):
            for i, (a, b) in enumerate(zip(out, grown.shape)):
                if a != b:
                    out[i] = BATCH if (a, b) == (self.batch, self.batch + 1) else -1
        if out.count(-1) > 1:
            raise ExportError(f"`{node.name}`: a shape depends on the batch size in a way the "
                              "packed format cannot express")
        return out

    def reshape(self, node: fx.Node, x: fx.Node) -> None:
        """Any view change: the traced output shape, batch-dependent sizes symbolic."""
        if tuple(self.shape(node)) == tuple(self.shape(x)):
            self.alias(node, x)
            return
        self.op(node, "reshape", [x], ints=self.target_dims(node))

    def arg(self, node: fx.Node, index: int, name: str, default=None):
        value = node.args[index] if len(node.args) > index else node.kwargs.get(name, default)
        return self.results[value] if isinstance(value, fx.Node) else value

    def call_function(self, node: fx.Node) -> None:
        fn = node.target
        a = node.args
        if fn in _BINARY:
            self.binary(node, _BINARY[fn], a[0], a[1])
        elif fn in _ACT_FUNCTIONS and _ACT_FUNCTIONS[fn] is not None:
            self.activation(node, a[0], _ACT_FUNCTIONS[fn])
        elif fn is tf.gelu:
            approx = self.arg(node, 1, "approximate", "none")
            self.activation(node, a[0], "gelu_tanh" if approx == "tanh" else "gelu")
        elif fn in (torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze):
            self.reshape(node, a[0])
        elif fn in (torch.permute, torch.transpose):
            self.permute(node, a[0])
        elif fn in (torch.cat, torch.concat):
            tensors = list(a[0])
            dim = self.arg(node, 1, "dim", 0)
            self.op(node, "concat", tensors, ints=[self.dim(node, dim)])
        elif fn in (torch.matmul, operator.matmul, torch.bmm):
            self.op(node, "matmul", [a[0], a[1]])
        elif fn in (tf.softmax, torch.softmax, tf.log_softmax, torch.log_softmax):
            dim = self.arg(node, 1, "dim", -1)
            kind = "log_softmax" if fn in (tf.log_softmax, torch.log_softmax) else "softmax"
            self.op(node, kind, [a[0]], ints=[self.dim(node, dim)])
        elif fn is tf.adaptive_avg_pool2d:
            self.op(node, "adaptive_avg_pool2d", [a[0]], ints=list(self.shape(node)[-2:]))
        elif fn in (tf.max_pool2d, tf.avg_pool2d):
            kernel = self.arg(node, 1, "kernel_size")
            stride = self.arg(node, 2, "stride", None)
            padding = self.arg(node, 3, "padding", 0)
            is_max = fn is tf.max_pool2d
            cip = True if is_max else self.arg(node, 5, "count_include_pad", True)
            self.pool(node, a[0], kernel, stride, padding, is_max, cip,
                      self.arg(node, 4, "ceil_mode", False),
                      self.arg(node, 4, "dilation", 1) if is_max else 1)
        elif fn is tf.layer_norm:
            weight = self.arg(node, 2, "weight", None)
            bias = self.arg(node, 3, "bias", None)
            self.layer_norm(node, a[0], self.arg(node, 1, "normalized_shape"), weight, bias,
                            self.arg(node, 4, "eps", 1e-5))
        elif fn in (torch.mean, torch.sum):
            self.reduce(node, a[0], fn is torch.sum)
        elif fn is operator.getitem:
            self.getitem(node)
        elif fn is tf.dropout or fn is torch.dropout:
            self.alias(node, a[0])
        elif fn is torch.clamp or fn is torch.clip:
            self.clamp(node, a[0])
        elif fn is torch.movedim:
            self.movedim(node, a[0])
        elif fn is torch.tile:
            self.tile(node, a[0])
        elif fn is tf.scaled_dot_product_attention:
            self.attention_core(node, a[0], a[1], a[2])
        else:
            raise ExportError(f"function `{getattr(fn, '__name__', fn)}` (node "
                              f"`{node.name}`) cannot be exported to the packed format")

    def call_method(self, node: fx.Node) -> None:
        name = node.target
        a = node.args
        if name in ("view", "reshape", "flatten", "squeeze", "unsqueeze"):
            self.reshape(node, a[0])
        elif name in ("permute", "transpose"):
            self.permute(node, a[0])
        elif name in ("contiguous", "clone", "detach", "float", "to"):
            self.alias(node, a[0])
        elif name in _ACT_METHODS:
            self.activation(node, a[0], _ACT_METHODS[name])
        elif name in _BINARY_METHODS:
            self.binary(node, _BINARY_METHODS[name], a[0], a[1])
        elif name in ("mean", "sum"):
            self.reduce(node, a[0], name == "sum")
        elif name == "softmax" or name == "log_softmax":
            dim = self.arg(node, 1, "dim", -1)
            self.op(node, name, [a[0]], ints=[self.dim(node, dim)])
        elif name == "expand":
            self.op(node, "expand", [a[0]], ints=self.target_dims(node))
        elif name == "movedim":
            self.movedim(node, a[0])
        elif name in ("repeat", "tile"):
            self.tile(node, a[0])
        elif name in ("clamp", "clip"):
            self.clamp(node, a[0])
        else:
            raise ExportError(f"method `.{name}()` (node `{node.name}`) cannot be exported "
                              "to the packed format")

    def movedim(self, node: fx.Node, x: fx.Node) -> None:
        rank = len(self.shape(x))
        src = self.arg(node, 1, "source")
        dst = self.arg(node, 2, "destination")
        src, dst = int(src) % rank, int(dst) % rank
        order = [d for d in range(rank) if d != src]
        order.insert(dst, src)
        self.op(node, "permute", [x], ints=order)

    def tile(self, node: fx.Node, x: fx.Node) -> None:
        """Tiling is expressible when every tiled dimension has size 1: it is an expand."""
        src = self.shape(x)
        out = self.shape(node)
        padded = (1,) * (len(out) - len(src)) + tuple(src)
        if any(a != b and a != 1 for a, b in zip(padded, out)):
            raise ExportError(f"`{node.name}`: tiling a dimension larger than 1 is not "
                              "supported by the packed format")
        self.op(node, "expand", [x], ints=self.target_dims(node))

    def attention_core(self, node: fx.Node, q, k, v) -> None:
        """softmax(q k^T / sqrt(d)) v, the eval-mode `scaled_dot_product_attention`."""
        if node.kwargs.get("attn_mask") is not None or node.kwargs.get("is_causal"):
            raise ExportError("attention masks are not supported by the packed format")
        d = self.shape(q)[-1]
        scale = node.kwargs.get("scale") or 1.0 / math.sqrt(d)
        self.emit_attention(self.val(q), self.val(k), self.val(v), self.shape(q),
                            self.shape(k), scale, self.new_value(node))

    def emit_attention(self, q: int, k: int, v: int, q_shape, k_shape, scale: float,
                       out: int) -> None:
        rank = len(k_shape)
        perm = list(range(rank - 2)) + [rank - 1, rank - 2]
        kt_shape = tuple(k_shape[i] for i in perm)
        kt = self.graph.add_value(kt_shape)
        self.emit(Op("permute", [k], kt, ints=perm))
        scores_shape = tuple(q_shape[:-1]) + (k_shape[-2],)
        scores = self.graph.add_value(scores_shape)
        self.emit(Op("matmul", [q, kt], scores))
        scaled = self.graph.add_value(scores_shape)
        self.emit(Op("scalar_affine", [scores], scaled, floats=[float(scale), 0.0]))
        probs = self.graph.add_value(scores_shape)
        self.emit(Op("softmax", [scaled], probs, ints=[len(scores_shape) - 1]))
        self.emit(Op("matmul", [probs, v], out))

    def clamp(self, node: fx.Node, x: fx.Node) -> None:
        lo = self.arg(node, 1, "min", None)
        hi = self.arg(node, 2, "max", None)
        if lo == 0 and hi == 6:
            self.activation(node, x, "relu6")
        elif lo == 0 and hi is None:
            self.activation(node, x, "relu")
        else:
            raise ExportError("clamp is only supported as relu (min=0) or relu6 (0, 6)")

    def binary(self, node: fx.Node, kind: str, lhs, rhs) -> None:
        scalar_rhs = not isinstance(rhs, fx.Node) or not isinstance(
            self.results.get(rhs), torch.Tensor)
        scalar_lhs = not isinstance(lhs, fx.Node) or not isinstance(
            self.results.get(lhs), torch.Tensor)
        if scalar_rhs or scalar_lhs:
            tensor, s = (lhs, rhs) if scalar_rhs else (rhs, lhs)
            s = float(self.results[s] if isinstance(s, fx.Node) else s)
            if kind == "add":
                a, b = 1.0, s
            elif kind == "mul":
                a, b = s, 0.0
            elif kind == "sub":
                a, b = (1.0, -s) if scalar_rhs else (-1.0, s)
            elif scalar_rhs:  # div by a scalar
                a, b = 1.0 / s, 0.0
            else:
                raise ExportError("dividing a number by a tensor is not supported")
            self.op(node, "scalar_affine", [tensor], floats=[a, b])
            return
        self.op(node, kind, [lhs, rhs])

    def permute(self, node: fx.Node, x: fx.Node) -> None:
        rank = len(self.shape(x))
        if node.target in (torch.transpose, "transpose"):
            d0 = self.arg(node, 1, "dim0") % rank
            d1 = self.arg(node, 2, "dim1") % rank
            perm = list(range(rank))
            perm[d0], perm[d1] = perm[d1], perm[d0]
        else:
            dims = node.args[1:] if node.target == "permute" else (node.args[1],)
            if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
                dims = dims[0]
            perm = [int(d) % rank for d in dims]
        self.op(node, "permute", [x], ints=perm)

    def reduce(self, node: fx.Node, x: fx.Node, is_sum: bool) -> None:
        rank = len(self.shape(x))
        dims = self.arg(node, 1, "dim", None)
        keepdim = bool(self.arg(node, 2, "keepdim", False))
        dims = list(range(rank)) if dims is None else (
            [dims] if isinstance(dims, int) else list(dims))
        dims = sorted(d % rank for d in dims)
        if not is_sum:
            self.op(node, "mean", [x], ints=[1 if keepdim else 0] + dims)
            return
        mean_value = self.graph.add_value(self.shape(node))
        self.emit(Op("mean", [self.val(x)], mean_value, ints=[1 if keepdim else 0] + dims))
        count = math.prod(self.shape(x)[d] for d in dims)
        self.emit(Op("scalar_affine", [mean_value], self.new_value(node),
                     floats=[float(count), 0.0]))

    def getitem(self, node: fx.Node) -> None:
        src, index = node.args
        if not isinstance(self.results.get(src), torch.Tensor):
            self.chunk_item(node, src, index)
            return
        index = index if isinstance(index, tuple) else (index,)
        vid = self.val(src)
        shape = list(self.shape(src))
        dim = 0
        for position, item in enumerate(index):
            if item is Ellipsis:
                dim = len(shape) - (len(index) - position - 1)
            elif isinstance(item, slice):
                start, stop, step = item.indices(shape[dim])
                if (start, stop, step) != (0, shape[dim], 1):
                    shape[dim] = len(range(start, stop, step))
                    vid = self.emit_slice(vid, shape, dim, start, stop, step)
                dim += 1
            elif isinstance(item, int):
                i = item % shape[dim]
                shape[dim] = 1
                vid = self.emit_slice(vid, shape, dim, i, i + 1, 1)
                dim += 1
            else:
                raise ExportError(f"indexing with {item!r} (node `{node.name}`) is not "
                                  "supported")
        out = list(self.shape(node))
        if out != shape:
            ints = list(out)
            if ints and shape and ints[0] == shape[0] and not isinstance(index[0], int):
                ints[0] = 0
            vid_out = self.graph.add_value(tuple(out))
            self.emit(Op("reshape", [vid], vid_out, ints=ints))
            vid = vid_out
        self.value_of[node] = vid
        self.creator[vid] = node

    def emit_slice(self, src: int, shape: list[int], dim: int, start: int, stop: int,
                   step: int) -> int:
        vid = self.graph.add_value(tuple(shape))
        self.emit(Op("slice", [src], vid, ints=[dim, start, stop, step]))
        return vid

    def chunk_item(self, node: fx.Node, src: fx.Node, index: int) -> None:
        """`a, b = x.chunk(2, dim)`, `torch.split` or `unbind`: one slice per used piece."""
        if src.op not in ("call_method", "call_function") or src.target not in (
                "chunk", torch.chunk, "split", torch.split, "unbind", torch.unbind):
            raise ExportError(f"indexing the result of `{src.name}` is not supported")
        base = src.args[0]
        in_shape = self.shape(base)
        is_unbind = src.target in ("unbind", torch.unbind)
        dim = self.arg(src, 1 if is_unbind else 2, "dim", 0) % len(in_shape)
        sizes = [t.shape[dim] for t in self.results[src]] if not is_unbind \
            else [1] * in_shape[dim]
        start = sum(sizes[:index])
        shape = list(in_shape)
        shape[dim] = sizes[index]
        vid = self.emit_slice(self.val(base), shape, dim, start, start + sizes[index], 1)
        if is_unbind:
            out = list(self.shape(node))
            ints = list(out)
            if dim != 0 and ints:
                ints[0] = 0
            reshaped = self.graph.add_value(tuple(out))
            self.emit(Op("reshape", [vid], reshaped, ints=ints))
            vid = reshaped
        self.value_of[node] = vid
        self.creator[vid] = node


def _act_code(name: str) -> int:
    from triton_dsl.export.packed_format import ACT
    return ACT[name]


def build_graph(model: nn.Module, example_input, bits: str = "2",
                fuse_bn: bool = True) -> tuple[Graph, int]:
    """Traces `model` and returns the packed graph and the number of ternary weights.
    `fuse_bn=False` keeps every batch norm as its own `channel_affine` op."""
    if bits not in ("2", "1.6"):
        raise ValueError(f'bits must be "2" or "1.6", got {bits!r}')
    was_training = model.training
    model.eval()
    try:
        tracer = _Tracer()
        graph = tracer.trace(model)
        gm = fx.GraphModule(tracer.root, graph)
        inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
        recorder = _Recorder(gm)
        with torch.no_grad():
            recorder.run(*inputs)
            # A second run with one more batch row shows which traced sizes follow the batch.
            other = _Recorder(gm)
            other.run(*[torch.cat([x, x[:1]]) if isinstance(x, torch.Tensor) and x.dim() > 0
                        else x for x in inputs])
            builder = _Builder(gm, recorder.results, bits, other.results)
            packed = builder.build(inputs)
        if fuse_bn:
            packed = packed_passes.fold_batch_norm(packed)
        packed = packed_passes.fuse_activations(packed)
    finally:
        model.train(was_training)
    return packed, builder.ternary_weights


def save_packed(model: nn.Module, path, *, example_input, bits: str = "2",
                fuse_bn: bool = True) -> PackedReport:
    """Writes `model` (evaluated in eval mode) to `path` as a `.tpk` file; returns sizes.
    `fuse_bn` is the `optimization` section's key of that name (program/optimization.py)."""
    graph, ternary_weights = build_graph(model, example_input, bits, fuse_bn)
    data = serialize(graph)
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.write(data)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return PackedReport(path=path, bits=bits, packed_bytes=len(data),
                        float32_bytes=4 * (params + buffers), ternary_weights=ternary_weights,
                        float_parameters=params - ternary_weights, ops=len(graph.ops))


def load_packed(path):
    """Opens a `.tpk` file with the native engine (`triton_dsl.native.Engine`)."""
    from triton_dsl import native
    return native.load(path)

"""Runs a whole `.tpk` graph on the GPU: `Executor(model).run(x)`.

Each op record of the file (`tpk.read`) becomes one step, a closure over its prepared
tensors, run in file order over a list of values. Ternary linear and conv2d ops run the
Triton kernels (`layers.py`); everything else is PyTorch glue with the CPU engine's
semantics (`runtime/executor/`): elementwise ops, pooling, layer norm, softmax, reshape
with its 0 / -1 / -2 (batch) codes, permute, slice, expand, concat, mean, embedding. A
fused activation on any op is applied after it (inside the kernel for linear and conv2d).

Activations flow in `dtype` (bfloat16 by default; float32 for exact comparisons). 4-d
values are kept channels-last (NHWC in memory, NCHW in shape), the layout the convolution
kernels read and write, so PyTorch's pooling, adds and reshapes work on them unchanged.

Two rewrites, each computing the same function with fewer passes over memory:
- the attention core the exporter writes as `permute(k)`, `matmul(q, k^T)`,
  `scalar_affine(a, 0)`, `softmax(-1)`, `matmul(p, v)` (each intermediate read once) runs
  as one `F.scaled_dot_product_attention(q, k, v, scale=a)` (flash attention, no score
  matrix in memory);
- an `add` of a ternary linear / conv2d output (read only there) and a same-shaped value,
  i.e. a residual connection, runs inside that layer's epilogue (`layers.py`), with the
  add's fused activation.

On CUDA, `run` captures the graph for each new input shape into a `torch.cuda.CUDAGraph`
(after a warm-up run that autotunes every kernel) and replays it, so a call costs one
graph launch plus copying the input in and the output out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from triton_dsl.gpu import tpk
from triton_dsl.gpu.layers import Conv2d, Linear, _torch_act

BATCH = -2  # in reshape and expand targets: the batch size
Step = Callable[[list, int], None]


def _target(ints: list[int], shape: tuple[int, ...], numel: int, batch: int) -> list[int]:
    """A reshape target as the CPU engine resolves it (0 copies, -1 infers, -2 batch)."""
    out, known, infer = [], 1, -1
    for i, d in enumerate(ints):
        if d == 0:
            d = shape[i]
        if d == BATCH:
            d = batch
        if d == -1:
            infer = i
            d = 1
        else:
            known *= d
        out.append(d)
    if infer >= 0 and known:
        out[infer] = numel // known
    return out


class Executor:
    """A `.tpk` model on one CUDA device (or the CPU, for tests under the interpreter)."""

    def __init__(self, model: tpk.Model, *, device: str | torch.device = "cuda",
                 dtype: torch.dtype = torch.bfloat16, cuda_graphs: bool = True) -> None:
        self.model = model
        self.device = torch.device(device)
        self.dtype = dtype
        self.cuda_graphs = cuda_graphs and self.device.type == "cuda"
        self._graphs: dict[tuple, tuple] = {}
        readers = self._readers()
        self._embedding_inputs = {op.inputs[0] for op in model.ops if op.kind == "embedding"}
        self.steps: list[Step] = []
        self.layers = {i: self._layer(op) for i, op in enumerate(model.ops)
                       if op.kind in ("linear", "conv2d")}
        self.kernel_ops = sum(layer.ternary for layer in self.layers.values())
        skip, cores = self._attention_cores(readers)
        residuals = self._residual_adds(readers)
        skip |= {producer for producer, _ in residuals.values()}
        for i, op in enumerate(model.ops):
            if i in skip:
                continue
            if i in cores:
                self.steps.append(self._sdpa(*cores[i]))
            elif i in residuals:
                self.steps.append(self._fused_add(op, *residuals[i]))
            elif i in self.layers:
                self.steps.append(self._call(self.layers[i], op.inputs[0], op.output))
            else:
                self.steps.append(self._step(op))

    # -- running ------------------------------------------------------------------------
    def run(self, *inputs) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Runs the graph; inputs are torch tensors or numpy arrays (any device), outputs
        float32 tensors on the executor's device."""
        xs = [self._input(i, x) for i, x in enumerate(inputs)]
        if not self.cuda_graphs:
            outs = self._forward(xs)
        else:
            outs = self._replay(xs)
        return outs[0] if len(outs) == 1 else tuple(outs)

    __call__ = run

    def as_module(self) -> torch.nn.Module:
        """This executor behind the `nn.Module` interface (`module(x)` runs the graph), for
        code that evaluates modules, such as the generated program's `--eval`."""
        return _Module(self)

    def _input(self, index: int, x) -> torch.Tensor:
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x))
        vid = self.model.inputs[index]
        dtype = torch.float32 if vid in self._embedding_inputs else self.dtype
        return x.to(device=self.device, dtype=dtype)

    def _forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        if len(xs) != len(self.model.inputs):
            raise ValueError(f"the model takes {len(self.model.inputs)} inputs, got {len(xs)}")
        env: list = [None] * len(self.model.values)
        for vid, x in zip(self.model.inputs, xs):
            env[vid] = x
        batch = int(xs[0].shape[0]) if xs[0].dim() else 1
        with torch.no_grad():
            for step in self.steps:
                step(env, batch)
        return [env[v].float() for v in self.model.outputs]

    def graph(self, *inputs) -> torch.cuda.CUDAGraph:
        """The CUDA graph `run` replays for inputs of these shapes (captured on first use),
        for benchmarks that time `graph.replay()` alone."""
        xs = [self._input(i, x) for i, x in enumerate(inputs)]
        self._replay(xs)
        return self._graphs[self._key(xs)][0]

    @staticmethod
    def _key(xs: list[torch.Tensor]) -> tuple:
        return tuple((tuple(x.shape), x.dtype) for x in xs)

    def _replay(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        key = self._key(xs)
        if key not in self._graphs:
            static_in = [x.clone() for x in xs]
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(2):  # autotuning and compilation happen here, not in capture
                    self._forward(static_in)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._forward(static_in)
            self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = self._graphs[key]
        for dst, src in zip(static_in, xs):
            dst.copy_(src)
        graph.replay()
        return [o.clone() for o in static_out]

    # -- building -----------------------------------------------------------------------
    def _readers(self) -> dict[int, int]:
        count: dict[int, int] = {}
        for op in self.model.ops:
            for v in op.inputs:
                count[v] = count.get(v, 0) + 1
        for v in self.model.outputs:
            count[v] = count.get(v, 0) + 1
        return count

    def _attention_cores(self, readers: dict[int, int]) -> tuple[set[int], dict[int, tuple]]:
        """Finds permute -> matmul -> scalar_affine -> softmax -> matmul chains (see the
        module comment); returns the op indices to skip and, at each chain's last matmul,
        (q, k, v, out, scale)."""
        ops = self.model.ops
        producer = {op.output: i for i, op in enumerate(ops)}
        skip: set[int] = set()
        cores: dict[int, tuple] = {}

        def single(vid: int, kind: str):
            i = producer.get(vid)
            if i is None or readers.get(vid, 0) != 1 or ops[i].kind != kind or \
                    ops[i].act != "none":
                return None
            return i

        for i, op in enumerate(ops):
            if op.kind != "matmul" or op.act != "none":
                continue
            i_soft = single(op.inputs[0], "softmax")
            if i_soft is None:
                continue
            rank = len(self.model.values[ops[i_soft].output][0])
            if ops[i_soft].ints[0] not in (-1, rank - 1):
                continue
            i_aff = single(ops[i_soft].inputs[0], "scalar_affine")
            if i_aff is None or ops[i_aff].floats[1] != 0.0:
                continue
            i_mm = single(ops[i_aff].inputs[0], "matmul")
            if i_mm is None:
                continue
            i_perm = single(ops[i_mm].inputs[1], "permute")
            if i_perm is None or rank < 2:
                continue
            perm = ops[i_perm].ints
            if list(perm) != list(range(rank - 2)) + [rank - 1, rank - 2]:
                continue
            q, k, v = ops[i_mm].inputs[0], ops[i_perm].inputs[0], op.inputs[1]
            skip.update({i_perm, i_mm, i_aff, i_soft})
            cores[i] = (q, k, v, op.output, float(ops[i_aff].floats[0]))
        return skip, cores

    def _residual_adds(self, readers: dict[int, int]) -> dict[int, tuple[int, int]]:
        """`add` ops one of whose inputs is the sole use of a ternary linear / conv2d output
        of the same shape (a residual connection): add index -> (producer index, the other
        input). The producer then runs at the add's place with the other input added in its
        epilogue (its input is still there: values are kept until the run ends)."""
        ops = self.model.ops
        producer = {op.output: i for i, op in enumerate(ops)}
        found: dict[int, tuple[int, int]] = {}
        taken: set[int] = set()
        for i, op in enumerate(ops):
            if op.kind != "add":
                continue
            for mine, other in ((op.inputs[0], op.inputs[1]), (op.inputs[1], op.inputs[0])):
                p = producer.get(mine)
                if (p is None or p in taken or p not in self.layers
                        or not self.layers[p].fuses_residual() or readers.get(mine) != 1
                        or mine == other
                        or self.model.values[mine][0] != self.model.values[other][0]):
                    continue
                found[i] = (p, other)
                taken.add(p)
                break
        return found

    def _fused_add(self, add: tpk.OpRecord, producer: int, other: int) -> Step:
        layer, x, out = self.layers[producer], self.model.ops[producer].inputs[0], add.output
        act = _ACT_CODE[add.act]

        def step(env, batch):
            env[out] = layer(env[x], residual=env[other], residual_act=act)
        return step

    def _sdpa(self, q: int, k: int, v: int, out: int, scale: float) -> Step:
        def step(env, batch):
            env[out] = F.scaled_dot_product_attention(env[q], env[k], env[v], scale=scale)
        return step

    def _tensor(self, index: int) -> torch.Tensor | None:
        t = self.model.tensor(index)
        if t is None:
            return None
        dense = t.dense() if isinstance(t, tpk.Ternary) else t
        return torch.as_tensor(dense).to(device=self.device, dtype=self.dtype)

    def _layer(self, op: tpk.OpRecord) -> Linear | Conv2d:
        weight, bias = self.model.tensor(op.tensors[0]), self.model.tensor(op.tensors[1])
        scale = op.floats[0] if op.floats else None
        if op.kind == "linear":
            return Linear(weight, bias, _ACT_CODE[op.act], scale, self.device, self.dtype)
        in_channels = self.model.values[op.inputs[0]][0][1]
        return Conv2d(weight, bias, op.ints, in_channels, _ACT_CODE[op.act], scale, self.device,
                      self.dtype)

    def _step(self, op: tpk.OpRecord) -> Step:
        code = _ACT_CODE[op.act]
        a = op.inputs[0] if op.inputs else None
        out = op.output
        kind = op.kind

        def unary(fn) -> Step:
            def step(env, batch):
                env[out] = _torch_act(fn(env[a], batch), code)
            return step

        if kind in _BINARY:
            fn, b = _BINARY[kind], op.inputs[1]

            def step(env, batch):
                env[out] = _torch_act(fn(env[a], env[b]), code)
            return step
        if kind == "activation":
            inner = op.ints[0]
            return unary(lambda x, batch: _torch_act(x, inner))
        if kind == "max_pool2d":
            kh, kw, sh, sw, ph, pw = op.ints
            return unary(lambda x, batch: F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw)))
        if kind == "avg_pool2d":
            kh, kw, sh, sw, ph, pw, include = op.ints
            return unary(lambda x, batch: F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw),
                                                        count_include_pad=bool(include)))
        if kind == "adaptive_avg_pool2d":
            size = tuple(op.ints)
            return unary(lambda x, batch: F.adaptive_avg_pool2d(x, size))
        if kind == "reshape":
            ints = list(op.ints)
            return unary(lambda x, batch: x.reshape(_target(ints, tuple(x.shape), x.numel(),
                                                            batch)))
        if kind == "permute":
            perm = list(op.ints)
            return unary(lambda x, batch: x.permute(perm))
        if kind == "concat":
            dim, ins = op.ints[0], list(op.inputs)

            def step(env, batch):
                env[out] = _torch_act(torch.cat([env[v] for v in ins], dim), code)
            return step
        if kind == "layer_norm":
            rank, eps = op.ints[0], op.floats[0]
            weight, bias = self._tensor(op.tensors[0]), self._tensor(op.tensors[1])
            return unary(lambda x, batch: F.layer_norm(x, x.shape[x.dim() - rank:], weight,
                                                       bias, eps))
        if kind in ("softmax", "log_softmax"):
            dim = op.ints[0]
            fn = torch.softmax if kind == "softmax" else torch.log_softmax
            return unary(lambda x, batch: fn(x, dim))
        if kind == "matmul":
            b = op.inputs[1]

            def step(env, batch):
                env[out] = _torch_act(torch.matmul(env[a], env[b]), code)
            return step
        if kind == "channel_affine":
            scale, shift = self._tensor(op.tensors[0]), self._tensor(op.tensors[1])

            def affine(x, batch):
                shape = [1, -1] + [1] * (x.dim() - 2)
                return x * scale.view(shape) + shift.view(shape)
            return unary(affine)
        if kind == "constant":
            value = self._tensor(op.tensors[0])

            def step(env, batch):
                env[out] = value
            return step
        if kind == "mean":
            keep, dims = bool(op.ints[0]), list(op.ints[1:])
            return unary(lambda x, batch: x.mean(dim=dims, keepdim=keep))
        if kind == "scalar_affine":
            sa, sb = op.floats
            return unary(lambda x, batch: x * sa + sb)
        if kind == "ternary_activation":
            sign = op.ints[0] == 0
            clip, threshold = op.floats
            cut = 0.0 if sign else threshold * clip

            def ternarize(x, batch):
                if sign:
                    return torch.where(x >= 0, clip, -clip).to(x.dtype)
                return (torch.where(x.abs() > cut, torch.sign(x), 0.0) * clip).to(x.dtype)
            return unary(ternarize)
        if kind == "slice":
            dim, start, stop, step_ = op.ints

            def cut_slice(x, batch):
                d = dim % x.dim()
                index = [slice(None)] * x.dim()
                size = x.shape[d]
                index[d] = slice(min(start, size), min(stop, size), step_)
                return x[tuple(index)]
            return unary(cut_slice)
        if kind == "expand":
            ints = list(op.ints)

            def expand(x, batch):
                have = [1] * (len(ints) - x.dim()) + list(x.shape)
                want = [h if d == -1 else batch if d == BATCH else d
                        for d, h in zip(ints, have)]
                return x.reshape(have).expand(want)
            return unary(expand)
        if kind == "embedding":
            table = self._tensor(op.tensors[0])
            return unary(lambda x, batch: F.embedding(x.long(), table))
        raise ValueError(f"op `{kind}` is not supported by the GPU executor")

    @staticmethod
    def _call(layer, a: int, out: int) -> Step:
        def step(env, batch):
            env[out] = layer(env[a])
        return step


class _Module(torch.nn.Module):
    def __init__(self, executor: Executor) -> None:
        super().__init__()
        self.executor = executor

    def forward(self, *inputs):
        return self.executor.run(*inputs)


def _sub(x, y):
    return x - y


_BINARY = {"add": torch.add, "mul": torch.mul, "sub": _sub, "div": torch.div}
_ACT_CODE = {name: code for code, name in tpk.ACT_NAME.items()}

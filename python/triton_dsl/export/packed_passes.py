"""Graph passes of the packed exporter, run on the built `Graph` before it is written.

The builder (`packed.py`, `packed_layers.py`) emits every batch norm as a `channel_affine`
op and every activation as an `activation` op. Two passes then make the graph smaller and
faster without changing its results:

`fold_batch_norm(graph)`:
  1. For each `channel_affine` op whose input is produced by a `conv2d` op or a `linear` op
     with a 2-d output (dimension 1 is then the weight's rows), with no fused activation
     and read by nothing else (no other op, not a graph output), either directly or
     through a `reshape` that keeps dimensions 0 and 1 (a 1-d convolution's
     [N, C, 1, L] -> [N, C, L]) and is read only by the affine:
  2. scale the producer's weight rows by `inv` (for a ternary weight, its per-row scales;
     the codes stay) and set its bias to `bias * inv + offset` (a new bias tensor when it
     had none, in the slot of the affine's first tensor so tensor order stays stable);
  3. drop the affine op and its tensors, and let its readers read the value it read.

`fuse_activations(graph)`:
  1. For each `activation` op whose input is produced by a linear, conv2d, add, sub, mul or
     channel_affine op with no fused activation, directly or through one `reshape` (an
     elementwise function commutes with it), and read by nothing else:
  2. set the producer's fused activation (`act`), drop the activation op, and let its
     readers read the value it read.

Both end with `compact`, which renumbers values and tensors in their original order, so a
graph that needed no folding is written byte for byte as before.
"""

from __future__ import annotations

import numpy as np

from triton_dsl.export.packed_format import ABSENT, ACT, OP, TENSOR_F32, Graph, Op, Tensor

FOLD_INTO = {"linear", "conv2d"}
FUSE_INTO = {"linear", "conv2d", "add", "channel_affine", "sub", "mul"}
assert FOLD_INTO <= set(OP) and FUSE_INTO <= set(OP)


def _readers(graph: Graph) -> dict[int, int]:
    """How many ops (and graph outputs) read each value."""
    count: dict[int, int] = {}
    for op in graph.ops:
        for v in op.inputs:
            count[v] = count.get(v, 0) + 1
    for v in graph.outputs:
        count[v] = count.get(v, 0) + 1
    return count


def _sole_producer(graph: Graph, value: int, readers: dict[int, int]) -> Op | None:
    if readers.get(value, 0) != 1:
        return None
    return next((op for op in graph.ops if op.output == value), None)


def _through_reshape(graph: Graph, value: int, readers: dict[int, int], kinds: set[str],
                     keep_channels: bool) -> tuple[Op, int] | None:
    """The op of one of `kinds` that produces `value`, directly or through a single-reader
    `reshape` (one that keeps dimensions 0 and 1 when `keep_channels`), with no fused
    activation and no other reader; with the value its result is now known as."""
    producer = _sole_producer(graph, value, readers)
    if producer is not None and producer.kind == "reshape":
        shape_in, shape_out = graph.values[producer.inputs[0]][0], graph.values[value][0]
        if keep_channels and shape_in[:2] != shape_out[:2]:
            return None
        producer = _sole_producer(graph, producer.inputs[0], readers)
    if producer is None or producer.kind not in kinds or producer.act != "none":
        return None
    return producer, value


def _channels_are_rows(graph: Graph, op: Op) -> bool:
    """Whether dimension 1 of `op`'s output is its weight's rows: always for a conv2d, for a
    linear layer only when its output is [N, features] (on [N, T, features] dimension 1 is
    T, which a per-row scale cannot express)."""
    return op.kind == "conv2d" or len(graph.values[op.output][0]) == 2


def _replace_value(graph: Graph, old: int, new: int) -> None:
    for op in graph.ops:
        op.inputs = [new if v == old else v for v in op.inputs]
    graph.outputs = [new if v == old else v for v in graph.outputs]


def fold_scale_shift(graph: Graph, op: Op, inv: np.ndarray, offset: np.ndarray,
                     slot: int) -> None:
    """Folds `y * inv + offset` (per output channel) into `op`'s weight and bias; a new bias
    tensor takes tensor index `slot` (the caller frees it)."""
    weight = graph.tensors[op.tensors[0]]
    rows = weight.dims[0]
    if weight.kind == TENSOR_F32:
        w = np.frombuffer(weight.payload, dtype="<f4").reshape(rows, -1) * inv[:, None]
        weight.payload = np.ascontiguousarray(w, dtype="<f4").tobytes()
    else:  # ternary: the scales are the last 4*rows bytes; codes stay as they are
        scales = np.frombuffer(weight.payload[-4 * rows:], dtype="<f4") * inv
        weight.payload = weight.payload[:-4 * rows] + scales.astype("<f4").tobytes()
    if op.tensors[1] == ABSENT:
        bias = np.zeros(rows, np.float32)
    else:
        bias = np.frombuffer(graph.tensors[op.tensors[1]].payload, dtype="<f4")
    new_bias = (bias * inv + offset).astype("<f4")
    if op.tensors[1] == ABSENT:
        graph.tensors[slot] = Tensor(TENSOR_F32, (rows,), new_bias.tobytes())
        op.tensors[1] = slot
    else:
        graph.tensors[op.tensors[1]].payload = new_bias.tobytes()


def fold_batch_norm(graph: Graph) -> Graph:
    readers = _readers(graph)
    dead_ops, dead_tensors, dead_values = set(), set(), set()
    for affine in list(graph.ops):
        if affine.kind != "channel_affine" or affine.act != "none":
            continue
        found = _through_reshape(graph, affine.inputs[0], readers, FOLD_INTO, True)
        if found is None or id(found[0]) in dead_ops or not _channels_are_rows(graph, found[0]):
            continue
        producer, result = found
        inv_id, offset_id = affine.tensors
        inv = np.frombuffer(graph.tensors[inv_id].payload, dtype="<f4")
        offset = np.frombuffer(graph.tensors[offset_id].payload, dtype="<f4")
        had_bias = producer.tensors[1] != ABSENT
        fold_scale_shift(graph, producer, inv, offset, inv_id)
        dead_tensors.update({inv_id, offset_id} if had_bias else {offset_id})
        dead_ops.add(id(affine))
        dead_values.add(affine.output)
        _replace_value(graph, affine.output, result)
        readers = _readers(graph)
    graph.ops = [op for op in graph.ops if id(op) not in dead_ops]
    return compact(graph, dead_values, dead_tensors)


def fuse_activations(graph: Graph) -> Graph:
    readers = _readers(graph)
    dead_ops, dead_values = set(), set()
    for act in list(graph.ops):
        if act.kind != "activation":
            continue
        found = _through_reshape(graph, act.inputs[0], readers, FUSE_INTO, False)
        if found is None:
            continue
        producer, result = found
        producer.act = next(name for name, code in ACT.items() if code == act.ints[0])
        dead_ops.add(id(act))
        dead_values.add(act.output)
        _replace_value(graph, act.output, result)
        readers = _readers(graph)
    graph.ops = [op for op in graph.ops if id(op) not in dead_ops]
    return compact(graph, dead_values, set())


def compact(graph: Graph, dead_values: set[int], dead_tensors: set[int]) -> Graph:
    """Removes the given values and tensors and renumbers the rest in their order."""
    if not dead_values and not dead_tensors:
        return graph
    value_map, values = {}, []
    for i, v in enumerate(graph.values):
        if i not in dead_values:
            value_map[i] = len(values)
            values.append(v)
    tensor_map, tensors = {ABSENT: ABSENT}, []
    for i, t in enumerate(graph.tensors):
        if i not in dead_tensors:
            tensor_map[i] = len(tensors)
            tensors.append(t)
    for op in graph.ops:
        op.inputs = [value_map[v] for v in op.inputs]
        op.output = value_map[op.output]
        op.tensors = [tensor_map[t] for t in op.tensors]
    graph.values, graph.tensors = values, tensors
    graph.inputs = [value_map[v] for v in graph.inputs]
    graph.outputs = [value_map[v] for v in graph.outputs]
    return graph

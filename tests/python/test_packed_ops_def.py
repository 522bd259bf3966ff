"""The exporter's op table agrees with the runtime's (`runtime/format/ops.def`, model.h).

The runtime numbers op kinds in `ops.def` and activations in `model.h`; the Python exporter
(`export/packed_format.py`) writes the same numbers into `.tpk` files. These tests parse the
C++ lists and fail when a name or code is on one side only or differs, and when the exporter
writes an op whose input/int/float/tensor counts fall outside the range the runtime's loader
accepts (checked on every op of the seed models and of a module that uses every op kind).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import torch
from torch import nn

from triton_dsl import layers as L
from triton_dsl.export.packed import build_graph
from triton_dsl.export.packed_format import ACT, OP

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import seed_models

OP_LINE = re.compile(r"^OP\((\w+),\s*(\d+)((?:,\s*\d+){7})\)", re.MULTILINE)


def _key(name: str) -> str:
    """`MaxPool2d` and `max_pool2d` (and `MatMul`, `matmul`) compare equal."""
    return name.replace("_", "").lower()


def runtime_ops() -> dict[str, dict]:
    text = (REPO / "runtime" / "format" / "ops.def").read_text(encoding="utf-8")
    ops = {}
    for m in OP_LINE.finditer(text):
        n = [int(v) for v in m.group(3).replace(" ", "").strip(",").split(",")]
        ops[_key(m.group(1))] = {"name": m.group(1), "code": int(m.group(2)),
                                 "inputs": (n[0], n[1]), "ints": (n[2], n[3]),
                                 "floats": (n[4], n[5]), "tensors": (n[6], n[6])}
    assert len(ops) >= 20, "ops.def was not parsed"
    return ops


def runtime_activations() -> dict[str, int]:
    text = (REPO / "runtime" / "format" / "model.h").read_text(encoding="utf-8")
    body = re.search(r"enum class Activation[^{]*\{([^}]*)\}", text).group(1)
    return {_key(name): int(code) for name, code in re.findall(r"k(\w+)\s*=\s*(\d+)", body)}


def test_op_names_and_codes_match_ops_def():
    runtime = runtime_ops()
    python = {_key(name): (name, code) for name, code in OP.items()}
    assert sorted(set(runtime) - set(python)) == [], "ops in ops.def the exporter lacks"
    assert sorted(set(python) - set(runtime)) == [], "exporter ops that ops.def lacks"
    for key, (name, code) in python.items():
        assert code == runtime[key]["code"], f"`{name}` is {code} here, " \
                                             f"{runtime[key]['code']} in ops.def"


def test_activation_codes_match_model_h():
    assert {_key(k): v for k, v in ACT.items()} == runtime_activations()


class EveryOp(nn.Module):
    """Uses every op kind the exporter can write that the seed models do not."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.norm = nn.LayerNorm(8)
        self.bn = nn.BatchNorm1d(4)
        self.act = L.TernaryActivation(method="ternary")
        self.pool = nn.AvgPool2d(2)
        self.maxpool = nn.MaxPool2d(2)
        self.register_buffer("offset", torch.randn(8))

    def forward(self, tokens, image):
        x = self.embed(tokens)                        # embedding  [b, 4, 8]
        x = self.norm(x) + self.offset                # layer_norm, constant, add
        x = self.bn(x) - x * 0.5                      # channel_affine, scalar_affine, sub
        x = x / (self.offset + 2.0)                   # div
        x = torch.relu(x) * torch.sigmoid(x)          # activation, mul
        x = torch.cat([x, x[:, :1]], dim=1)           # slice, concat
        y = torch.matmul(x, x.transpose(1, 2))        # permute, matmul
        y = torch.log_softmax(y, dim=-1) + torch.softmax(y, dim=-1)
        z = self.pool(image) + self.maxpool(image)    # avg_pool2d, max_pool2d
        z = nn.functional.adaptive_avg_pool2d(z, 1).flatten(1)  # adaptive_avg_pool2d, reshape
        z = self.act(z).unsqueeze(1).expand(-1, 5, -1)  # ternary_activation, expand
        return y.mean(dim=-1, keepdim=True) * z.sum(dim=-1, keepdim=True)  # mean


def exported_graphs():
    graphs = {}
    torch.manual_seed(0)
    model = EveryOp().eval()
    graphs["every_op"], _ = build_graph(model, (torch.randint(0, 10, (2, 4)),
                                                torch.randn(2, 3, 8, 8)))
    for name, hyper, shape in [
            ("simple_mlp", {}, None), ("resnet18", {}, (3, 16, 16)),
            ("mobilenetv2", {"num_classes": 10}, (3, 32, 32)),
            ("vision_transformer", {"num_classes": 10, "image_size": 32, "patch_size": 8,
                                    "embed_dim": 32, "depth": 1, "num_heads": 2}, (3, 32, 32))]:
        model, shape = seed_models.build(seed_models.EXAMPLES / f"{name}.triton", shape=shape,
                                         **hyper)
        graphs[name], _ = build_graph(model, torch.randn(2, *shape))
    return graphs


def test_exported_op_counts_are_in_the_runtimes_ranges(triton_compiler):
    runtime = runtime_ops()
    seen = set()
    for model, graph in exported_graphs().items():
        for op in graph.ops:
            spec = runtime[_key(op.kind)]
            seen.add(op.kind)
            for field, count in (("inputs", len(op.inputs)), ("ints", len(op.ints)),
                                 ("floats", len(op.floats)), ("tensors", len(op.tensors))):
                low, high = spec[field]
                assert low <= count <= high, (
                    f"{model}: `{op.kind}` has {count} {field}; ops.def allows {low}..{high}")
    missing = sorted(set(OP) - seen)
    assert missing == [], f"no exported graph uses {missing}; extend EveryOp"

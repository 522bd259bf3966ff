"""Writes the loader fuzzer's seed corpus: tiny exported models that cover every op family.

Run from the repository root: `PYTHONPATH=python python runtime/fuzz/make_seeds.py`. The
seeds are small (a few KB) so the fuzzer mutates structure rather than weight bytes.
Output: tests/runtime/fuzz_corpus/fuzz_tpk_loader/*.tpk (checked in).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import seed_models

from triton_dsl import layers as L
from triton_dsl.export.packed import save_packed


def seeds() -> dict[str, tuple[nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    mlp = nn.Sequential(L.Flatten(), L.TernaryLinear(in_features=12, out_features=6),
                        L.BatchNorm1d(num_features=6), L.ReLU(),
                        L.TernaryLinear(in_features=6, out_features=3), L.Softmax(dim=-1))
    conv = nn.Sequential(
        L.TernaryConv2d(in_channels=2, out_channels=4, kernel_size=3, padding=1),
        L.BatchNorm2d(num_features=4), L.ReLU6(),
        L.TernaryConv2d(in_channels=4, out_channels=4, kernel_size=3, stride=2, groups=4),
        L.MaxPool2d(kernel_size=2), L.Conv2d(in_channels=4, out_channels=3, kernel_size=1),
        L.AdaptiveAvgPool2d(output_size=1), L.Flatten(), L.SiLU())
    vit = seed_models.module_for(seed_models.EXAMPLES / "vision_transformer.triton").Model(
        num_classes=3, image_size=8, patch_size=4, embed_dim=8, depth=1, num_heads=2,
        mlp_ratio=2)
    act = nn.Sequential(L.TernaryLinear(in_features=5, out_features=4),
                        L.TernaryActivation(method="ternary"), L.LayerNorm(normalized_shape=4),
                        L.GELU(), L.Linear(in_features=4, out_features=2), L.Tanh())
    # 8-bit activations (format version 2): one training-mode pass sets each input_amax.
    int8 = nn.Sequential(
        L.TernaryConv2d(in_channels=2, out_channels=4, kernel_size=3, padding=1,
                        activation_bits=8), L.ReLU(),
        L.Flatten(), L.TernaryLinear(in_features=4 * 5 * 5, out_features=3, activation_bits=8))
    int8(torch.randn(4, 2, 5, 5))
    return {
        "int8": (int8.eval(), torch.randn(2, 2, 5, 5)),
        "mlp": (seed_models.randomize_batch_norm(mlp), torch.randn(2, 3, 4)),
        "conv": (seed_models.randomize_batch_norm(conv), torch.randn(2, 2, 9, 9)),
        "vit": (vit.eval(), torch.randn(2, 3, 8, 8)),
        "act": (act.eval(), torch.randn(2, 5)),
        # Last, so the seeds above keep their bytes: shapes that take the AMX tile
        # convolutions where the CPU has them (an RGB stem unrolled, a 16-channel 3x3 read
        # tap by tap, stride 2 over phases, a 1x1).
        "tiles": (tile_convs(), torch.randn(2, 3, 6, 6)),
        # 8-bit handoffs: pointwise (ReLU6) -> depthwise -> pointwise, linear (GELU) -> linear.
        "int8_chain": (int8_chain(), torch.randn(2, 4, 6, 6)),
    }


def int8_chain() -> nn.Module:
    model = nn.Sequential(
        L.TernaryConv2d(in_channels=4, out_channels=8, kernel_size=1, activation_bits=8),
        L.ReLU6(),
        L.TernaryConv2d(in_channels=8, out_channels=8, kernel_size=3, stride=2, padding=1,
                        groups=8, activation_bits=8),
        L.TernaryConv2d(in_channels=8, out_channels=4, kernel_size=1, activation_bits=8),
        L.Flatten(), L.TernaryLinear(in_features=4 * 3 * 3, out_features=6, activation_bits=8),
        L.GELU(), L.TernaryLinear(in_features=6, out_features=3, activation_bits=8))
    model(torch.randn(4, 4, 6, 6))  # training mode: sets each input_amax
    return model.eval()


def tile_convs() -> nn.Module:
    return nn.Sequential(
        L.TernaryConv2d(in_channels=3, out_channels=16, kernel_size=3, padding=1), L.ReLU(),
        L.TernaryConv2d(in_channels=16, out_channels=16, kernel_size=3, padding=1),
        L.TernaryConv2d(in_channels=16, out_channels=32, kernel_size=3, stride=2, padding=1),
        L.ReLU6(), L.TernaryConv2d(in_channels=32, out_channels=16, kernel_size=1),
        L.Flatten(), L.TernaryLinear(in_features=16 * 3 * 3, out_features=4)).eval()


def main() -> None:
    out = ROOT / "tests" / "runtime" / "fuzz_corpus" / "fuzz_tpk_loader"
    out.mkdir(parents=True, exist_ok=True)
    for name, (model, example) in seeds().items():
        for bits in ("2", "1.6"):
            report = save_packed(model, out / f"{name}_{bits}.tpk", example_input=example,
                                 bits=bits)
            print(f"{report.path}: {report.packed_bytes} bytes, {report.ops} ops")


if __name__ == "__main__":
    main()

"""The GPU executor end to end: `.tpk` files from the exporter against eval-mode PyTorch.

Under Triton's CPU interpreter (`triton_interpreter` in conftest.py) the executor runs on
the CPU with the real kernels, so these tests check the whole path that runs on a GPU:
the reader, the weight repacking, kernel selection (GEMV for few rows, GEMM, implicit-GEMM
and depthwise convolution), the PyTorch glue ops and the attention rewrite. Float32
activations are held to the CPU engine's tolerance (1e-4 relative to the largest output);
bfloat16 activations to 1e-2. Models stay small: the interpreter runs kernels in Python.
The seed ViT is compiled from `examples/basic/vision_transformer.triton` (skipped when no
compiler is built); the CUDA-graph test runs only on a GPU. The full-size seed models are
checked by `benchmarks/gpu_bench.py` on a GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from triton_dsl import layers as L
from triton_dsl.export.packed import save_packed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import seed_models

TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 1e-2}


@pytest.fixture(scope="module")
def gpu(triton_interpreter):
    return triton_interpreter


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.float() - want).abs().max() / want.abs().max().clamp_min(1e-12))


class SmallConvNet(nn.Module):
    """Every convolution kind of the seed CNNs: a 3x3 stem with batch norm and relu, a
    strided depthwise 3x3 with relu6, a 1x1 with bias, a residual add, max pooling, global
    average pooling and a ternary classifier."""

    def __init__(self, activation_bits: int = 32) -> None:
        super().__init__()
        bits = {"activation_bits": activation_bits}
        self.stem = L.TernaryConv2d(3, 16, 3, padding=1, bias=False, **bits)
        self.bn = nn.BatchNorm2d(16)
        self.dw = L.TernaryConv2d(16, 16, 3, stride=2, padding=1, groups=16, bias=False,
                                  **bits)
        self.pw = L.TernaryConv2d(16, 16, 1, **bits)
        self.fc = L.TernaryLinear(16, 7, **bits)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = nn.functional.relu6(self.dw(x))
        x = self.pw(x) + x
        x = nn.functional.max_pool2d(x, 2)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def _export(model, shape, path, bits="2", batch=2) -> Path:
    save_packed(model, path, example_input=torch.randn(batch, *shape), bits=bits)
    return path


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_conv_net_matches_pytorch(gpu, tmp_path, dtype):
    model = seed_models.randomize_batch_norm(SmallConvNet())
    path = _export(model, (3, 12, 12), tmp_path / "net.tpk")
    executor = gpu.load(path, device="cpu", dtype=dtype)
    assert executor.kernel_ops == 4
    assert len(executor.steps) == len(executor.model.ops) - 1  # pw(x) + x: a fused residual
    x = torch.randn(3, 3, 12, 12)
    with torch.no_grad():
        want = model(x)
    got = executor.run(x.numpy())  # numpy in, tensor out
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert relative_error(got, want) < TOLERANCE[dtype]


def test_base3_file_gives_the_same_outputs(gpu, tmp_path):
    model = seed_models.randomize_batch_norm(SmallConvNet())
    x = torch.randn(1, 3, 12, 12)
    two = gpu.load(_export(model, (3, 12, 12), tmp_path / "t2.tpk"), device="cpu",
                   dtype=torch.float32).run(x)
    three = gpu.load(_export(model, (3, 12, 12), tmp_path / "t3.tpk", bits="1.6"),
                     device="cpu", dtype=torch.float32).run(x)
    torch.testing.assert_close(two, three, rtol=0, atol=0)


def test_int8_activation_layers_match_pytorch(gpu, tmp_path):
    """Layers trained with `activation_bits: 8` run on int8 (GEMM and convolution: int8
    tensor cores) with the stored scale, as the CPU engine does."""
    model = seed_models.calibrated(SmallConvNet(activation_bits=8), (3, 12, 12))
    model = seed_models.randomize_batch_norm(model)
    path = _export(model, (3, 12, 12), tmp_path / "int8.tpk")
    assert gpu.read(path).version == 2
    x = torch.randn(6, 3, 12, 12)
    with torch.no_grad():
        want = model(x)
    got = gpu.load(path, device="cpu", dtype=torch.float32).run(x)
    assert relative_error(got, want) < TOLERANCE[torch.float32]


VIT = {"num_classes": 10, "image_size": 16, "patch_size": 8, "embed_dim": 32, "depth": 1,
       "num_heads": 2, "mlp_ratio": 2}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_small_vit_matches_pytorch(gpu, triton_compiler, tmp_path, dtype):
    """The seed ViT (compiled from examples/basic) with small hyper-parameters: patch
    embedding as a strided convolution, layer norm, attention, GELU fused into the MLP."""
    model, shape = seed_models.build(seed_models.example_file("vision_transformer"),
                                     shape=(3, 16, 16), cache_dir=tmp_path, **VIT)
    path = _export(model, shape, tmp_path / "vit.tpk")
    executor = gpu.load(path, device="cpu", dtype=dtype)
    # per block, the attention core (permute, matmul, scale, softmax, matmul) became one
    # step and both residual adds moved into the epilogues of the linear layers before them
    assert len(executor.steps) == len(executor.model.ops) - 6 * VIT["depth"]
    x = torch.randn(2, *shape)
    with torch.no_grad():
        want = model(x)
    assert relative_error(executor.run(x), want) < TOLERANCE[dtype]


_CUDA_GRAPH_CHECK = """
import sys, torch
sys.path.insert(0, sys.argv[1])
from test_gpu_executor import SmallConvNet
import seed_models
from triton_dsl.export.packed import save_packed
import triton_dsl.gpu as gpu
model = seed_models.randomize_batch_norm(SmallConvNet())
save_packed(model, sys.argv[2], example_input=torch.randn(2, 3, 12, 12))
graphed = gpu.load(sys.argv[2])
eager = gpu.load(sys.argv[2], cuda_graphs=False)
for batch in (1, 8, 1):
    x = torch.randn(batch, 3, 12, 12, device="cuda")
    want = model(x.cpu()).cuda()
    a, b = graphed.run(x), eager.run(x)
    # the same kernels and configurations; split-K float atomics may reorder a sum
    assert ((a - b).abs().max() / b.abs().max()).item() < 1e-3, batch
    assert ((a - want).abs().max() / want.abs().max()).item() < 1e-2
print("ok")
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_replay_matches_eager(tmp_path):
    """Compiled kernels on the GPU, replayed from a CUDA graph per input shape."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(seed_models.REPO / "benchmarks"),
                                         env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", _CUDA_GRAPH_CHECK, str(Path(__file__).parent),
                             str(tmp_path / "net.tpk")], capture_output=True, text=True,
                            timeout=900, env=env, check=False)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]

"""The GPU engine's Triton kernels against PyTorch, on the CPU under Triton's interpreter.

Each kernel of `triton_dsl.gpu.kernels` runs on ragged shapes (M, N, K, channels and image
sizes that are no multiple of the blocks, which the interpreter configuration keeps at 16)
and is compared with the float32 PyTorch result of the dense weight `scale * code`: the
2-bit GEMV (one and several rows, split-K), the GEMM with float32, bfloat16 and int8
activations, the implicit-GEMM convolution (3x3 padded, strided 1x1, grouped, dilated) and
the depthwise convolution, each with a fused activation. The interpreter runs the kernels'
Python bodies, so the shapes stay small; the GPU test at the end repeats some on CUDA.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

RNG = np.random.default_rng(0)


def _codes(*shape) -> np.ndarray:
    return RNG.integers(-1, 2, size=shape).astype(np.int8)


def _act(y, code):
    return {0: y, 1: torch.relu(y), 2: y.clamp(0, 6), 3: F.gelu(y),
            5: F.silu(y)}[code]


@pytest.fixture(scope="module")
def gpu(triton_interpreter):
    return triton_interpreter


@pytest.mark.parametrize("m, n, k, act, split, unpack", [
    (1, 37, 45, 1, 2, 0), (2, 40, 100, 3, 3, 3), (1, 8, 300, 0, 2, 2), (1, 37, 45, 0, 1, 2),
    (3, 33, 181, 2, 3, 2), (1, 19, 16, 0, 1, 2), (1, 21, 70, 5, 2, 0),
    (1, 32, 64, 0, 2, 2), (2, 48, 128, 1, 1, 0), (1, 16, 256, 3, 4, 3),
    (1, 37, 300, 0, 2, 3), (2, 32, 512, 1, 2, 3), (1, 8, 45, 3, 1, 3)])
def test_gemv_matches_torch(gpu, m, n, k, act, split, unpack):
    """Every decoding (select 0, magic 2, fused 3), with and without split-K (ragged K
    slices); K = 181 and 300 reach all 16 weight positions of a word, K = 16 exactly one;
    the last three shapes are whole tiles (the unmasked `EVEN` specialization)."""
    from triton_dsl.gpu.kernels.gemv import SplitKWorkspace, gemv
    codes = _codes(n, k)
    words = torch.from_numpy(gpu.layout.pack_kmajor(codes))
    scale, bias = torch.rand(n) + 0.5, torch.randn(n)
    x = torch.randn(m, k)
    # Fused decoding is exact for 16-bit activations only (float32 ones take the magic
    # path): give it bfloat16 values, compared in float64.
    xs = [x.bfloat16(), x] if unpack == 3 else [x]
    for x in xs:
        want = _act(x.double() @ (torch.from_numpy(codes).double()
                                  * scale.double()[:, None]).T + bias.double(), act)
        workspace = SplitKWorkspace()
        for _ in range(2):  # the split-K workspace must come back zeroed for the next call
            got = gemv(x, words, scale, bias, n, k, act=act, workspace=workspace,
                       out_dtype=torch.float32,
                       config={"BLOCK_N": 16, "BLOCK_KW": 2, "SPLIT_K": split,
                               "UNPACK": unpack})
            torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-4)
    ws, counters = workspace.get(m, n, x.device)
    assert not ws.any() and not counters.any()


def test_gemv_int8_activations(gpu):
    from triton_dsl.gpu.kernels.gemv import gemv
    n, k, s = 21, 70, 0.03
    codes = _codes(n, k)
    q = torch.randint(-127, 128, (1, k), dtype=torch.int8)
    scale = torch.rand(n) + 0.5
    got = gemv(q, torch.from_numpy(gpu.layout.pack_kmajor(codes)), scale, None, n, k,
               ascale=s, out_dtype=torch.float32)
    exact = q.double() @ torch.from_numpy(codes).double().T
    torch.testing.assert_close(got.double(), exact * (s * scale.double()), rtol=1e-6,
                               atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int8])
def test_gemm_matches_torch(gpu, dtype):
    from triton_dsl.gpu.kernels.gemm import gemm
    m, n, k = 19, 37, 45
    codes = _codes(n, k)
    words = torch.from_numpy(gpu.layout.pack_kmajor(codes))
    scale, bias = torch.rand(n) + 0.5, torch.randn(n)
    w = torch.from_numpy(codes).float()
    if dtype == torch.int8:
        a = torch.randint(-127, 128, (m, k), dtype=torch.int8)
        ascale = torch.rand(m) * 0.1  # per token
        got = gemm(a, words, scale, bias, n, k, act=2, ascale=ascale, out_dtype=torch.float32)
        want = ((a.double() @ w.double().T) * ascale.double()[:, None] * scale.double()
                + bias.double()).clamp(0, 6).float()
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
        return
    a = torch.randn(m, k).to(dtype)
    got = gemm(a, words, scale, bias, n, k, act=2)
    want = (a.float() @ (w * scale[:, None]).T + bias).clamp(0, 6)
    assert got.dtype == dtype
    tol = ({"rtol": 1e-5, "atol": 1e-4} if dtype == torch.float32
           else {"rtol": 1e-2, "atol": 5e-2})
    torch.testing.assert_close(got.float(), want, **tol)


def test_gemm_split_k_and_residual(gpu):
    """Split-K (3 ragged K slices, a reused workspace) with a fused residual add + relu."""
    from triton_dsl.gpu.kernels.gemm import gemm
    from triton_dsl.gpu.kernels.gemv import SplitKWorkspace
    m, n, k = 20, 33, 150
    codes = _codes(n, k)
    words = torch.from_numpy(gpu.layout.pack_kmajor(codes))
    scale, bias = torch.rand(n) + 0.5, torch.randn(n)
    a, res = torch.randn(m, k), torch.randn(m, n)
    want = torch.relu(torch.relu(a @ (torch.from_numpy(codes).float() * scale[:, None]).T
                                 + bias) + res)
    workspace = SplitKWorkspace()
    config = {"BLOCK_M": 16, "BLOCK_N": 32, "BLOCK_KW": 2, "GROUP_M": 8, "SPLIT_K": 3}
    for _ in range(2):
        got = gemm(a, words, scale, bias, n, k, act=1, residual=res, residual_act=1,
                   workspace=workspace, config=config)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    for buffer in workspace._by_shape.values():
        assert not any(t.any() for t in buffer)


@pytest.mark.parametrize("nb, c, hw, o, k, stride, pad, dil, groups", [
    (2, 5, (7, 6), 19, 3, 1, 1, 1, 1),   # 3x3, padded, ragged channels
    (2, 7, (5, 5), 9, 1, 2, 0, 1, 1),    # strided 1x1
    (1, 6, (9, 8), 10, 3, 2, 1, 1, 2),   # grouped, strided
    (1, 3, (8, 8), 6, 2, 1, 0, 2, 1),    # dilated
])
def test_conv2d_matches_torch(gpu, nb, c, hw, o, k, stride, pad, dil, groups):
    from triton_dsl.gpu.kernels.conv import conv2d
    codes = _codes(o, c // groups, k, k)
    words = torch.from_numpy(gpu.layout.pack_kmajor(
        gpu.layout.conv_columns_to_hwc(codes.reshape(o, -1), c // groups, k, k)))
    scale, bias = torch.rand(o) + 0.5, torch.randn(o)
    x = torch.randn(nb, c, *hw).contiguous(memory_format=torch.channels_last)
    got = conv2d(x, words, scale, bias, o, (k, k), (stride, stride), (pad, pad), (dil, dil),
                 groups, act=1)
    w = torch.from_numpy(codes).float() * scale[:, None, None, None]
    want = torch.relu(F.conv2d(x, w, bias, stride, pad, dil, groups))
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_conv2d_split_k_and_residual(gpu):
    from triton_dsl.gpu.kernels.conv import conv2d
    from triton_dsl.gpu.kernels.gemv import SplitKWorkspace
    nb, c, o, groups = 1, 12, 8, 2
    codes = _codes(o, c // groups, 3, 3)
    words = torch.from_numpy(gpu.layout.pack_kmajor(
        gpu.layout.conv_columns_to_hwc(codes.reshape(o, -1), c // groups, 3, 3)))
    scale = torch.rand(o) + 0.5
    x = torch.randn(nb, c, 5, 4).contiguous(memory_format=torch.channels_last)
    res = torch.randn(nb, o, 5, 4)  # NCHW: the launcher makes it channels-last
    w = torch.from_numpy(codes).float() * scale[:, None, None, None]
    want = F.conv2d(x, w, None, 1, 1, 1, groups) + res
    workspace = SplitKWorkspace()
    config = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_KW": 1, "SPLIT_K": 2}
    for _ in range(2):
        got = conv2d(x, words, scale, None, o, (3, 3), padding=(1, 1), groups=groups,
                     residual=res, workspace=workspace, config=config)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_conv2d_int8_activations(gpu):
    from triton_dsl.gpu.kernels.conv import conv2d
    nb, c, o, s = 1, 9, 11, 0.05
    codes = _codes(o, c, 3, 3)
    words = torch.from_numpy(gpu.layout.pack_kmajor(
        gpu.layout.conv_columns_to_hwc(codes.reshape(o, -1), c, 3, 3)))
    scale = torch.rand(o) + 0.5
    q = torch.randint(-127, 128, (nb, c, 6, 5), dtype=torch.int8)
    got = conv2d(q, words, scale, None, o, (3, 3), padding=(1, 1), ascale=s,
                 out_dtype=torch.float32)
    exact = F.conv2d(q.double(), torch.from_numpy(codes).double(), padding=1)
    torch.testing.assert_close(got.double(), exact * (s * scale.double())[:, None, None],
                               rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("nb, c, hw, stride", [(2, 20, (7, 6), 1), (1, 17, (9, 8), 2)])
def test_depthwise_matches_torch(gpu, nb, c, hw, stride):
    from triton_dsl.gpu.kernels.depthwise import depthwise2d
    codes = _codes(c, 1, 3, 3)
    dw = torch.from_numpy(gpu.layout.depthwise_codes(codes.reshape(c, -1), 3, 3))
    scale, bias = torch.rand(c) + 0.5, torch.randn(c)
    x = torch.randn(nb, c, *hw).contiguous(memory_format=torch.channels_last)
    got = depthwise2d(x, dw, scale, bias, (3, 3), (stride, stride), (1, 1), act=2)
    w = torch.from_numpy(codes).float() * scale[:, None, None, None]
    want = F.conv2d(x, w, bias, stride, 1, 1, c).clamp(0, 6)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


_GPU_CHECK = """
import torch, numpy as np, torch.nn.functional as F
from triton_dsl.gpu import layout
from triton_dsl.gpu.kernels.gemv import gemv
from triton_dsl.gpu.kernels.gemm import gemm
from triton_dsl.gpu.kernels.conv import conv2d
rng = np.random.default_rng(0)
for m, n, k in [(1, 4096, 4096), (1, 768, 3072), (3, 3072, 768), (197, 2304, 768)]:
    codes = rng.integers(-1, 2, size=(n, k)).astype(np.int8)
    words = torch.from_numpy(layout.pack_kmajor(codes)).cuda()
    scale, bias = torch.rand(n, device="cuda") + 0.5, torch.randn(n, device="cuda")
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    w = torch.from_numpy(codes).cuda().float() * scale[:, None]
    want = x.float() @ w.T + bias
    fn = gemv if m <= 4 else gemm
    for _ in range(3):
        got = fn(x, words, scale, bias, n, k).float()
        err = ((got - want).abs().max() / want.abs().max()).item()
        assert err < 1e-2, (m, n, k, err)
codes = rng.integers(-1, 2, size=(64, 32, 3, 3)).astype(np.int8)
words = torch.from_numpy(layout.pack_kmajor(layout.conv_columns_to_hwc(
    codes.reshape(64, -1), 32, 3, 3))).cuda()
scale = torch.rand(64, device="cuda") + 0.5
x = torch.randn(4, 32, 17, 17, device="cuda", dtype=torch.bfloat16).contiguous(
    memory_format=torch.channels_last)
got = conv2d(x, words, scale, None, 64, (3, 3), (2, 2), (1, 1)).float()
want = F.conv2d(x.float(), torch.from_numpy(codes).cuda().float() * scale[:, None, None, None],
                stride=2, padding=1)
assert ((got - want).abs().max() / want.abs().max()).item() < 1e-2
print("ok")
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_kernels_compiled_on_the_gpu():
    """The compiled (not interpreted) kernels, in a fresh process so this session's
    interpreted definitions are not reused."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, "-c", _GPU_CHECK], capture_output=True,
                            text=True, timeout=900, env=env, check=False)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]

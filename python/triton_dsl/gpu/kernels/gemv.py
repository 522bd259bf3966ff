"""`gemv_t2bf16`: y = act((x @ W^T) * scale + bias) for a few rows x and 2-bit weights.

The batch-1 case of a ternary linear layer is bound by reading the weights, so the kernel
is written for bandwidth: program (n, k, m) reads a `[BLOCK_KW, BLOCK_N]` tile of K-major
words per step (`gpu/layout.py`: 128-byte coalesced rows), unpacks it in registers and
multiplies it with the matching `16 * BLOCK_KW` activations (from L1/L2), one weight of
each word per unrolled step on 2-d tiles. Three decodings are autotuned against each other
(`UNPACK`). `SELECT` picks `x`, `-x` or 0 per code, about six integer instructions per
weight, which made the kernel bound by the ALUs rather than by the bytes. `MAGIC` decodes a
weight where it lies with the float magic number: weight i of a word, masked in place
(`word & (3 << 2i)`), is OR-ed into the mantissa of 2^23 (`common.magic_weight`), so one
LOP3, one float subtraction and one FMA per weight; the float comes out scaled by 4^i, which
the activation it multiplies absorbs (`x * 4^-i`, exact, once per activation and shared by
the 4 columns a thread holds). Weights 11..15 sit above the mantissa and are shifted down
once per word. `FUSED` saves the subtraction: each weight is moved to bits 16..21 (five
shifts per word), where 2^23 is at most 128 times its unit, the FMA takes the raw magic
float, and the constant it adds (`(2^23 / unit + 1) * x`, the magic and the code's offset,
the same for every column) is subtracted once per word and row. Its products are exact for
16-bit and 8-bit activations only, so float32 activations take the `MAGIC` path.
The 2 bits per weight are the only bytes read per weight: the 8192 x 8192 layer is 16 MiB.

Split-K: with `SPLIT_K > 1` the K range is cut into `SPLIT_K` slices so a layer with few
output channels still puts enough CTAs in flight. Partial sums are `atomic_add`ed into a
float32 workspace; a per-tile counter tells the last program of a tile to arrive, which
swaps the sums out of the workspace (`atomic_xchg` with 0, leaving it zeroed for the next
call) and runs the epilogue. So a call is one kernel launch whatever the split, and needs
no memset: the workspace and counters are allocated zeroed once per layer and shape and
restore themselves. `SPLIT_K` is an autotuned choice per (M, N, K).

`magic` is `common.MAGIC_BITS`, passed at run time (see `common.magic_weight`).
x: `[M, K]` (bfloat16, float16 or float32, row stride `stride_xm`, unit column stride);
x may hold int8-quantized values q (exact integers) with `ascale` = their scale s, as for
a layer with 8-bit activations: y = (sum q w) * (s * scale) + bias.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from triton_dsl.gpu.kernels.common import (
    MAGIC_BITS,
    ZERO_WORD,
    activate,
    add,
    cdiv,
    magic_weight,
    split_arrive,
    split_collect,
)
from triton_dsl.gpu.kernels.configs import pick

SELECT, MAGIC, FUSED = 0, 2, 3  # the `UNPACK` choices (module comment)


def _config(bn, bkw, split, warps=4, stages=3, unpack=MAGIC):
    return triton.Config({"BLOCK_N": bn, "BLOCK_KW": bkw, "SPLIT_K": split,
                          "UNPACK": unpack}, num_warps=warps, num_stages=stages)


# (BLOCK_N, BLOCK_KW, SPLIT_K, warps). Select unpacking: the long word tiles (BLOCK_KW
# 64-128, 8 warps) were the fastest of 84 configurations swept on an H200 (4096 x 4096
# 9.0 us, 8192 x 8192 29.5 us, 3072 x 768 4.8 us, 768 x 3072 3.6 us per call replayed from
# a CUDA graph), bound by the integer ALUs; they stay as candidates. The magic-number
# unpackings want wide column blocks instead: a thread holds 4 consecutive columns of a word
# row (one 16-byte load), so each activation it loads, converts and scales serves 4 weights.
# 8192 x 8192 wants >= 256 CTAs; 768-column layers want split-K to fill the GPU.
_SELECT_SHAPES = ((32, 128, 1, 8), (16, 64, 1, 8), (32, 8, 2, 4))
_MAGIC_SHAPES = ((128, 4, 1, 4), (128, 8, 1, 4), (256, 4, 1, 8), (64, 8, 1, 4),
                 (64, 16, 1, 4), (128, 4, 2, 4), (64, 8, 2, 4), (128, 4, 4, 4),
                 (64, 4, 4, 4), (32, 16, 4, 4), (128, 2, 8, 4), (64, 2, 16, 4))
CONFIGS = pick(
    gpu=[_config(*c, unpack=SELECT) for c in _SELECT_SHAPES]
    + [_config(*c, unpack=u) for c in _MAGIC_SHAPES for u in (MAGIC, FUSED)],
    interpret=[_config(16, 4, 2, 1, 1)],
)


@triton.jit
def gemv_t2bf16_kernel(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ws_ptr, cnt_ptr, ascale,
                       magic, M, N, K, KWORDS, stride_xm, stride_ym,
                       HAS_BIAS: tl.constexpr, ACT: tl.constexpr, BLOCK_N: tl.constexpr,
                       BLOCK_KW: tl.constexpr, SPLIT_K: tl.constexpr, UNPACK: tl.constexpr,
                       EVEN: tl.constexpr):
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    m = tl.program_id(2)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n_ok = offs_n < N
    # Each split covers a whole number of word tiles.
    tiles = cdiv(KWORDS, BLOCK_KW)
    per_split = cdiv(tiles, SPLIT_K) * BLOCK_KW
    kw_lo = pid_k * per_split
    kw_hi = tl.minimum(kw_lo + per_split, KWORDS)
    acc = tl.full([BLOCK_KW, BLOCK_N], 0, tl.float32)
    x_row = x_ptr + m.to(tl.int64) * stride_xm
    for kw0 in range(kw_lo, kw_hi, BLOCK_KW):
        offs_kw = kw0 + tl.arange(0, BLOCK_KW)
        if EVEN:  # whole tiles, K a multiple of 16, N of BLOCK_N: no masks
            words = tl.load(w_ptr + offs_kw[:, None].to(tl.int64) * N + offs_n[None, :])
        else:
            words = tl.load(w_ptr + offs_kw[:, None].to(tl.int64) * N + offs_n[None, :],
                            mask=(offs_kw < kw_hi)[:, None] & n_ok[None, :], other=ZERO_WORD)
        if UNPACK == 3 and x_ptr.dtype.element_ty != tl.float32:  # FUSED (16-bit x)
            chain = tl.full([BLOCK_KW, BLOCK_N], 0, tl.float32)
            corr = tl.full([BLOCK_KW], 0, tl.float32)
            for i in tl.static_range(16):
                x = _load_x(x_row, offs_kw * 16 + i, K, EVEN)
                bit = 16 + 2 * ((i + 1) % 3)  # where weight i is decoded: bits 16..21
                if bit >= 2 * i:
                    moved = words << (bit - 2 * i)
                else:
                    moved = words >> (2 * i - bit)
                xs = x * (1.0 / (1 << bit))
                corr += xs * (8388608.0 + (1 << bit))  # the magic and the code offset, exact
                f = ((moved & (3 << bit)) | magic).to(tl.float32, bitcast=True)
                chain += f * xs[:, None]
            acc += chain - corr[:, None]
        elif UNPACK >= 2:  # MAGIC (and FUSED's for float32 x)
            high = words >> 22  # weights 11..15 in bits 0..9
            for i in tl.static_range(16):
                x = _load_x(x_row, offs_kw * 16 + i, K, EVEN)
                if i < 11:
                    w = magic_weight(words & (3 << (2 * i)), 1 << (2 * i), magic)
                    acc += w * (x * (1.0 / (1 << (2 * i))))[:, None]
                else:
                    w = magic_weight(high & (3 << (2 * (i - 11))), 1 << (2 * (i - 11)), magic)
                    acc += w * (x * (1.0 / (1 << (2 * (i - 11)))))[:, None]
        else:  # SELECT: 2-d tiles only, selects instead of int-to-float conversions
            for i in tl.static_range(16):
                x = _load_x(x_row, offs_kw * 16 + i, K, EVEN)
                code = (words >> (2 * i)) & 3
                acc += tl.where(code == 2, x[:, None], tl.where(code == 0, -x[:, None], 0.0))
    total = tl.reduce(acc, 0, add)  # [BLOCK_N]

    if SPLIT_K == 1:
        _epilogue(total, offs_n, n_ok, m, scale_ptr, bias_ptr, y_ptr, ascale, stride_ym,
                  HAS_BIAS, ACT)
    else:
        offs = m.to(tl.int64) * N + offs_n
        tile = m * tl.num_programs(0) + pid_n
        if split_arrive(total, ws_ptr, cnt_ptr, tile, offs, n_ok, SPLIT_K):
            total = split_collect(ws_ptr, cnt_ptr, tile, offs, n_ok)
            _epilogue(total, offs_n, n_ok, m, scale_ptr, bias_ptr, y_ptr, ascale, stride_ym,
                      HAS_BIAS, ACT)


@triton.jit
def _load_x(x_row, offs_k, K, EVEN: tl.constexpr):
    if EVEN:
        return tl.load(x_row + offs_k).to(tl.float32)
    return tl.load(x_row + offs_k, mask=offs_k < K, other=0.0).to(tl.float32)


@triton.jit
def _epilogue(total, offs_n, n_ok, m, scale_ptr, bias_ptr, y_ptr, ascale, stride_ym,
              HAS_BIAS: tl.constexpr, ACT: tl.constexpr):
    scale = tl.load(scale_ptr + offs_n, mask=n_ok, other=0.0)
    y = total * (ascale * scale)
    if HAS_BIAS:
        y += tl.load(bias_ptr + offs_n, mask=n_ok, other=0.0)
    y = activate(y, ACT)
    tl.store(y_ptr + m.to(tl.int64) * stride_ym + offs_n, y.to(y_ptr.dtype.element_ty),
             mask=n_ok)


def _even(args) -> bool:
    """True when no tile is ragged: every split-K slice is whole word tiles of real
    weights (K a multiple of 16) and N is whole column blocks; the kernel then loads
    without masks (fewer instructions per weight in a loop bound by them)."""
    tiles = args["KWORDS"] // args["BLOCK_KW"]
    return (args["K"] % 16 == 0 and args["KWORDS"] % args["BLOCK_KW"] == 0
            and tiles % args["SPLIT_K"] == 0 and args["N"] % args["BLOCK_N"] == 0)


gemv_t2bf16 = triton.autotune(configs=CONFIGS, key=["M", "N", "K"])(
    triton.heuristics({"EVEN": _even})(gemv_t2bf16_kernel))
gemv_t2bf16_fixed = triton.heuristics({"EVEN": _even})(gemv_t2bf16_kernel)


class SplitKWorkspace:
    """Zeroed float32 partial sums `[M, N]` and int32 tile counters, kept per (M, N) so
    that every call (and a CUDA graph replay) finds them zero (see the module comment)."""

    def __init__(self) -> None:
        self._by_shape: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def get(self, m: int, n: int, device, tiles: int | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """`tiles`: counters needed by the smallest blocks any config uses (default: the
        GEMV's, one row and 16 columns per tile)."""
        tiles = m * triton.cdiv(n, 16) if tiles is None else tiles
        key = (m, n, tiles, str(device))
        if key not in self._by_shape:
            self._by_shape[key] = (torch.zeros(m * n, dtype=torch.float32, device=device),
                                   torch.zeros(tiles, dtype=torch.int32, device=device))
        return self._by_shape[key]


def gemv(x: torch.Tensor, words: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
         n: int, k: int, *, act: int = 0, ascale: float = 1.0,
         out: torch.Tensor | None = None, workspace: SplitKWorkspace | None = None,
         out_dtype: torch.dtype | None = None, config: dict | None = None) -> torch.Tensor:
    """y[M, N] for x[M, K] (unit column stride) and K-major words `[ceil(K/16), N]`.
    `config` (BLOCK_N, BLOCK_KW, SPLIT_K, UNPACK) bypasses autotuning (tests)."""
    m = x.shape[0]
    if x.stride(1) != 1:
        x = x.contiguous()
    y = out if out is not None else torch.empty((m, n), dtype=out_dtype or x.dtype,
                                                device=x.device)
    workspace = workspace or SplitKWorkspace()
    ws, cnt = workspace.get(m, n, x.device)

    def grid(meta):
        return (triton.cdiv(n, meta["BLOCK_N"]), meta["SPLIT_K"], m)

    args = (x, words, scale, bias if bias is not None else scale, y, ws, cnt, float(ascale),
            MAGIC_BITS.value, m, n, k, words.shape[0], x.stride(0), y.stride(0))
    if config is None:
        gemv_t2bf16[grid](*args, HAS_BIAS=bias is not None, ACT=act)
    else:
        gemv_t2bf16_fixed[grid(config)](*args, HAS_BIAS=bias is not None, ACT=act, **config)
    return y

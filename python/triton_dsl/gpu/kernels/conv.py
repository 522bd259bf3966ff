"""`conv2d_t2bf16` / `conv2d_t2i8`: ternary convolution as an implicit GEMM over NHWC.

The GEMM is Y[M, O] = A[M, K] @ W^T with M = N * OH * OW output pixels and K = KH * KW *
C/groups in `(kh, kw, c)` order (`gpu/layout.py` reorders the `.tpk` columns to it), so a
K block is a run of consecutive channels of one input pixel: contiguous in NHWC. A is never
built: per K step, the program turns its K offsets into (tap row, tap column, channel)
(vectors of BLOCK_K, cheap) and its M offsets into (image, input row, input column)
(vectors of BLOCK_M), and gathers the `[BLOCK_M, BLOCK_K]` tile with zero padding by mask.
The weight tile is unpacked in registers as in `gemm.py`, and `tl.dot` runs on bfloat16
(float32 accumulators) or int8 (int32 accumulators, A quantized with the layer's scale).
Strides, padding and dilation are arguments; groups use grid axis 1 (input channels
`g * C/groups ...`, output channels `g * O/groups ...`). The output is written
`[N, OH, OW, O]`: a channels-last `[N, O, OH, OW]` tensor for the next op.
Few output pixels with a long K (batch 1, 4x4 pixels, K = 4608) split K over grid axis 2
(`SPLIT_K`, autotuned, reduced as in `gemv.py`), and a residual `add` can be fused into
the epilogue (`common.store_tile`). Depthwise convolutions have their own kernel
(`depthwise.py`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from triton_dsl.gpu.kernels.common import (
    ZERO_WORD,
    cdiv,
    split_arrive,
    split_collect,
    store_tile,
    unpack_t2,
    unpack_t2_float,
)
from triton_dsl.gpu.kernels.configs import interpreting, pick
from triton_dsl.gpu.kernels.gemv import SplitKWorkspace


def _config(bm, bn, bkw, warps, stages, split=1):
    return triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_KW": bkw, "SPLIT_K": split},
                         num_warps=warps, num_stages=stages)


CONFIGS = pick(
    gpu=[_config(*c) for c in (
        (128, 128, 4, 8, 3), (128, 64, 4, 4, 3), (64, 128, 4, 4, 3), (64, 64, 4, 4, 4),
        (32, 64, 4, 4, 4), (16, 64, 8, 4, 4), (128, 32, 4, 4, 4), (256, 64, 4, 8, 3),
        (64, 32, 2, 4, 4),
        # batch 1, late stages (4x4 pixels, K = 4608): split-K keeps the SMs busy
        (16, 64, 4, 4, 4, 4), (16, 64, 4, 4, 4, 8), (32, 64, 4, 4, 4, 4),
        (64, 64, 4, 4, 4, 2), (16, 32, 8, 4, 4, 8))],
    interpret=[_config(16, 16, 2, 1, 1)],
)
SPLIT_MAX_ROWS = 4096


def prune(configs, named_args, **kwargs):
    if named_args.get("split_ok"):
        return configs
    return [c for c in configs if c.kwargs.get("SPLIT_K", 1) == 1]


@triton.jit
def _conv_body(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale, res_ptr, ws_ptr, cnt_ptr,
               NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW,
               SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw,
               A_INT8: tl.constexpr, DOT_F32: tl.constexpr, HAS_BIAS: tl.constexpr,
               ACT: tl.constexpr, HAS_RES: tl.constexpr, RES_ACT: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_KW: tl.constexpr,
               SPLIT_K: tl.constexpr):
    BLOCK_K: tl.constexpr = 16 * BLOCK_KW
    pid = tl.program_id(0)
    g = tl.program_id(1)
    pid_k = tl.program_id(2)
    tiles_n = cdiv(OG, BLOCK_N)
    pid_m = pid // tiles_n
    pid_n = pid % tiles_n
    M = NB * OH * OW

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = offs_m < M
    img = offs_m // (OH * OW)
    pix = offs_m % (OH * OW)
    ih0 = (pix // OW) * SH - PH
    iw0 = (pix % OW) * SW - PW
    x_img = x_ptr + img.to(tl.int64) * sxn + (g * CG).to(tl.int64) * sxc

    local_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n_ok = local_n < OG
    offs_n = g * OG + local_n

    per_split = cdiv(cdiv(KWORDS, BLOCK_KW), SPLIT_K) * BLOCK_KW
    kw_lo = pid_k * per_split
    kw_hi = tl.minimum(kw_lo + per_split, KWORDS)
    if A_INT8:
        acc = tl.full([BLOCK_M, BLOCK_N], 0, tl.int32)
    else:
        acc = tl.full([BLOCK_M, BLOCK_N], 0, tl.float32)
    for kw0 in range(kw_lo, kw_hi, BLOCK_KW):
        offs_kw = kw0 + tl.arange(0, BLOCK_KW)
        words = tl.load(w_ptr + offs_kw[:, None].to(tl.int64) * O + offs_n[None, :],
                        mask=(offs_kw < kw_hi)[:, None] & n_ok[None, :], other=ZERO_WORD)
        # K offsets -> (tap row, tap column, channel), M offsets -> input pixel: vectors;
        # the [BLOCK_M, BLOCK_K] tile only adds them.
        offs_k = kw0 * 16 + tl.arange(0, BLOCK_K)
        tap = offs_k // CG
        c = offs_k % CG
        ih = ih0[:, None] + ((tap // KW) * DH)[None, :]
        iw = iw0[:, None] + ((tap % KW) * DW)[None, :]
        ok = (m_ok[:, None] & ((offs_k < K) & (offs_k < kw_hi * 16))[None, :] & (ih >= 0)
              & (ih < H) & (iw >= 0) & (iw < W))
        a = tl.load(x_img[:, None] + ih * sxh + iw * sxw + (c * sxc)[None, :], mask=ok,
                    other=0)
        if A_INT8:
            b = tl.reshape(unpack_t2(words), [BLOCK_K, BLOCK_N])
            acc += tl.dot(a, b.to(tl.int8), out_dtype=tl.int32)
        else:
            b = tl.reshape(unpack_t2_float(words), [BLOCK_K, BLOCK_N])
            if DOT_F32:
                acc = tl.dot(a.to(tl.float32), b, acc)
            elif a.dtype == tl.float32:
                acc = tl.dot(a, b, acc, input_precision="ieee")
            else:
                acc = tl.dot(a, b.to(a.dtype), acc)

    total = acc.to(tl.float32)
    if SPLIT_K == 1:
        store_tile(total, offs_m, offs_n, m_ok, n_ok, y_ptr, O, scale_ptr, bias_ptr, ascale,
                   res_ptr, O, HAS_BIAS, ACT, HAS_RES, RES_ACT)
    else:
        tile = g * tl.num_programs(0) + pid
        offs = offs_m[:, None].to(tl.int64) * O + offs_n[None, :]
        mask = m_ok[:, None] & n_ok[None, :]
        if split_arrive(total, ws_ptr, cnt_ptr, tile, offs, mask, SPLIT_K):
            total = split_collect(ws_ptr, cnt_ptr, tile, offs, mask)
            store_tile(total, offs_m, offs_n, m_ok, n_ok, y_ptr, O, scale_ptr, bias_ptr,
                       ascale, res_ptr, O, HAS_BIAS, ACT, HAS_RES, RES_ACT)


@triton.jit
def conv2d_t2bf16_kernel(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale, res_ptr, ws_ptr,
                         cnt_ptr, split_ok, NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW,
                         SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw,
                         DOT_F32: tl.constexpr, HAS_BIAS: tl.constexpr, ACT: tl.constexpr,
                         HAS_RES: tl.constexpr, RES_ACT: tl.constexpr, BLOCK_M: tl.constexpr,
                         BLOCK_N: tl.constexpr, BLOCK_KW: tl.constexpr, SPLIT_K: tl.constexpr):
    _conv_body(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale, res_ptr, ws_ptr, cnt_ptr,
               NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW, SH, SW, PH, PW, DH, DW,
               sxn, sxc, sxh, sxw, False, DOT_F32, HAS_BIAS, ACT, HAS_RES, RES_ACT,
               BLOCK_M, BLOCK_N, BLOCK_KW, SPLIT_K)


@triton.jit
def conv2d_t2i8_kernel(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale, res_ptr, ws_ptr,
                       cnt_ptr, split_ok, NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW,
                       SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw,
                       HAS_BIAS: tl.constexpr, ACT: tl.constexpr, HAS_RES: tl.constexpr,
                       RES_ACT: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                       BLOCK_KW: tl.constexpr, SPLIT_K: tl.constexpr):
    _conv_body(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale, res_ptr, ws_ptr, cnt_ptr,
               NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW, SH, SW, PH, PW, DH, DW,
               sxn, sxc, sxh, sxw, True, False, HAS_BIAS, ACT, HAS_RES, RES_ACT,
               BLOCK_M, BLOCK_N, BLOCK_KW, SPLIT_K)


_TUNE = {"configs": CONFIGS, "key": ["NB", "H", "W", "O", "CG", "KH", "KW", "SH"],
         "prune_configs_by": {"early_config_prune": prune}}
conv2d_t2bf16 = triton.autotune(**_TUNE)(conv2d_t2bf16_kernel)
conv2d_t2i8 = triton.autotune(**_TUNE)(conv2d_t2i8_kernel)


def out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv2d(x: torch.Tensor, words: torch.Tensor, scale: torch.Tensor,
           bias: torch.Tensor | None, out_channels: int, kernel: tuple[int, int],
           stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups: int = 1, *, act: int = 0,
           ascale: float = 1.0, residual: torch.Tensor | None = None, residual_act: int = 0,
           workspace: SplitKWorkspace | None = None, out_dtype: torch.dtype | None = None,
           config: dict | None = None) -> torch.Tensor:
    """A convolution of x `[N, C, H, W]` (any strides; channels-last reads coalesce) with
    K-major words of the `(kh, kw, c)`-ordered weight; returns a channels-last
    `[N, O, OH, OW]` tensor. An int8 x holds values quantized with scale `ascale`.
    `residual` (the output's shape) is added after the activation, then `residual_act`;
    `workspace` enables split-K for up to SPLIT_MAX_ROWS output pixels; `config` (the
    meta-parameters) bypasses autotuning (tests)."""
    nb, c, h, w = x.shape
    kh, kw = kernel
    oh = out_size(h, kh, stride[0], padding[0], dilation[0])
    ow = out_size(w, kw, stride[1], padding[1], dilation[1])
    cg, og = c // groups, out_channels // groups
    k = kh * kw * cg
    m = nb * oh * ow
    is_int8 = x.dtype == torch.int8
    y = torch.empty((nb, oh, ow, out_channels),
                    dtype=out_dtype or (torch.bfloat16 if is_int8 else x.dtype), device=x.device)
    if residual is not None:  # NHWC memory, as the output
        residual = residual.contiguous(memory_format=torch.channels_last)
    split_ok = workspace is not None and m <= SPLIT_MAX_ROWS
    if split_ok:
        ws, cnt = workspace.get(m, out_channels, x.device,
                                triton.cdiv(m, 16) * triton.cdiv(og, 16) * groups)
    else:
        ws, cnt = scale, scale  # never touched: SPLIT_K is 1
    sxn, sxc, sxh, sxw = x.stride()

    def grid(meta):
        return (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(og, meta["BLOCK_N"]), groups,
                meta["SPLIT_K"])

    args = (x, words, scale, bias if bias is not None else scale, y, float(ascale),
            residual if residual is not None else scale, ws, cnt, int(split_ok), nb, h, w,
            oh, ow, out_channels, cg, og, k, words.shape[0], kh, kw, stride[0], stride[1],
            padding[0], padding[1], dilation[0], dilation[1], sxn, sxc, sxh, sxw)
    flags = {"HAS_BIAS": bias is not None, "ACT": act, "HAS_RES": residual is not None,
             "RES_ACT": residual_act}
    if not is_int8:
        flags["DOT_F32"] = interpreting()
    if config is not None:
        kernel_fn = conv2d_t2i8_kernel if is_int8 else conv2d_t2bf16_kernel
        kernel_fn[grid(config)](*args, **flags, **config)
    else:
        (conv2d_t2i8 if is_int8 else conv2d_t2bf16)[grid](*args, **flags)
    return y.permute(0, 3, 1, 2)

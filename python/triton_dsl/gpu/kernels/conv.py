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
Depthwise convolutions have their own kernel (`depthwise.py`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from triton_dsl.gpu.kernels.common import activate, add, cdiv, unpack_t2
from triton_dsl.gpu.kernels.configs import interpreting, pick


def _config(bm, bn, bkw, warps, stages):
    return triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_KW": bkw}, num_warps=warps,
                         num_stages=stages)


CONFIGS = pick(
    gpu=[_config(*c) for c in (
        (128, 128, 4, 8, 3), (128, 64, 4, 4, 3), (64, 128, 4, 4, 3), (64, 64, 4, 4, 4),
        (32, 64, 4, 4, 4), (16, 64, 8, 4, 4), (128, 32, 4, 4, 4), (256, 64, 4, 8, 3),
        (64, 32, 2, 4, 4))],
    interpret=[_config(16, 16, 2, 1, 1)],
)


@triton.jit
def _conv_body(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale,
               NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW,
               SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw,
               A_INT8: tl.constexpr, DOT_F32: tl.constexpr, HAS_BIAS: tl.constexpr,
               ACT: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_KW: tl.constexpr):
    BLOCK_K: tl.constexpr = 16 * BLOCK_KW
    pid = tl.program_id(0)
    g = tl.program_id(1)
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

    if A_INT8:
        acc = tl.full([BLOCK_M, BLOCK_N], 0, tl.int32)
    else:
        acc = tl.full([BLOCK_M, BLOCK_N], 0, tl.float32)
    for kw0 in range(0, KWORDS, BLOCK_KW):
        offs_kw = kw0 + tl.arange(0, BLOCK_KW)
        words = tl.load(w_ptr + offs_kw[:, None].to(tl.int64) * O + offs_n[None, :],
                        mask=(offs_kw < KWORDS)[:, None] & n_ok[None, :], other=0)
        offs_k = kw0 * 16 + tl.arange(0, BLOCK_K)
        tap = offs_k // CG
        c = offs_k % CG
        ih = ih0[:, None] + ((tap // KW) * DH)[None, :]
        iw = iw0[:, None] + ((tap % KW) * DW)[None, :]
        ok = (m_ok[:, None] & (offs_k < K)[None, :] & (ih >= 0) & (ih < H) & (iw >= 0)
              & (iw < W))
        a = tl.load(x_img[:, None] + ih * sxh + iw * sxw + (c * sxc)[None, :], mask=ok,
                    other=0)
        b = tl.reshape(unpack_t2(words), [BLOCK_K, BLOCK_N])
        if A_INT8:
            acc += tl.dot(a, b.to(tl.int8), out_dtype=tl.int32)
        elif DOT_F32:
            acc = tl.dot(a.to(tl.float32), b.to(tl.float32), acc)
        elif a.dtype == tl.float32:
            acc = tl.dot(a, b.to(tl.float32), acc, input_precision="ieee")
        else:
            acc = tl.dot(a, b.to(tl.float32).to(a.dtype), acc)

    scale = tl.load(scale_ptr + offs_n, mask=n_ok, other=0.0)
    y = acc.to(tl.float32) * (ascale * scale)[None, :]
    if HAS_BIAS:
        y += tl.load(bias_ptr + offs_n, mask=n_ok, other=0.0)[None, :]
    y = activate(y, ACT)
    tl.store(y_ptr + offs_m[:, None].to(tl.int64) * O + offs_n[None, :],
             y.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.autotune(configs=CONFIGS, key=["NB", "H", "W", "O", "CG", "KH", "KW", "SH"])
@triton.jit
def conv2d_t2bf16(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale,
                  NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW,
                  SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw,
                  DOT_F32: tl.constexpr, HAS_BIAS: tl.constexpr, ACT: tl.constexpr,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_KW: tl.constexpr):
    _conv_body(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale, NB, H, W, OH, OW, O, CG, OG,
               K, KWORDS, KH, KW, SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw, False, DOT_F32,
               HAS_BIAS, ACT, BLOCK_M, BLOCK_N, BLOCK_KW)


@triton.autotune(configs=CONFIGS, key=["NB", "H", "W", "O", "CG", "KH", "KW", "SH"])
@triton.jit
def conv2d_t2i8(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale,
                NB, H, W, OH, OW, O, CG, OG, K, KWORDS, KH, KW,
                SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw,
                HAS_BIAS: tl.constexpr, ACT: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_KW: tl.constexpr):
    _conv_body(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale, NB, H, W, OH, OW, O, CG, OG,
               K, KWORDS, KH, KW, SH, SW, PH, PW, DH, DW, sxn, sxc, sxh, sxw, True, False,
               HAS_BIAS, ACT, BLOCK_M, BLOCK_N, BLOCK_KW)


def out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv2d(x: torch.Tensor, words: torch.Tensor, scale: torch.Tensor,
           bias: torch.Tensor | None, out_channels: int, kernel: tuple[int, int],
           stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups: int = 1, *, act: int = 0,
           ascale: float = 1.0, out_dtype: torch.dtype | None = None) -> torch.Tensor:
    """A convolution of x `[N, C, H, W]` (any strides; channels-last reads coalesce) with
    K-major words of the `(kh, kw, c)`-ordered weight; returns a channels-last
    `[N, O, OH, OW]` tensor. An int8 x holds values quantized with scale `ascale`."""
    nb, c, h, w = x.shape
    kh, kw = kernel
    oh = out_size(h, kh, stride[0], padding[0], dilation[0])
    ow = out_size(w, kw, stride[1], padding[1], dilation[1])
    cg, og = c // groups, out_channels // groups
    k = kh * kw * cg
    is_int8 = x.dtype == torch.int8
    y = torch.empty((nb, oh, ow, out_channels),
                    dtype=out_dtype or (torch.bfloat16 if is_int8 else x.dtype), device=x.device)
    sxn, sxc, sxh, sxw = x.stride()

    def grid(meta):
        return (triton.cdiv(nb * oh * ow, meta["BLOCK_M"]) * triton.cdiv(og, meta["BLOCK_N"]),
                groups)

    args = (x, words, scale, bias if bias is not None else scale, y, float(ascale), nb, h, w,
            oh, ow, out_channels, cg, og, k, words.shape[0], kh, kw, stride[0], stride[1],
            padding[0], padding[1], dilation[0], dilation[1], sxn, sxc, sxh, sxw)
    if is_int8:
        conv2d_t2i8[grid](*args, HAS_BIAS=bias is not None, ACT=act)
    else:
        conv2d_t2bf16[grid](*args, DOT_F32=interpreting(), HAS_BIAS=bias is not None, ACT=act)
    return y.permute(0, 3, 1, 2)

"""`depthwise_t2bf16`: a ternary depthwise convolution (groups = channels) over NHWC.

A depthwise layer has KH * KW weights per channel and no reduction over channels, so it is
no GEMM: each program owns `[BLOCK_P output pixels, BLOCK_C channels]`, walks the taps and
accumulates `x[pixel + tap, c] * code[tap, c]` in float32; with channels-last inputs every
load is a contiguous run of channels. The codes are int8 `[KH * KW, C]` (`gpu/layout.py`);
the epilogue applies `ascale * scale[c]`, the bias and the activation. For a layer with
8-bit activations x holds the quantized integers (exact in bfloat16) and `ascale` their
scale, so the sums are exact as in the CPU engine.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from triton_dsl.gpu.kernels.common import activate
from triton_dsl.gpu.kernels.configs import pick

CONFIGS = pick(
    gpu=[triton.Config({"BLOCK_P": p, "BLOCK_C": c}, num_warps=w) for p, c, w in (
        (32, 64, 4), (64, 64, 4), (16, 128, 4), (64, 32, 4), (128, 32, 4), (32, 128, 8))],
    interpret=[triton.Config({"BLOCK_P": 16, "BLOCK_C": 16}, num_warps=1)],
)


@triton.autotune(configs=CONFIGS, key=["NB", "H", "W", "C", "KH", "SH"])
@triton.jit
def depthwise_t2bf16(x_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale,
                     NB, H, W, C, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW,
                     sxn, sxc, sxh, sxw,
                     HAS_BIAS: tl.constexpr, ACT: tl.constexpr,
                     BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
    offs_p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    p_ok = offs_p < NB * OH * OW
    c_ok = offs_c < C
    img = offs_p // (OH * OW)
    pix = offs_p % (OH * OW)
    ih0 = (pix // OW) * SH - PH
    iw0 = (pix % OW) * SW - PW
    x_img = x_ptr + img.to(tl.int64) * sxn
    acc = tl.full([BLOCK_P, BLOCK_C], 0, tl.float32)
    for kh in range(KH):
        ih = ih0 + kh * DH
        row_ok = p_ok & (ih >= 0) & (ih < H)
        for kw in range(KW):
            iw = iw0 + kw * DW
            ok = row_ok & (iw >= 0) & (iw < W)
            x = tl.load(x_img[:, None] + (ih * sxh + iw * sxw)[:, None]
                        + (offs_c * sxc)[None, :], mask=ok[:, None] & c_ok[None, :], other=0.0)
            w = tl.load(w_ptr + (kh * KW + kw) * C + offs_c, mask=c_ok, other=0)
            acc += x.to(tl.float32) * w.to(tl.float32)[None, :]
    scale = tl.load(scale_ptr + offs_c, mask=c_ok, other=0.0)
    y = acc * (ascale * scale)[None, :]
    if HAS_BIAS:
        y += tl.load(bias_ptr + offs_c, mask=c_ok, other=0.0)[None, :]
    y = activate(y, ACT)
    tl.store(y_ptr + offs_p[:, None].to(tl.int64) * C + offs_c[None, :],
             y.to(y_ptr.dtype.element_ty), mask=p_ok[:, None] & c_ok[None, :])


def depthwise2d(x: torch.Tensor, codes: torch.Tensor, scale: torch.Tensor,
                bias: torch.Tensor | None, kernel: tuple[int, int], stride=(1, 1),
                padding=(0, 0), dilation=(1, 1), *, act: int = 0, ascale: float = 1.0,
                out_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Depthwise convolution of x `[N, C, H, W]` with int8 codes `[kh * kw, C]`; returns a
    channels-last `[N, C, OH, OW]` tensor."""
    from triton_dsl.gpu.kernels.conv import out_size
    nb, c, h, w = x.shape
    kh, kw = kernel
    oh = out_size(h, kh, stride[0], padding[0], dilation[0])
    ow = out_size(w, kw, stride[1], padding[1], dilation[1])
    y = torch.empty((nb, oh, ow, c), dtype=out_dtype or x.dtype, device=x.device)
    sxn, sxc, sxh, sxw = x.stride()

    def grid(meta):
        return (triton.cdiv(nb * oh * ow, meta["BLOCK_P"]), triton.cdiv(c, meta["BLOCK_C"]))

    depthwise_t2bf16[grid](x, codes, scale, bias if bias is not None else scale, y,
                           float(ascale), nb, h, w, c, oh, ow, kh, kw, stride[0], stride[1],
                           padding[0], padding[1], dilation[0], dilation[1],
                           sxn, sxc, sxh, sxw, HAS_BIAS=bias is not None, ACT=act)
    return y.permute(0, 3, 1, 2)

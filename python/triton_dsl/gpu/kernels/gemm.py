"""`gemm_t2bf16` and `gemm_t2i8`: Y = act((A @ W^T) * ascale * scale + bias) on tensor cores.

A tiled GEMM for the many-rows case (a batch, or the tokens of a transformer). Each program
computes a `[BLOCK_M, BLOCK_N]` output tile; per K step it loads a `[BLOCK_KW, BLOCK_N]`
tile of K-major 2-bit words (`gpu/layout.py`), unpacks it in registers to the
`[16 * BLOCK_KW, BLOCK_N]` B operand in A's type, and calls `tl.dot`:
- `gemm_t2bf16`: A in bfloat16 (or float16/float32), float32 accumulators;
- `gemm_t2i8`: A in int8 (activations quantized per token, or with a layer's stored 8-bit
  scale), B as int8 codes, int32 accumulators on the int8 tensor cores (exact sums), and a
  per-row activation scale `ascale[m]` (stride 0 for one scale per tensor) applied with
  the per-channel weight scale in the epilogue.
Both share one body; `A_INT8` selects the accumulator. Few rows with a long K (a batch-1
transformer: 197 x 768 x 3072) leave most SMs idle, so `SPLIT_K` slices K over grid axis 1
and reduces like `gemv.py` does (autotuned; only offered up to `SPLIT_MAX_ROWS` rows,
where the workspace stays small). A residual (`add` fused into the producer by the
executor) is added in the epilogue (`common.store_tile`). `DOT_F32` (set only under the
CPU interpreter, whose `tl.dot` mishandles bfloat16 operands) multiplies in float32
instead. The epilogue fuses the per-channel scale, the bias and the activation
(`common.activate`). Programs are ordered in groups of `GROUP_M` row tiles so neighbouring
programs share weight tiles in L2.
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
    return triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_KW": bkw, "GROUP_M": 8,
                          "SPLIT_K": split}, num_warps=warps, num_stages=stages)


CONFIGS = pick(
    gpu=[_config(*c) for c in (
        (128, 128, 4, 8, 3), (128, 64, 4, 4, 4), (64, 128, 4, 4, 4), (64, 64, 4, 4, 4),
        (128, 256, 4, 8, 3), (256, 128, 4, 8, 3), (32, 64, 8, 4, 4), (16, 64, 8, 4, 4),
        (64, 64, 8, 4, 3), (128, 128, 8, 8, 3),
        # few rows, long K (batch-1 transformers): split-K keeps the SMs busy
        (32, 64, 4, 4, 4, 2), (32, 64, 4, 4, 4, 4), (64, 64, 4, 4, 4, 2),
        (16, 64, 8, 4, 4, 4), (64, 128, 4, 4, 4, 3))],
    interpret=[_config(16, 32, 2, 1, 1)],
)
# Split-K needs a [M, N] float32 workspace: offered for at most this many rows.
SPLIT_MAX_ROWS = 4096


def prune(configs, named_args, **kwargs):
    """Split-K configurations only where the launcher gave a workspace."""
    if named_args.get("split_ok"):
        return configs
    return [c for c in configs if c.kwargs.get("SPLIT_K", 1) == 1]


@triton.jit
def _gemm_body(a_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale_ptr, res_ptr, ws_ptr, cnt_ptr,
               M, N, K, KWORDS, stride_am, stride_ym, stride_s, stride_rm,
               A_INT8: tl.constexpr, DOT_F32: tl.constexpr, HAS_BIAS: tl.constexpr,
               ACT: tl.constexpr, HAS_RES: tl.constexpr, RES_ACT: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_KW: tl.constexpr,
               GROUP_M: tl.constexpr, SPLIT_K: tl.constexpr):
    BLOCK_K: tl.constexpr = 16 * BLOCK_KW
    pid = tl.program_id(0)
    pid_k = tl.program_id(1)
    tiles_m = cdiv(M, BLOCK_M)
    tiles_n = cdiv(N, BLOCK_N)
    group = pid // (GROUP_M * tiles_n)
    first_m = group * GROUP_M
    size_m = tl.minimum(tiles_m - first_m, GROUP_M)
    pid_m = first_m + (pid % (GROUP_M * tiles_n)) % size_m
    pid_n = (pid % (GROUP_M * tiles_n)) // size_m

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    m_ok = offs_m < M
    n_ok = offs_n < N
    a_rows = a_ptr + offs_m[:, None].to(tl.int64) * stride_am
    per_split = cdiv(cdiv(KWORDS, BLOCK_KW), SPLIT_K) * BLOCK_KW
    kw_lo = pid_k * per_split
    kw_hi = tl.minimum(kw_lo + per_split, KWORDS)
    if A_INT8:
        acc = tl.full([BLOCK_M, BLOCK_N], 0, tl.int32)
    else:
        acc = tl.full([BLOCK_M, BLOCK_N], 0, tl.float32)
    for kw0 in range(kw_lo, kw_hi, BLOCK_KW):
        offs_kw = kw0 + tl.arange(0, BLOCK_KW)
        words = tl.load(w_ptr + offs_kw[:, None].to(tl.int64) * N + offs_n[None, :],
                        mask=(offs_kw < kw_hi)[:, None] & n_ok[None, :], other=ZERO_WORD)
        offs_k = kw0 * 16 + tl.arange(0, BLOCK_K)
        a = tl.load(a_rows + offs_k[None, :],
                    mask=m_ok[:, None] & ((offs_k < K) & (offs_k < kw_hi * 16))[None, :],
                    other=0)
        if A_INT8:
            b = tl.reshape(unpack_t2(words), [BLOCK_K, BLOCK_N]).to(tl.int8)
        else:
            b = tl.reshape(unpack_t2_float(words), [BLOCK_K, BLOCK_N])
            if DOT_F32:
                a = a.to(tl.float32)
            else:
                b = b.to(a.dtype)
        if A_INT8:
            acc += tl.dot(a, b, out_dtype=tl.int32)
        elif a.dtype == tl.float32:  # float32 activations: no TF32 rounding
            acc = tl.dot(a, b, acc, input_precision="ieee")
        else:
            acc = tl.dot(a, b, acc)

    ascale = tl.load(ascale_ptr + offs_m * stride_s, mask=m_ok, other=0.0)[:, None]
    total = acc.to(tl.float32)
    if SPLIT_K == 1:
        store_tile(total, offs_m, offs_n, m_ok, n_ok, y_ptr, stride_ym, scale_ptr, bias_ptr,
                   ascale, res_ptr, stride_rm, HAS_BIAS, ACT, HAS_RES, RES_ACT)
    else:
        offs = offs_m[:, None].to(tl.int64) * N + offs_n[None, :]
        mask = m_ok[:, None] & n_ok[None, :]
        if split_arrive(total, ws_ptr, cnt_ptr, pid, offs, mask, SPLIT_K):
            total = split_collect(ws_ptr, cnt_ptr, pid, offs, mask)
            store_tile(total, offs_m, offs_n, m_ok, n_ok, y_ptr, stride_ym, scale_ptr,
                       bias_ptr, ascale, res_ptr, stride_rm, HAS_BIAS, ACT, HAS_RES, RES_ACT)


@triton.jit
def gemm_t2bf16_kernel(a_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale_ptr, res_ptr, ws_ptr,
                       cnt_ptr, split_ok, M, N, K, KWORDS, stride_am, stride_ym, stride_s,
                       stride_rm, DOT_F32: tl.constexpr, HAS_BIAS: tl.constexpr,
                       ACT: tl.constexpr, HAS_RES: tl.constexpr, RES_ACT: tl.constexpr,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_KW: tl.constexpr,
                       GROUP_M: tl.constexpr, SPLIT_K: tl.constexpr):
    _gemm_body(a_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale_ptr, res_ptr, ws_ptr, cnt_ptr,
               M, N, K, KWORDS, stride_am, stride_ym, stride_s, stride_rm, False, DOT_F32,
               HAS_BIAS, ACT, HAS_RES, RES_ACT, BLOCK_M, BLOCK_N, BLOCK_KW, GROUP_M, SPLIT_K)


@triton.jit
def gemm_t2i8_kernel(a_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale_ptr, res_ptr, ws_ptr,
                     cnt_ptr, split_ok, M, N, K, KWORDS, stride_am, stride_ym, stride_s,
                     stride_rm, HAS_BIAS: tl.constexpr, ACT: tl.constexpr,
                     HAS_RES: tl.constexpr, RES_ACT: tl.constexpr, BLOCK_M: tl.constexpr,
                     BLOCK_N: tl.constexpr, BLOCK_KW: tl.constexpr, GROUP_M: tl.constexpr,
                     SPLIT_K: tl.constexpr):
    _gemm_body(a_ptr, w_ptr, scale_ptr, bias_ptr, y_ptr, ascale_ptr, res_ptr, ws_ptr, cnt_ptr,
               M, N, K, KWORDS, stride_am, stride_ym, stride_s, stride_rm, True, False,
               HAS_BIAS, ACT, HAS_RES, RES_ACT, BLOCK_M, BLOCK_N, BLOCK_KW, GROUP_M, SPLIT_K)


_TUNE = {"configs": CONFIGS, "key": ["M", "N", "K"],
         "prune_configs_by": {"early_config_prune": prune}}
gemm_t2bf16 = triton.autotune(**_TUNE)(gemm_t2bf16_kernel)
gemm_t2i8 = triton.autotune(**_TUNE)(gemm_t2i8_kernel)


_ONES: dict[str, torch.Tensor] = {}


def _ones(device) -> torch.Tensor:
    """A float32 one on `device`, made once (not inside every captured CUDA graph)."""
    key = str(device)
    if key not in _ONES:
        _ONES[key] = torch.ones(1, dtype=torch.float32, device=device)
    return _ONES[key]


def gemm(a: torch.Tensor, words: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
         n: int, k: int, *, act: int = 0, ascale: torch.Tensor | None = None,
         residual: torch.Tensor | None = None, residual_act: int = 0,
         workspace: SplitKWorkspace | None = None, out: torch.Tensor | None = None,
         out_dtype: torch.dtype | None = None, config: dict | None = None) -> torch.Tensor:
    """Y[M, N] for A[M, K] (unit column stride). An int8 A runs `gemm_t2i8` and needs
    `ascale` (`[M]` float32, or one element for a per-tensor scale); otherwise `ascale`
    defaults to 1. `residual` ([M, N], unit column stride) is added after the activation,
    then `residual_act` applied. `workspace` enables split-K for up to SPLIT_MAX_ROWS rows.
    `config` (the meta-parameters) bypasses autotuning (tests)."""
    m = a.shape[0]
    if a.stride(1) != 1:
        a = a.contiguous()
    is_int8 = a.dtype == torch.int8
    if out is None:
        out = torch.empty((m, n), dtype=out_dtype or (torch.bfloat16 if is_int8 else a.dtype),
                          device=a.device)
    if ascale is None:
        if is_int8:
            raise ValueError("an int8 GEMM needs the activations' scale")
        ascale = _ones(a.device)
    if residual is not None and residual.stride(-1) != 1:
        residual = residual.contiguous()
    split_ok = workspace is not None and m <= SPLIT_MAX_ROWS
    if split_ok:
        ws, cnt = workspace.get(m, n, a.device, triton.cdiv(m, 16) * triton.cdiv(n, 16))
    else:
        ws, cnt = scale, scale  # never touched: SPLIT_K is 1
    dummy = scale

    def grid(meta):
        return (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(n, meta["BLOCK_N"]),
                meta["SPLIT_K"])

    args = (a, words, scale, bias if bias is not None else dummy, out, ascale,
            residual if residual is not None else dummy, ws, cnt, int(split_ok), m, n, k,
            words.shape[0], a.stride(0), out.stride(0), 0 if ascale.numel() == 1 else 1,
            residual.stride(0) if residual is not None else 0)
    flags = {"HAS_BIAS": bias is not None, "ACT": act, "HAS_RES": residual is not None,
             "RES_ACT": residual_act}
    if not is_int8:
        flags["DOT_F32"] = interpreting()
    if config is not None:
        kernel = gemm_t2i8_kernel if is_int8 else gemm_t2bf16_kernel
        kernel[grid(config)](*args, **flags, **config)
    else:
        (gemm_t2i8 if is_int8 else gemm_t2bf16)[grid](*args, **flags)
    return out

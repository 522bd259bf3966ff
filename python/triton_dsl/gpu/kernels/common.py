"""Device functions shared by the GPU kernels: 2-bit unpacking and the fused activation.

`unpack_t2(words)` turns a `[BLOCK_KW, BLOCK_N]` tile of K-major words
(`gpu/layout.py`) into the int32 weights `[BLOCK_KW, 16, BLOCK_N]` in {-1, 0, +1} (offset
code c: weight = c - 1), for the int8 tensor-core path; `unpack_t2_float` gives the same
weights as exact float32 through the magic number 2^23 (`magic_weight`: shift-and-mask, OR,
one float subtraction, no int-to-float conversion), for the float paths. Callers merge the
two leading dimensions into a `[16 * BLOCK_KW, BLOCK_N]` operand. Masked word loads use
`other=ZERO_WORD` (sixteen zero weights): a zero word would decode to sixteen -1s. `activate(y, ACT)` applies an
activation given by its `.tpk` code (`ACT` in `export/packed_format.py`): 0 none, 1 relu,
2 relu6, 3 gelu (erf), 4 gelu (tanh), 5 silu, 6 sigmoid, 7 tanh, on float32 values.
`store_tile` is the GEMM and convolution epilogue: scales, bias, activation, an optional
residual (an `add` op fused into its producer) with the add's activation, the store.
`split_arrive` / `split_collect` are the split-K reduction (see `gemv.py`): partial tiles
are added atomically into a float32 workspace and the last program of a tile, told by a
per-tile counter, reads the sum and leaves the workspace and counter zeroed.

The kernels use only Triton builtins and the functions here, none of the `@triton.jit`
helpers of `triton.language.standard` (`tl.sum`, `tl.zeros`, `tl.cdiv`, `tl.sigmoid`):
Triton defines those when it is first imported, compiled or interpreted by the environment
of that moment, and the CPU interpreter cannot call compiled ones. So `add` is the
reduction's combiner (`tl.reduce(x, axis, add)` is `tl.sum`), `cdiv` and `sigmoid` are
written out.
"""

from __future__ import annotations

import triton
import triton.language as tl

ZERO_WORD: tl.constexpr = tl.constexpr(0x55555555)  # layout.ZERO_WORD
MAGIC_BITS: tl.constexpr = tl.constexpr(0x4B000000)  # the float 2^23


@triton.jit
def unpack_t2(words):
    shifts = 2 * tl.arange(0, 16)
    return ((words[:, None, :] >> shifts[None, :, None]) & 3) - 1


@triton.jit
def magic_weight(field, unit: tl.constexpr, magic=MAGIC_BITS):
    """`field`: int32 holding an offset code times `unit` (a power of 4 up to 4^10, i.e. the
    code still in place in its word, masked) and nothing else. Returns the weight times
    `unit` as float32, exactly: the float with bits 2^23 | field is 2^23 + c * unit.
    `magic` is MAGIC_BITS; a kernel passes it as a run-time argument so the compiler keeps
    it in a register and fuses the mask and the OR into one LOP3 (with both as immediates
    it emits two: the instruction takes one immediate)."""
    return (field | magic).to(tl.float32, bitcast=True) - (8388608.0 + unit)


@triton.jit
def unpack_t2_float(words):
    shifts = 2 * tl.arange(0, 16)
    return magic_weight((words[:, None, :] >> shifts[None, :, None]) & 3, 1)


@triton.jit
def add(a, b):
    return a + b


@triton.jit
def cdiv(a, b):
    return (a + b - 1) // b


@triton.jit
def sigmoid(y):
    return 1.0 / (1.0 + tl.exp(-y))


@triton.jit
def _tanh(y):
    return 2.0 * sigmoid(2.0 * y) - 1.0


@triton.jit
def activate(y, ACT: tl.constexpr):
    if ACT == 1:
        y = tl.maximum(y, 0.0)
    elif ACT == 2:
        y = tl.minimum(tl.maximum(y, 0.0), 6.0)
    elif ACT == 3:
        y = 0.5 * y * (1.0 + tl.math.erf(y * 0.7071067811865476))
    elif ACT == 4:
        y = 0.5 * y * (1.0 + _tanh(0.7978845608028654 * (y + 0.044715 * y * y * y)))
    elif ACT == 5:
        y = y * sigmoid(y)
    elif ACT == 6:
        y = sigmoid(y)
    elif ACT == 7:
        y = _tanh(y)
    return y


@triton.jit
def store_tile(acc, offs_m, offs_n, m_ok, n_ok, y_ptr, stride_ym, scale_ptr, bias_ptr,
               ascale, res_ptr, stride_rm, HAS_BIAS: tl.constexpr, ACT: tl.constexpr,
               HAS_RES: tl.constexpr, RES_ACT: tl.constexpr):
    """acc: float32 [BLOCK_M, BLOCK_N]; ascale: a scalar or a [BLOCK_M, 1] column."""
    scale = tl.load(scale_ptr + offs_n, mask=n_ok, other=0.0)
    y = acc * (ascale * scale[None, :])
    if HAS_BIAS:
        y += tl.load(bias_ptr + offs_n, mask=n_ok, other=0.0)[None, :]
    y = activate(y, ACT)
    mask = m_ok[:, None] & n_ok[None, :]
    rows = offs_m[:, None].to(tl.int64)
    if HAS_RES:
        y += tl.load(res_ptr + rows * stride_rm + offs_n[None, :], mask=mask,
                     other=0.0).to(tl.float32)
        y = activate(y, RES_ACT)
    tl.store(y_ptr + rows * stride_ym + offs_n[None, :], y.to(y_ptr.dtype.element_ty),
             mask=mask)


@triton.jit
def split_arrive(acc, ws_ptr, cnt_ptr, tile, offs, mask, SPLIT_K: tl.constexpr):
    """Adds this program's partial tile; true for the last program of the tile."""
    tl.atomic_add(ws_ptr + offs, acc, mask=mask)
    # Every thread's partial sums are issued before the tile's counter moves.
    tl.debug_barrier()
    return tl.atomic_add(cnt_ptr + tile, 1) == SPLIT_K - 1


@triton.jit
def split_collect(ws_ptr, cnt_ptr, tile, offs, mask):
    """The summed tile (an atomic read, at L2 where the adds landed), then the reset; the
    next call's adds come after this kernel ends."""
    zero = tl.full(offs.shape, 0, tl.float32)
    total = tl.atomic_add(ws_ptr + offs, zero, mask=mask)
    tl.store(ws_ptr + offs, zero, mask=mask)
    tl.store(cnt_ptr + tile, 0)
    return total

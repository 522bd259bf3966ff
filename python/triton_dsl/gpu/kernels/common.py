"""Device functions shared by the GPU kernels: 2-bit unpacking and the fused activation.

`unpack_t2(words, BLOCK_KW)` turns a `[BLOCK_KW, BLOCK_N]` tile of K-major words
(`gpu/layout.py`) into the int32 weights `[BLOCK_KW, 16, BLOCK_N]` in {-1, 0, +1} with two
shifts and two masks per weight (code c: weight = (c & 1) - (c >> 1)); callers merge the two
leading dimensions into a `[16 * BLOCK_KW, BLOCK_N]` operand. `activate(y, ACT)` applies an
activation given by its `.tpk` code (`ACT` in `export/packed_format.py`): 0 none, 1 relu,
2 relu6, 3 gelu (erf), 4 gelu (tanh), 5 silu, 6 sigmoid, 7 tanh, on float32 values.

The kernels use only Triton builtins and the functions here, none of the `@triton.jit`
helpers of `triton.language.standard` (`tl.sum`, `tl.zeros`, `tl.cdiv`, `tl.sigmoid`): Triton defines
those when it is first imported, compiled or interpreted by the environment of that moment,
and the CPU interpreter cannot call compiled ones. So `add` is the reduction's combiner
(`tl.reduce(x, axis, add)` is `tl.sum`), `cdiv` and `sigmoid` are written out.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def unpack_t2(words):
    shifts = 2 * tl.arange(0, 16)
    codes = (words[:, None, :] >> shifts[None, :, None]) & 3
    return (codes & 1) - (codes >> 1)


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

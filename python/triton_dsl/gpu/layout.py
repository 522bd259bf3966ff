"""The GPU layout of ternary weights: `.tpk` rows repacked into K-major 2-bit words.

A `.tpk` ternary tensor stores each output channel's K weights contiguously, 4 per byte
(`docs/packed-format.md`). On the GPU the kernels want the opposite: in one load, the 32
lanes of a warp should read the same K positions of 32 *consecutive output channels*, so
each load is one 128-byte transaction, and an unpacked tile should already be the
`[BLOCK_K, BLOCK_N]` B operand of `tl.dot`. So the codes are repacked at load time into
`words[K / 16, N]` (int32): word `(j, n)` holds the weights `(n, 16 j + i)` for i = 0..15,
weight i in bits `2 i, 2 i + 1`, as the offset code `w + 1` (00 = -1, 01 = 0, 10 = +1; 11
unused). K is padded with zero weights (code 01) to a multiple of 16, and `ZERO_WORD` is a
word of sixteen zero weights (what the kernels' masked loads return).

Why not the `.tpk` codes (00 = 0, 01 = +1, 10 = -1): they are not an affine function of the
weight, so decoding one costs two shifts, two masks and a subtraction, then an int-to-float
conversion (a quarter-rate instruction). The offset code decodes with the float "magic
number" trick instead: OR-ing a 2-bit field into the low mantissa bits of 2^23 gives the
float 2^23 + c exactly, and subtracting 2^23 + 1 leaves w. That is one shift-and-mask (a
single LOP3 where the field is already in place) and one float add per weight, no
conversion (`kernels/common.py`). A kernel loads a `[BLOCK_KW, BLOCK_N]` word
tile (coalesced along N), shifts it into `[BLOCK_KW, 16, BLOCK_N]` codes and merges the
two leading dimensions into `[16 * BLOCK_KW, BLOCK_N]`: no transpose in registers, and the
weights never exist unpacked in global memory. The bytes are the same 2 bits per weight as
the file.

Convolution weights are reordered first, from PyTorch's `(c, kh, kw)` column order to
`(kh, kw, c)`, so that consecutive K positions are consecutive channels of one NHWC pixel
(the implicit GEMM's contiguous loads). Depthwise weights (9 per channel) are kept as int8
codes `[kh * kw, C]`: they are a rounding error next to the activations they multiply.
"""

from __future__ import annotations

import numpy as np

WEIGHTS_PER_WORD = 16
ZERO_WORD = 0x55555555  # sixteen zero weights (code 01 each)


def t2_bits(codes: np.ndarray) -> np.ndarray:
    """The 2-bit offset code of each ternary weight: -1 -> 0, 0 -> 1, +1 -> 2."""
    return (np.asarray(codes, dtype=np.int8).astype(np.int32) + 1).astype(np.uint32)


def pack_kmajor(codes: np.ndarray) -> np.ndarray:
    """int8 codes `[N, K]` -> int32 words `[ceil(K / 16), N]` (layout above)."""
    codes = np.asarray(codes)
    n, k = codes.shape
    kw = -(-k // WEIGHTS_PER_WORD)
    padded = np.zeros((n, kw * WEIGHTS_PER_WORD), dtype=np.int8)
    padded[:, :k] = codes
    bits = t2_bits(padded).reshape(n, kw, WEIGHTS_PER_WORD)
    shifts = (2 * np.arange(WEIGHTS_PER_WORD, dtype=np.uint32))
    words = np.bitwise_or.reduce(bits << shifts, axis=2).astype(np.uint32)  # [N, KW]
    return np.ascontiguousarray(words.T).view(np.int32)


def unpack_kmajor(words: np.ndarray, k: int) -> np.ndarray:
    """Inverse of `pack_kmajor`: int8 codes `[N, K]` (for tests)."""
    words = np.asarray(words).view(np.uint32)
    shifts = (2 * np.arange(WEIGHTS_PER_WORD, dtype=np.uint32))
    bits = (words[:, None, :] >> shifts[None, :, None]) & 3  # [KW, 16, N]
    codes = bits.astype(np.int8) - 1
    return np.ascontiguousarray(codes.reshape(-1, words.shape[1]).T[:, :k])


def conv_columns_to_hwc(codes: np.ndarray, channels: int, kh: int, kw: int) -> np.ndarray:
    """Reorders conv weight columns from `(c, kh, kw)` to `(kh, kw, c)`."""
    o = codes.shape[0]
    return np.ascontiguousarray(
        codes.reshape(o, channels, kh, kw).transpose(0, 2, 3, 1).reshape(o, -1))


def depthwise_codes(codes: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """Depthwise codes `[C, kh * kw]` -> int8 `[kh * kw, C]` (tap-major, coalesced on C)."""
    return np.ascontiguousarray(np.asarray(codes, dtype=np.int8).reshape(-1, kh * kw).T)

"""Packs ternary weight matrices into the 2-bit and base-3 rows of the `.tpk` format.

This is the numpy side of `docs/packed-format.md`: `encode_t2`/`decode_t2` (4 weights per
byte, codes 00=0, 01=+1, 10=-1, first weight in the lowest bits) and `encode_t3`/`decode_t3`
(5 weights per byte as base-3 digits, first weight least significant). Rows are padded with
zero weights to whole blocks (16 weights for 2-bit, 20 for base-3). The native runtime
implements the same functions in C++; a test checks that both produce identical bytes.
"""

from __future__ import annotations

import numpy as np

T2_BLOCK_WEIGHTS = 16
T2_BLOCK_BYTES = 4
T3_BLOCK_WEIGHTS = 20
T3_BLOCK_BYTES = 4

_POW3 = np.array([1, 3, 9, 27, 81], dtype=np.int32)


def t2_row_bytes(cols: int) -> int:
    """Bytes of one 2-bit packed row of `cols` weights (padded to whole blocks)."""
    return -(-cols // T2_BLOCK_WEIGHTS) * T2_BLOCK_BYTES


def t3_row_bytes(cols: int) -> int:
    """Bytes of one base-3 packed row of `cols` weights (padded to whole blocks)."""
    return -(-cols // T3_BLOCK_WEIGHTS) * T3_BLOCK_BYTES


def _check_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"ternary codes must be a 2-D [rows, cols] array, got {codes.ndim}-D")
    if codes.size and (codes.min() < -1 or codes.max() > 1):
        raise ValueError("ternary codes must be in {-1, 0, 1}")
    return codes.astype(np.int8, copy=False)


def _pad_cols(codes: np.ndarray, multiple: int) -> np.ndarray:
    rows, cols = codes.shape
    padded = -(-cols // multiple) * multiple
    if padded == cols:
        return codes
    out = np.zeros((rows, padded), dtype=np.int8)
    out[:, :cols] = codes
    return out


def encode_t2(codes: np.ndarray) -> np.ndarray:
    """Packs int codes in {-1,0,1} of shape [rows, cols] into uint8 [rows, t2_row_bytes]."""
    codes = _pad_cols(_check_codes(codes), T2_BLOCK_WEIGHTS)
    # 0 -> 00, +1 -> 01, -1 -> 10: the code is (w & 3) with -1 mapped to 2 instead of 3.
    bits = np.where(codes < 0, 2, codes).astype(np.uint8)
    quads = bits.reshape(codes.shape[0], -1, 4)
    return (quads[..., 0] | (quads[..., 1] << 2) | (quads[..., 2] << 4)
            | (quads[..., 3] << 6)).astype(np.uint8)


def decode_t2(packed: np.ndarray, cols: int) -> np.ndarray:
    """Inverse of `encode_t2`: int8 codes [rows, cols]; raises on the invalid code 11."""
    packed = np.asarray(packed, dtype=np.uint8)
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8)
    bits = (packed[..., None] >> shifts) & 3
    if (bits == 3).any():
        raise ValueError("invalid 2-bit ternary code 11")
    codes = np.where(bits == 2, np.int8(-1), bits.astype(np.int8)).reshape(packed.shape[0], -1)
    return codes[:, :cols]


def encode_t3(codes: np.ndarray) -> np.ndarray:
    """Packs int codes in {-1,0,1} of shape [rows, cols] into uint8 [rows, t3_row_bytes]."""
    codes = _pad_cols(_check_codes(codes), T3_BLOCK_WEIGHTS)
    digits = (codes.astype(np.int32) + 1).reshape(codes.shape[0], -1, 5)
    return (digits @ _POW3).astype(np.uint8)


def decode_t3(packed: np.ndarray, cols: int) -> np.ndarray:
    """Inverse of `encode_t3`: int8 codes [rows, cols]; raises on bytes above 242."""
    packed = np.asarray(packed, dtype=np.uint8)
    if (packed > 242).any():
        raise ValueError("invalid base-3 ternary byte (> 242)")
    digits = (packed[..., None].astype(np.int32) // _POW3) % 3
    codes = (digits - 1).astype(np.int8).reshape(packed.shape[0], -1)
    return codes[:, :cols]


def encode(codes: np.ndarray, bits: str) -> np.ndarray:
    """Packs codes with the format named by `bits`: "2" (2-bit) or "1.6" (base-3)."""
    if bits == "2":
        return encode_t2(codes)
    if bits == "1.6":
        return encode_t3(codes)
    raise ValueError(f'bits must be "2" or "1.6", got {bits!r}')


def ternary_payload(codes: np.ndarray, scales: np.ndarray, bits: str) -> bytes:
    """The bytes of one ternary tensor in a `.tpk` file: packed rows, then float32 scales."""
    codes = _check_codes(codes)
    scales = np.asarray(scales, dtype="<f4").reshape(-1)
    if scales.shape[0] != codes.shape[0]:
        raise ValueError(f"expected {codes.shape[0]} scales (one per row), got {scales.shape[0]}")
    return encode(codes, bits).tobytes() + scales.tobytes()

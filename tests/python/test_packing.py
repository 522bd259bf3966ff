"""Round trips of the numpy packers in `triton_dsl.packing` (docs/packed-format.md).

The byte-level examples pin the documented bit layout (first weight in the lowest bits /
least significant base-3 digit), so a change of layout fails here and not only in parity
with the C++ side (`test_native_packing.py`).
"""

import numpy as np
import pytest

from triton_dsl import packing


def test_t2_layout_matches_the_spec():
    codes = np.array([[1, -1, 0, 1] + [0] * 12], dtype=np.int8)
    packed = packing.encode_t2(codes)
    assert packed.shape == (1, 4)
    assert packed[0, 0] == 0b01_00_10_01
    assert (packed[0, 1:] == 0).all()


def test_t3_layout_matches_the_spec():
    codes = np.array([[1, -1, 0, 0, 1]], dtype=np.int8)
    packed = packing.encode_t3(codes)
    assert packed.shape == (1, 4)
    assert packed[0, 0] == 2 * 1 + 0 * 3 + 1 * 9 + 1 * 27 + 2 * 81
    # padding weights are zeros, i.e. digit 1 everywhere: 1 + 3 + 9 + 27 + 81
    assert (packed[0, 1:] == 121).all()


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 15), (4, 16), (5, 17), (7, 20), (2, 784),
                                       (9, 101)])
@pytest.mark.parametrize("bits", ["2", "1.6"])
def test_round_trip(rows, cols, bits):
    rng = np.random.default_rng(rows * 1000 + cols)
    codes = rng.integers(-1, 2, size=(rows, cols)).astype(np.int8)
    packed = packing.encode(codes, bits)
    row_bytes = packing.t2_row_bytes(cols) if bits == "2" else packing.t3_row_bytes(cols)
    assert packed.shape == (rows, row_bytes)
    decode = packing.decode_t2 if bits == "2" else packing.decode_t3
    np.testing.assert_array_equal(decode(packed, cols), codes)


def test_invalid_codes_are_rejected():
    with pytest.raises(ValueError, match="11"):
        packing.decode_t2(np.array([[0b11]], dtype=np.uint8), 1)
    with pytest.raises(ValueError, match="242"):
        packing.decode_t3(np.array([[243]], dtype=np.uint8), 1)
    with pytest.raises(ValueError):
        packing.encode_t2(np.array([[2]]))


def test_sizes():
    assert packing.t2_row_bytes(784) == 196
    assert packing.t3_row_bytes(784) == 160
    payload = packing.ternary_payload(np.zeros((3, 16), np.int8), np.ones(3), "2")
    assert len(payload) == 3 * 4 + 3 * 4

"""The C++ packers (through `triton_dsl._native`) and the numpy packers
(`triton_dsl.packing`) must produce identical bytes and decode each other's output."""

import numpy as np
import pytest

from triton_dsl import packing

native = pytest.importorskip("triton_dsl._native")


@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 15), (3, 16), (4, 17), (5, 20), (6, 21),
                                       (3, 784), (8, 4609)])
def test_identical_bytes_both_ways(rows, cols):
    rng = np.random.default_rng(rows * 7919 + cols)
    codes = rng.integers(-1, 2, size=(rows, cols)).astype(np.int8)
    for encode_py, encode_cpp, decode_py, decode_cpp in [
            (packing.encode_t2, native.encode_t2, packing.decode_t2, native.decode_t2),
            (packing.encode_t3, native.encode_t3, packing.decode_t3, native.decode_t3)]:
        py_bytes = encode_py(codes).tobytes()
        cpp_bytes = encode_cpp(codes)
        assert py_bytes == cpp_bytes
        np.testing.assert_array_equal(decode_cpp(py_bytes, rows, cols), codes)
        packed = np.frombuffer(cpp_bytes, dtype=np.uint8).reshape(rows, -1)
        np.testing.assert_array_equal(decode_py(packed, cols), codes)


def test_native_decoders_reject_invalid_bytes():
    with pytest.raises(ValueError, match="11"):
        native.decode_t2(bytes([0xFF, 0, 0, 0]), 1, 16)
    with pytest.raises(ValueError, match="243"):
        native.decode_t3(bytes([243, 121, 121, 121]), 1, 20)

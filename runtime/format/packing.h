// Encode and decode of packed ternary rows (2-bit and base-3), the C++ twin of
// python/triton_dsl/packing.py. The exporter packs in Python and the runtime unpacks in
// C++; tests check both sides produce identical bytes and round-trip bit-exactly.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "format/status.h"

namespace triton_rt::format {

// codes: rows x cols values in {-1, 0, 1}, row-major. Rows are zero-padded to whole blocks.
std::vector<std::uint8_t> encode_t2(std::span<const std::int8_t> codes, std::int64_t rows,
                                    std::int64_t cols);
std::vector<std::uint8_t> encode_t3(std::span<const std::int8_t> codes, std::int64_t rows,
                                    std::int64_t cols);

// Inverse of the encoders; fails on the invalid 2-bit code 11 or a base-3 byte above 242,
// and when `packed` is not rows x row_bytes long.
Expected<std::vector<std::int8_t>> decode_t2(std::span<const std::uint8_t> packed,
                                             std::int64_t rows, std::int64_t cols);
Expected<std::vector<std::int8_t>> decode_t3(std::span<const std::uint8_t> packed,
                                             std::int64_t rows, std::int64_t cols);

// The code of weight `i` of a 2-bit row: 0 -> 0, 1 -> +1, 2 -> -1 (3 is rejected at load).
inline int t2_code(const std::uint8_t* row, std::int64_t i) {
  const int bits = (row[i >> 2] >> (2 * (i & 3))) & 3;
  return bits == 2 ? -1 : bits;
}

}  // namespace triton_rt::format

// Scalar encode/decode of packed ternary rows; see packing.h and docs/packed-format.md.
#include "format/packing.h"

#include <string>

#include "format/layout.h"

namespace triton_rt::format {
namespace {

std::uint8_t t2_bits(std::int8_t w) { return w < 0 ? 2 : static_cast<std::uint8_t>(w); }

}  // namespace

std::vector<std::uint8_t> encode_t2(std::span<const std::int8_t> codes, std::int64_t rows,
                                    std::int64_t cols) {
  const std::uint64_t row_bytes = t2_row_bytes(cols);
  std::vector<std::uint8_t> out(rows * row_bytes, 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::uint8_t* row = out.data() + r * row_bytes;
    for (std::int64_t c = 0; c < cols; ++c) {
      row[c >> 2] |= static_cast<std::uint8_t>(t2_bits(codes[r * cols + c]) << (2 * (c & 3)));
    }
  }
  return out;
}

std::vector<std::uint8_t> encode_t3(std::span<const std::int8_t> codes, std::int64_t rows,
                                    std::int64_t cols) {
  const std::uint64_t row_bytes = t3_row_bytes(cols);
  std::vector<std::uint8_t> out(rows * row_bytes, 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::uint64_t b = 0; b < row_bytes; ++b) {
      int value = 0;
      for (int i = 4; i >= 0; --i) {  // Horner: the first weight is the least significant
        const std::int64_t c = static_cast<std::int64_t>(b) * 5 + i;
        const int digit = c < cols ? codes[r * cols + c] + 1 : 1;
        value = value * 3 + digit;
      }
      out[r * row_bytes + b] = static_cast<std::uint8_t>(value);
    }
  }
  return out;
}

Expected<std::vector<std::int8_t>> decode_t2(std::span<const std::uint8_t> packed,
                                             std::int64_t rows, std::int64_t cols) {
  const std::uint64_t row_bytes = t2_row_bytes(cols);
  if (packed.size() != rows * row_bytes) {
    return Status::error("2-bit data has " + std::to_string(packed.size()) +
                         " bytes, expected " + std::to_string(rows * row_bytes));
  }
  std::vector<std::int8_t> codes(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::uint8_t* row = packed.data() + r * row_bytes;
    for (std::uint64_t i = 0; i < row_bytes * 4; ++i) {
      if (((row[i >> 2] >> (2 * (i & 3))) & 3) == 3) {
        return Status::error("invalid 2-bit ternary code 11 in row " + std::to_string(r));
      }
    }
    for (std::int64_t c = 0; c < cols; ++c) {
      codes[r * cols + c] = static_cast<std::int8_t>(t2_code(row, c));
    }
  }
  return codes;
}

Expected<std::vector<std::int8_t>> decode_t3(std::span<const std::uint8_t> packed,
                                             std::int64_t rows, std::int64_t cols) {
  const std::uint64_t row_bytes = t3_row_bytes(cols);
  if (packed.size() != rows * row_bytes) {
    return Status::error("base-3 data has " + std::to_string(packed.size()) +
                         " bytes, expected " + std::to_string(rows * row_bytes));
  }
  std::vector<std::int8_t> codes(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::uint64_t b = 0; b < row_bytes; ++b) {
      int value = packed[r * row_bytes + b];
      if (value > 242) {
        return Status::error("invalid base-3 ternary byte " + std::to_string(value) +
                             " in row " + std::to_string(r));
      }
      for (int i = 0; i < 5; ++i, value /= 3) {
        const std::int64_t c = static_cast<std::int64_t>(b) * 5 + i;
        if (c < cols) codes[r * cols + c] = static_cast<std::int8_t>(value % 3 - 1);
      }
    }
  }
  return codes;
}

}  // namespace triton_rt::format

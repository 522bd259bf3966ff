// The executor's activation tensor: a shape and contiguous row-major float32 data.
// Activations are float32 between ops, except where an op with 8-bit activations hands its
// output straight to the next such op (engine.h, Int8Handoff): then `q8` holds it as 8-bit
// images in that op's layout and `data` is empty.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/status.h"

namespace triton_rt {

struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
  // 8-bit images (kernels/ternary_int8.h), one per batch entry, for the one op that reads
  // this value; empty for float tensors.
  std::vector<std::uint8_t> q8;

  Tensor() = default;
  explicit Tensor(std::vector<std::int64_t> s) : shape(std::move(s)), data(numel_of(shape)) {}

  std::int64_t numel() const { return numel_of(shape); }
  std::int64_t dim(int i) const { return shape[i < 0 ? i + shape.size() : i]; }
  int rank() const { return static_cast<int>(shape.size()); }

  // The element count, or -1 when a dimension is negative or the count overflows int64
  // (shapes can come from files and callers; -1 never equals a buffer's size).
  static std::int64_t numel_of(const std::vector<std::int64_t>& s) {
    std::int64_t n = 1;
    for (std::int64_t d : s) {
      if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
    }
    return n;
  }
};

std::string shape_string(const std::vector<std::int64_t>& shape);

// Sizes the output of an op: fails, instead of overflowing or allocating without bound,
// when a dimension is negative or the element count exceeds `limit` (hostile files can ask
// for any shape).
Status allocate(Tensor& out, std::vector<std::int64_t> shape, std::int64_t limit);

// The same without zeroing: the output keeps what its (reused) buffer held, so only ops that
// write every element use it. Zeroing a batch-32 feature map is a serial memset of
// megabytes per op, as long as the parallel op that then overwrites it.
Status allocate_output(Tensor& out, std::vector<std::int64_t> shape, std::int64_t limit);

}  // namespace triton_rt

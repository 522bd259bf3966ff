// The write-back of one 8-bit-activation output, written once for the scalar reference and
// the SIMD variants' ragged edges: the definition of Int8Output (ternary_int8.h).
//
// Included by the kernel files, which are compiled with different ISA flags: everything here
// has internal linkage, so no translation unit can end up calling another's AVX2 copy. The
// kernel files are compiled with -ffp-contract=off, so `acc * factor + bias` is a multiply
// and an add (as in the SIMD write-back) and never a fused multiply-add.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/gelu.h"
#include "kernels/ternary_int8.h"

namespace triton_rt::kernels {
namespace {

// clamp(round_half_to_even(x / scale), -127, 127) + 128. Written as the SIMD max/min
// instructions behave: a NaN compares false and becomes the lower bound, and the rounding
// only ever sees a value in [-127, 127].
[[maybe_unused]] inline std::uint8_t quantize_one(float x, float scale) {
  float v = x / scale;
  v = v > -kInt8Max ? v : -kInt8Max;
  v = v < kInt8Max ? v : kInt8Max;
  return static_cast<std::uint8_t>(static_cast<int>(std::nearbyint(v)) + 128);  // ties to even
}

[[maybe_unused]] inline float finish_one(const Int8Output& out, std::int32_t acc, float factor,
                                         float bias) {
  float y = static_cast<float>(acc) * factor + bias;
  if (out.clamp) {
    y = y > out.lo ? y : out.lo;
    y = y < out.hi ? y : out.hi;
  } else if (out.gelu) {
    y = gelu_erf(y);
  }
  return y;
}

// Writes output channel o at position pos (outputs per row: out_w).
[[maybe_unused]] inline void write_output(const Int8Output& out, std::int64_t o, std::int64_t pos,
                                          std::int64_t out_w, std::int32_t acc, float factor,
                                          float bias) {
  float y = finish_one(out, acc, factor, bias);
  if (out.q != nullptr) {
    out.q[out.q_layout.offset(pos / out_w, pos % out_w) + o] = quantize_one(y, out.q_scale);
    return;
  }
  const std::int64_t i = o * out.channel_stride + pos * out.position_stride;
  if (out.residual != nullptr) {
    y = y + out.residual[i];
    if (out.residual_clamp) {
      y = y > out.residual_lo ? y : out.residual_lo;
      y = y < out.residual_hi ? y : out.residual_hi;
    }
  }
  out.y[i] = y;
}

}  // namespace
}  // namespace triton_rt::kernels

// The scalar reference depthwise kernel, the padding helper of the SIMD variants, and the
// run-time choice of variant (see depthwise.h).
#include <algorithm>

#include "kernels/depthwise.h"

namespace triton_rt::kernels {

void depthwise_f32f32__scalar_1x1(const float* in, const DepthwiseShape& s, const float* taps,
                               float bias, Clamp clamp, float* out, float* /*scratch*/) {
  for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
    for (std::int64_t ox = 0; ox < s.out_w; ++ox) {
      float acc = bias;
      for (std::int64_t i = 0; i < s.kernel_h; ++i) {
        const std::int64_t iy = oy * s.stride - s.pad_h + i;
        if (iy < 0 || iy >= s.height) continue;
        for (std::int64_t j = 0; j < s.kernel_w; ++j) {
          const std::int64_t ix = ox * s.stride - s.pad_w + j;
          if (ix >= 0 && ix < s.width) acc += taps[i * s.kernel_w + j] * in[iy * s.width + ix];
        }
      }
      if (clamp != Clamp::kNone) acc = std::max(acc, 0.0f);
      if (clamp == Clamp::kRelu6) acc = std::min(acc, 6.0f);
      out[oy * s.out_w + ox] = acc;
    }
  }
}

namespace {

void pad_plane(const float* in, const DepthwiseShape& s, float* scratch) {
  const std::int64_t cols = s.scratch_cols();
  for (std::int64_t r = 0; r < s.scratch_rows(); ++r) {
    float* row = scratch + r * cols;
    const std::int64_t iy = r - s.pad_h;
    if (iy < 0 || iy >= s.height) {
      std::fill(row, row + cols, 0.0f);
      continue;
    }
    std::fill(row, row + s.pad_w, 0.0f);
    std::copy(in + iy * s.width, in + (iy + 1) * s.width, row + s.pad_w);
    std::fill(row + s.pad_w + s.width, row + cols, 0.0f);
  }
}

}  // namespace

void depthwise_padded(const float* in, const DepthwiseShape& s, const float* taps, float bias,
                      Clamp clamp, float* out, float* scratch, DepthwiseRowsFn stride1,
                      DepthwiseRowsFn stride2) {
  if (s.stride != 1 && s.stride != 2) {
    depthwise_f32f32__scalar_1x1(in, s, taps, bias, clamp, out, scratch);
    return;
  }
  pad_plane(in, s, scratch);
  (s.stride == 1 ? stride1 : stride2)(s, scratch, taps, bias, clamp, out);
}

namespace {
const DepthwiseKernel kScalar = {Isa::kScalar, "depthwise_f32f32__scalar_1x1", depthwise_f32f32__scalar_1x1};
}  // namespace

const DepthwiseKernel& depthwise_kernel(Isa isa) {
  const Isa best = detected_isa();
  if (static_cast<int>(isa) > static_cast<int>(best)) isa = best;
  if (isa == Isa::kAvx512 || isa == Isa::kAmx) return *depthwise_avx512();
  if (isa == Isa::kAvx2) return *depthwise_avx2();
  return kScalar;
}

}  // namespace triton_rt::kernels

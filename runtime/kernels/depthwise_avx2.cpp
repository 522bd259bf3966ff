// AVX2 depthwise kernel (see depthwise.h): 8 outputs of a row per step, one FMA with a
// broadcast tap per kernel position; stride 2 gathers the even inputs.
#include <immintrin.h>

#include <algorithm>

#include "kernels/depthwise.h"

namespace triton_rt::kernels {
namespace {

template <int Stride>
void rows(const DepthwiseShape& s, const float* padded, const float* taps, float bias,
          Clamp clamp, float* out) {
  const std::int64_t cols = s.scratch_cols();
  const __m256i evens = _mm256_set_epi32(14, 12, 10, 8, 6, 4, 2, 0);
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
  alignas(32) float tail[8];
  for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
    for (std::int64_t ox = 0; ox < s.out_w; ox += 8) {
      __m256 acc = _mm256_set1_ps(bias);
      for (std::int64_t i = 0; i < s.kernel_h; ++i) {
        const float* row = padded + (oy * Stride + i) * cols + ox * Stride;
        for (std::int64_t j = 0; j < s.kernel_w; ++j) {
          __m256 v;
          if constexpr (Stride == 1) {
            v = _mm256_loadu_ps(row + j);
          } else {
            v = _mm256_i32gather_ps(row + j, evens, 4);
          }
          acc = _mm256_fmadd_ps(_mm256_set1_ps(taps[i * s.kernel_w + j]), v, acc);
        }
      }
      if (clamp != Clamp::kNone) acc = _mm256_max_ps(acc, zero);
      if (clamp == Clamp::kRelu6) acc = _mm256_min_ps(acc, six);
      const std::int64_t n = std::min<std::int64_t>(8, s.out_w - ox);
      float* dst = out + oy * s.out_w + ox;
      if (n == 8) {
        _mm256_storeu_ps(dst, acc);
      } else {
        _mm256_store_ps(tail, acc);
        std::copy(tail, tail + n, dst);
      }
    }
  }
}

void depthwise_f32f32__avx2_1x8(const float* in, const DepthwiseShape& s, const float* taps,
                                float bias, Clamp clamp, float* out, float* scratch) {
  depthwise_padded(in, s, taps, bias, clamp, out, scratch, rows<1>, rows<2>);
}

const DepthwiseKernel kAvx2 = {Isa::kAvx2, "depthwise_f32f32__avx2_1x8", depthwise_f32f32__avx2_1x8};

}  // namespace

const DepthwiseKernel* depthwise_avx2() { return &kAvx2; }

}  // namespace triton_rt::kernels

// AVX-512 depthwise kernel (see depthwise.h): 16 outputs of a row per step, one FMA with a
// broadcast tap per kernel position; stride 2 reads 32 padded inputs and keeps the even
// ones (vpermt2ps).
#include <immintrin.h>

// GCC 12's AVX-512 headers build 256-bit halves from _mm256_undefined_*(), which its own
// -Wmaybe-uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>

#include "kernels/depthwise.h"

namespace triton_rt::kernels {
namespace {

template <int Stride>
void rows(const DepthwiseShape& s, const float* padded, const float* taps, float bias,
          Clamp clamp, float* out) {
  const std::int64_t cols = s.scratch_cols();
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
  for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
    for (std::int64_t ox = 0; ox < s.out_w; ox += 16) {
      __m512 acc = _mm512_set1_ps(bias);
      for (std::int64_t i = 0; i < s.kernel_h; ++i) {
        const float* row = padded + (oy * Stride + i) * cols + ox * Stride;
        for (std::int64_t j = 0; j < s.kernel_w; ++j) {
          __m512 v;
          if constexpr (Stride == 1) {
            v = _mm512_loadu_ps(row + j);
          } else {
            v = _mm512_permutex2var_ps(_mm512_loadu_ps(row + j), evens, _mm512_loadu_ps(row + j + 16));
          }
          acc = _mm512_fmadd_ps(_mm512_set1_ps(taps[i * s.kernel_w + j]), v, acc);
        }
      }
      if (clamp != Clamp::kNone) acc = _mm512_max_ps(acc, zero);
      if (clamp == Clamp::kRelu6) acc = _mm512_min_ps(acc, six);
      const std::int64_t n = std::min<std::int64_t>(16, s.out_w - ox);
      _mm512_mask_storeu_ps(out + oy * s.out_w + ox, static_cast<__mmask16>((1u << n) - 1u), acc);
    }
  }
}

void depthwise_f32f32__avx512_1x16(const float* in, const DepthwiseShape& s, const float* taps,
                                   float bias, Clamp clamp, float* out, float* scratch) {
  depthwise_padded(in, s, taps, bias, clamp, out, scratch, rows<1>, rows<2>);
}

const DepthwiseKernel kAvx512 = {Isa::kAvx512, "depthwise_f32f32__avx512_1x16", depthwise_f32f32__avx512_1x16};

}  // namespace

const DepthwiseKernel* depthwise_avx512() { return &kAvx512; }

}  // namespace triton_rt::kernels

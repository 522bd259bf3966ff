// AVX-512 depthwise kernel (see depthwise.h): 16 outputs of each of 4 rows per step, one
// FMA with a broadcast tap per kernel position and row; stride 2 reads 32 padded inputs and
// keeps the even ones (vpermt2ps).
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

// The input vector under tap (i, j) of outputs ox..ox+15 of row oy.
template <int Stride>
inline __m512 tap_inputs(const float* padded, std::int64_t cols, std::int64_t oy, std::int64_t ox,
                         std::int64_t i, std::int64_t j) {
  const float* row = padded + (oy * Stride + i) * cols + ox * Stride + j;
  if constexpr (Stride == 1) {
    return _mm512_loadu_ps(row);
  } else {
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(row), evens, _mm512_loadu_ps(row + 16));
  }
}

inline __m512 clamp16(__m512 acc, Clamp clamp) {
  if (clamp != Clamp::kNone) acc = _mm512_max_ps(acc, _mm512_setzero_ps());
  if (clamp == Clamp::kRelu6) acc = _mm512_min_ps(acc, _mm512_set1_ps(6.0f));
  return acc;
}

// Four output rows at a time, 16 outputs of each per step: four independent FMA chains
// (one chain of kernel_h * kernel_w dependent FMAs per 16 outputs left the core waiting on
// FMA latency, about 4x below its throughput), then the remaining rows one at a time.
template <int Stride>
void rows(const DepthwiseShape& s, const float* padded, const float* taps, float bias,
          Clamp clamp, float* out) {
  const std::int64_t cols = s.scratch_cols();
  const __m512 b = _mm512_set1_ps(bias);
  std::int64_t oy = 0;
  for (; oy + 4 <= s.out_h; oy += 4) {
    for (std::int64_t ox = 0; ox < s.out_w; ox += 16) {
      __m512 acc0 = b, acc1 = b, acc2 = b, acc3 = b;
      for (std::int64_t i = 0; i < s.kernel_h; ++i) {
        for (std::int64_t j = 0; j < s.kernel_w; ++j) {
          const __m512 t = _mm512_set1_ps(taps[i * s.kernel_w + j]);
          acc0 = _mm512_fmadd_ps(t, tap_inputs<Stride>(padded, cols, oy, ox, i, j), acc0);
          acc1 = _mm512_fmadd_ps(t, tap_inputs<Stride>(padded, cols, oy + 1, ox, i, j), acc1);
          acc2 = _mm512_fmadd_ps(t, tap_inputs<Stride>(padded, cols, oy + 2, ox, i, j), acc2);
          acc3 = _mm512_fmadd_ps(t, tap_inputs<Stride>(padded, cols, oy + 3, ox, i, j), acc3);
        }
      }
      const __mmask16 valid = static_cast<__mmask16>((1u << std::min<std::int64_t>(16, s.out_w - ox)) - 1u);
      float* o = out + oy * s.out_w + ox;
      _mm512_mask_storeu_ps(o, valid, clamp16(acc0, clamp));
      _mm512_mask_storeu_ps(o + s.out_w, valid, clamp16(acc1, clamp));
      _mm512_mask_storeu_ps(o + 2 * s.out_w, valid, clamp16(acc2, clamp));
      _mm512_mask_storeu_ps(o + 3 * s.out_w, valid, clamp16(acc3, clamp));
    }
  }
  for (; oy < s.out_h; ++oy) {
    for (std::int64_t ox = 0; ox < s.out_w; ox += 16) {
      __m512 acc = b;
      for (std::int64_t i = 0; i < s.kernel_h; ++i) {
        for (std::int64_t j = 0; j < s.kernel_w; ++j) {
          acc = _mm512_fmadd_ps(_mm512_set1_ps(taps[i * s.kernel_w + j]),
                                tap_inputs<Stride>(padded, cols, oy, ox, i, j), acc);
        }
      }
      const __mmask16 valid = static_cast<__mmask16>((1u << std::min<std::int64_t>(16, s.out_w - ox)) - 1u);
      _mm512_mask_storeu_ps(out + oy * s.out_w + ox, valid, clamp16(acc, clamp));
    }
  }
}

void depthwise_f32f32__avx512_4x16(const float* in, const DepthwiseShape& s, const float* taps,
                                   float bias, Clamp clamp, float* out, float* scratch) {
  depthwise_padded(in, s, taps, bias, clamp, out, scratch, rows<1>, rows<2>);
}

const DepthwiseKernel kAvx512 = {Isa::kAvx512, "depthwise_f32f32__avx512_4x16", depthwise_f32f32__avx512_4x16};

}  // namespace

const DepthwiseKernel* depthwise_avx512() { return &kAvx512; }

}  // namespace triton_rt::kernels

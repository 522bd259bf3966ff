// AVX-512 row kernels (row_math.h): 16 floats per step, exp_poly.h lane by lane, double
// sums in two 8-lane accumulators per step; the row's tail (n % 16) under a lane mask.
#include <immintrin.h>

#include <cmath>

#include "kernels/exp_poly.h"
#include "kernels/row_math.h"

// GCC 12's AVX-512 headers build results from _mm*_undefined_*(), which its own
// -W(maybe-)uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace triton_rt::kernels {
namespace {

// Constants and helpers of this file only: an ISA file must not instantiate inline code that a
// baseline file also emits (tools/check_isa_objects.py), such as std::numeric_limits or std::max.
constexpr float kInf = __builtin_inff();

inline __mmask16 lanes_below(std::int64_t count) {  // the first `count` (<= 16) lanes
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

inline __m512 exp16(__m512 x) {
  const __mmask16 is_nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpMin), _CMP_LT_OQ);
  const __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpMax), _CMP_GT_OQ);
  const __m512 c = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kExpMin)), _mm512_set1_ps(kExpMax));
  const __m512 n = _mm512_roundscale_ps(_mm512_add_ps(_mm512_mul_ps(c, _mm512_set1_ps(kLog2e)), _mm512_set1_ps(0.5f)),
                                        _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(_mm512_sub_ps(c, _mm512_mul_ps(n, _mm512_set1_ps(kLn2Hi))),
                                 _mm512_mul_ps(n, _mm512_set1_ps(kLn2Lo)));
  __m512 p = _mm512_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(kExpP[i]));
  const __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
  const __m512i ni = _mm512_cvtps_epi32(n);
  const __m512i half = _mm512_srai_epi32(_mm512_add_epi32(ni, _mm512_srli_epi32(ni, 31)), 1);  // n / 2, toward 0
  const __m512i bias = _mm512_set1_epi32(127);
  const __m512 a = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, bias), 23));
  const __m512 b = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, half), bias), 23));
  __m512 e = _mm512_mul_ps(_mm512_mul_ps(y, a), b);
  e = _mm512_mask_mov_ps(e, under, _mm512_setzero_ps());
  e = _mm512_mask_mov_ps(e, over, _mm512_set1_ps(kInf));
  return _mm512_mask_mov_ps(e, is_nan, x);
}

inline __m512d add_halves(__m512d acc, __m512 v) {
  acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  return _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

void softmax_row_avx512(float* row, std::int64_t n) {
  const __m512 minus_inf = _mm512_set1_ps(-kInf);
  __m512 mx = minus_inf;
  for (std::int64_t j = 0; j < n; j += 16) {
    mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(minus_inf, lanes_below(n - j), row + j));
  }
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512d sum = _mm512_setzero_pd();
  for (std::int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = lanes_below(n - j);
    const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), m)));
    _mm512_mask_storeu_ps(row + j, k, e);
    sum = add_halves(sum, e);
  }
  const __m512 scale = _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(sum)));
  for (std::int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = lanes_below(n - j);
    _mm512_mask_storeu_ps(row + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), scale));
  }
}

void layer_norm_row_avx512(const float* x, std::int64_t n, float eps, const float* weight,
                           const float* bias, float* y) {
  __m512d sum = _mm512_setzero_pd();
  for (std::int64_t i = 0; i < n; i += 16) sum = add_halves(sum, _mm512_maskz_loadu_ps(lanes_below(n - i), x + i));
  const double mean = _mm512_reduce_add_pd(sum) / static_cast<double>(n);
  const __m512d mean8 = _mm512_set1_pd(mean);
  __m512d sq = _mm512_setzero_pd();
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = lanes_below(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    const __m512d lo = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), mean8);
    const __m512d hi = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), mean8);
    // Lanes past the row load 0, whose (0 - mean)^2 must not count.
    sq = _mm512_mask_add_pd(sq, static_cast<__mmask8>(k), sq, _mm512_mul_pd(lo, lo));
    sq = _mm512_mask_add_pd(sq, static_cast<__mmask8>(k >> 8), sq, _mm512_mul_pd(hi, hi));
  }
  const __m512d inv8 = _mm512_set1_pd(1.0 / std::sqrt(_mm512_reduce_add_pd(sq) / static_cast<double>(n) + eps));
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = lanes_below(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), mean8), inv8));
    const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(
        _mm512_sub_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), mean8), inv8));
    __m512 out = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    if (weight != nullptr) out = _mm512_mul_ps(out, _mm512_maskz_loadu_ps(k, weight + i));
    if (bias != nullptr) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(k, bias + i));
    _mm512_mask_storeu_ps(y + i, k, out);
  }
}

const RowMathKernels kAvx512 = {Isa::kAvx512, "rowmath_f32__avx512_16", softmax_row_avx512,
                                layer_norm_row_avx512};

}  // namespace

const RowMathKernels* row_math_avx512() { return &kAvx512; }

}  // namespace triton_rt::kernels

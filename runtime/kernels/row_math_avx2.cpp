// AVX2 row kernels (row_math.h): 8 floats per step, exp_poly.h lane by lane, double sums in
// two 4-lane accumulators per step; the row's tail (n % 8) in masked loads and stores.
#include <immintrin.h>

#include <cmath>

#include "kernels/exp_poly.h"
#include "kernels/row_math.h"

namespace triton_rt::kernels {
namespace {

// Constants and helpers of this file only: an ISA file must not instantiate inline code that a
// baseline file also emits (tools/check_isa_objects.py), such as std::numeric_limits or std::max.
constexpr float kInf = __builtin_inff();

inline __m256i tail_mask(std::int64_t count) {  // the first `count` (< 8) lanes
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lanes);
}

inline __m256 exp8(__m256 x) {
  const __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(kExpMin), _CMP_LT_OQ);
  const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(kExpMax), _CMP_GT_OQ);
  const __m256 c = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpMin)), _mm256_set1_ps(kExpMax));
  const __m256 n = _mm256_floor_ps(_mm256_add_ps(_mm256_mul_ps(c, _mm256_set1_ps(kLog2e)), _mm256_set1_ps(0.5f)));
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(c, _mm256_mul_ps(n, _mm256_set1_ps(kLn2Hi))),
                                 _mm256_mul_ps(n, _mm256_set1_ps(kLn2Lo)));
  __m256 p = _mm256_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kExpP[i]));
  const __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(_mm256_add_epi32(ni, _mm256_srli_epi32(ni, 31)), 1);  // n / 2, toward 0
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  const __m256 b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), bias), 23));
  __m256 e = _mm256_mul_ps(_mm256_mul_ps(y, a), b);
  e = _mm256_andnot_ps(under, e);
  e = _mm256_blendv_ps(e, _mm256_set1_ps(kInf), over);
  return _mm256_blendv_ps(e, x, is_nan);
}

inline __m256d add_halves(__m256d acc, __m256 v) {
  acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

inline double sum4(__m256d v) {
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, v);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

inline float max8(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float m = lanes[0];
  for (int i = 1; i < 8; ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
}

void softmax_row_avx2(float* row, std::int64_t n) {
  const std::int64_t full = n / 8 * 8;
  const __m256i tail = tail_mask(n - full);
  const __m256 minus_inf = _mm256_set1_ps(-kInf);
  __m256 mx = minus_inf;
  for (std::int64_t j = 0; j < full; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(row + j));
  if (full < n) {
    mx = _mm256_max_ps(mx, _mm256_blendv_ps(minus_inf, _mm256_maskload_ps(row + full, tail), _mm256_castsi256_ps(tail)));
  }
  const __m256 m = _mm256_set1_ps(max8(mx));
  __m256d sum = _mm256_setzero_pd();
  for (std::int64_t j = 0; j < full; j += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), m));
    _mm256_storeu_ps(row + j, e);
    sum = add_halves(sum, e);
  }
  if (full < n) {
    const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(row + full, tail), m)),
                                   _mm256_castsi256_ps(tail));
    _mm256_maskstore_ps(row + full, tail, e);
    sum = add_halves(sum, e);
  }
  const __m256 scale = _mm256_set1_ps(static_cast<float>(1.0 / sum4(sum)));
  for (std::int64_t j = 0; j < full; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), scale));
  if (full < n) _mm256_maskstore_ps(row + full, tail, _mm256_mul_ps(_mm256_maskload_ps(row + full, tail), scale));
}

void layer_norm_row_avx2(const float* x, std::int64_t n, float eps, const float* weight,
                         const float* bias, float* y) {
  const std::int64_t full = n / 8 * 8;
  const __m256i tail = tail_mask(n - full);
  __m256d sum = _mm256_setzero_pd();
  for (std::int64_t i = 0; i < full; i += 8) sum = add_halves(sum, _mm256_loadu_ps(x + i));
  if (full < n) sum = add_halves(sum, _mm256_maskload_ps(x + full, tail));
  const double mean = sum4(sum) / static_cast<double>(n);
  const __m256d mean4 = _mm256_set1_pd(mean);
  __m256d sq = _mm256_setzero_pd();
  auto add_squares = [&](__m256 v, __m256d acc) {
    const __m256d lo = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mean4);
    const __m256d hi = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mean4);
    return _mm256_add_pd(_mm256_add_pd(acc, _mm256_mul_pd(lo, lo)), _mm256_mul_pd(hi, hi));
  };
  for (std::int64_t i = 0; i < full; i += 8) sq = add_squares(_mm256_loadu_ps(x + i), sq);
  if (full < n) {
    // Masked-off lanes load 0, whose (0 - mean)^2 must not count.
    const __m256 v = _mm256_maskload_ps(x + full, tail);
    const __m256d lo = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mean4);
    const __m256d hi = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mean4);
    const __m256i mask = tail;
    const __m256d keep_lo = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(mask)));
    const __m256d keep_hi = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(mask, 1)));
    sq = _mm256_add_pd(sq, _mm256_and_pd(_mm256_mul_pd(lo, lo), keep_lo));
    sq = _mm256_add_pd(sq, _mm256_and_pd(_mm256_mul_pd(hi, hi), keep_hi));
  }
  const __m256d inv4 = _mm256_set1_pd(1.0 / std::sqrt(sum4(sq) / static_cast<double>(n) + eps));
  auto normalize = [&](__m256 v, std::int64_t i, bool whole) {
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mean4), inv4));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mean4), inv4));
    __m256 out = _mm256_set_m128(hi, lo);
    if (weight != nullptr) out = _mm256_mul_ps(out, whole ? _mm256_loadu_ps(weight + i) : _mm256_maskload_ps(weight + i, tail));
    if (bias != nullptr) out = _mm256_add_ps(out, whole ? _mm256_loadu_ps(bias + i) : _mm256_maskload_ps(bias + i, tail));
    return out;
  };
  for (std::int64_t i = 0; i < full; i += 8) _mm256_storeu_ps(y + i, normalize(_mm256_loadu_ps(x + i), i, true));
  if (full < n) _mm256_maskstore_ps(y + full, tail, normalize(_mm256_maskload_ps(x + full, tail), full, false));
}

const RowMathKernels kAvx2 = {Isa::kAvx2, "rowmath_f32__avx2_8", softmax_row_avx2, layer_norm_row_avx2};

}  // namespace

const RowMathKernels* row_math_avx2() { return &kAvx2; }

}  // namespace triton_rt::kernels

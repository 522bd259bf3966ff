// gelu_erf (gelu.h) on 8 lanes with AVX2: the same operations in the same order, no fused
// multiply-adds (files including this compile with -ffp-contract=off), and a correctly
// rounded division, so every lane equals the scalar result bit for bit. Shared by the 8-bit
// kernels' fused write-back and the float GELU rows (gelu_rows.h). Internal linkage: only
// files compiled with -mavx2 include it.
#pragma once

#include <immintrin.h>

#include "kernels/gelu.h"

namespace triton_rt::kernels {
namespace {

[[maybe_unused]] inline __m256 gelu8(__m256 x) {
  const __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(kInvSqrt2));
  const __m256 c = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-kErfBound)), _mm256_set1_ps(kErfBound));
  const __m256 z = _mm256_mul_ps(c, c);
  __m256 p = _mm256_set1_ps(kErfP[0]), q = _mm256_set1_ps(kErfQ[0]);
  for (int i = 1; i < 6; ++i) {
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(kErfP[i]));
    q = _mm256_add_ps(_mm256_mul_ps(q, z), _mm256_set1_ps(kErfQ[i]));
  }
  const __m256 erf = _mm256_div_ps(_mm256_mul_ps(c, p), q);
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

}  // namespace
}  // namespace triton_rt::kernels

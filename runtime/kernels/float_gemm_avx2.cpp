// AVX2 float32 matrix product (see float_gemm.h): 4 rows x 32 columns (16 ymm
// accumulators) per step, B's 4 vectors loaded once per k and used by the 4 rows; ragged
// columns use masked loads and stores, ragged rows a 1-row variant.
#include <immintrin.h>

#include <algorithm>

#include "kernels/float_gemm.h"

namespace triton_rt::kernels {
namespace {

constexpr int kVectors = 4;  // ymm per row: 32 columns

template <int Rows>
inline void strip(const FloatGemmArgs& g, std::int64_t i, std::int64_t j, const __m256i (&masks)[kVectors]) {
  __m256 acc[Rows][kVectors];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm256_setzero_ps();
  }
  const float* b = g.b + j;
  for (std::int64_t p = 0; p < g.k; ++p, b += g.ldb) {
    __m256 bv[kVectors];
    for (int v = 0; v < kVectors; ++v) bv[v] = _mm256_maskload_ps(b + 8 * v, masks[v]);
    for (int r = 0; r < Rows; ++r) {
      const __m256 a = _mm256_set1_ps(g.a[(i + r) * g.lda + p]);
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm256_fmadd_ps(a, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    float* c = g.c + (i + r) * g.ldc + j;
    for (int v = 0; v < kVectors; ++v) _mm256_maskstore_ps(c + 8 * v, masks[v], acc[r][v]);
  }
}

void gemm_f32f32__avx2_4x32(const FloatGemmArgs& g) {
  for (std::int64_t j = 0; j < g.n; j += 8 * kVectors) {
    __m256i masks[kVectors];
    for (int v = 0; v < kVectors; ++v) {
      const auto left = static_cast<int>(std::clamp<std::int64_t>(g.n - j - 8 * v, 0, 8));
      masks[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    std::int64_t i = 0;
    for (; i + 4 <= g.m; i += 4) strip<4>(g, i, j, masks);
    for (; i < g.m; ++i) strip<1>(g, i, j, masks);
  }
}

const FloatGemmKernel kAvx2 = {Isa::kAvx2, "gemm_f32f32__avx2_4x32", gemm_f32f32__avx2_4x32};

}  // namespace

const FloatGemmKernel* float_gemm_avx2() { return &kAvx2; }

}  // namespace triton_rt::kernels

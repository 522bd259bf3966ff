// AVX-512 float32 matrix product (see float_gemm.h): 4 rows x 64 columns (16 zmm
// accumulators) per step, B's 4 vectors loaded once per k and used by the 4 rows; ragged
// columns use masked loads and stores, ragged rows a 1-row variant.
#include <immintrin.h>

// GCC 12's AVX-512 headers build 256-bit halves from _mm256_undefined_*(), which its own
// -Wmaybe-uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>

#include "kernels/float_gemm.h"

namespace triton_rt::kernels {
namespace {

constexpr int kVectors = 4;  // zmm per row: 64 columns

template <int Rows>
inline void strip(const FloatGemmArgs& g, std::int64_t i, std::int64_t j, const __mmask16 (&masks)[kVectors]) {
  __m512 acc[Rows][kVectors];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm512_setzero_ps();
  }
  const float* b = g.b + j;
  for (std::int64_t p = 0; p < g.k; ++p, b += g.ldb) {
    __m512 bv[kVectors];
    for (int v = 0; v < kVectors; ++v) bv[v] = _mm512_maskz_loadu_ps(masks[v], b + 16 * v);
    for (int r = 0; r < Rows; ++r) {
      const __m512 a = _mm512_set1_ps(g.a[(i + r) * g.lda + p]);
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_fmadd_ps(a, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    float* c = g.c + (i + r) * g.ldc + j;
    for (int v = 0; v < kVectors; ++v) _mm512_mask_storeu_ps(c + 16 * v, masks[v], acc[r][v]);
  }
}

void gemm_f32f32__avx512_4x64(const FloatGemmArgs& g) {
  for (std::int64_t j = 0; j < g.n; j += 16 * kVectors) {
    __mmask16 masks[kVectors];
    for (int v = 0; v < kVectors; ++v) {
      const std::int64_t left = std::clamp<std::int64_t>(g.n - j - 16 * v, 0, 16);
      masks[v] = static_cast<__mmask16>((1u << left) - 1u);
    }
    std::int64_t i = 0;
    for (; i + 4 <= g.m; i += 4) strip<4>(g, i, j, masks);
    for (; i < g.m; ++i) strip<1>(g, i, j, masks);
  }
}

const FloatGemmKernel kAvx512 = {Isa::kAvx512, "gemm_f32f32__avx512_4x64", gemm_f32f32__avx512_4x64};

}  // namespace

const FloatGemmKernel* float_gemm_avx512() { return &kAvx512; }

}  // namespace triton_rt::kernels

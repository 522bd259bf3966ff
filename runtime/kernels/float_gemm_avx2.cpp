// AVX2 float32 matrix product (see float_gemm.h): 6 rows x 16 columns (12 ymm accumulators)
// per step, B's 2 vectors loaded once per k and used by the 6 rows, each row's A value
// broadcast once for both: 15 of the 16 ymm, so nothing spills (the 4 x 32 tile this
// replaced needed 21 and spilled accumulators to the stack every k). Ragged columns use
// masked loads and stores, ragged rows a tile of fewer rows.
#include <immintrin.h>

#include <algorithm>

#include "kernels/float_gemm.h"

namespace triton_rt::kernels {
namespace {

constexpr int kVectors = 2;  // ymm per row: 16 columns
constexpr int kRows = 6;

template <int Rows>
inline void strip(const FloatGemmArgs& g, std::int64_t i, std::int64_t j, const __m256i (&masks)[kVectors]) {
  __m256 acc[Rows][kVectors];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm256_setzero_ps();
  }
  const float* b = g.b + j;
  const float* a = g.a + i * g.lda;
  for (std::int64_t p = 0; p < g.k; ++p, b += g.ldb) {
    __m256 bv[kVectors];
    for (int v = 0; v < kVectors; ++v) bv[v] = _mm256_maskload_ps(b + 8 * v, masks[v]);
    for (int r = 0; r < Rows; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * g.lda + p);
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    float* c = g.c + (i + r) * g.ldc + j;
    for (int v = 0; v < kVectors; ++v) _mm256_maskstore_ps(c + 8 * v, masks[v], acc[r][v]);
  }
}

void gemm_f32f32__avx2_6x16(const FloatGemmArgs& g) {
  for (std::int64_t j = 0; j < g.n; j += 8 * kVectors) {
    __m256i masks[kVectors];
    for (int v = 0; v < kVectors; ++v) {
      const auto left = static_cast<int>(std::clamp<std::int64_t>(g.n - j - 8 * v, 0, 8));
      masks[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    std::int64_t i = 0;
    for (; i + kRows <= g.m; i += kRows) strip<kRows>(g, i, j, masks);
    switch (g.m - i) {
      case 5: strip<5>(g, i, j, masks); break;
      case 4: strip<4>(g, i, j, masks); break;
      case 3: strip<3>(g, i, j, masks); break;
      case 2: strip<2>(g, i, j, masks); break;
      case 1: strip<1>(g, i, j, masks); break;
      default: break;
    }
  }
}

const FloatGemmKernel kAvx2 = {Isa::kAvx2, "gemm_f32f32__avx2_6x16", gemm_f32f32__avx2_6x16, 6};

}  // namespace

const FloatGemmKernel* float_gemm_avx2() { return &kAvx2; }

}  // namespace triton_rt::kernels

// AVX-512 float32 matrix product (see float_gemm.h): 8 rows x 32 columns (16 zmm
// accumulators) per step, B's 2 vectors loaded once per k and used by the 8 rows, each row's
// A value broadcast once for both. Ragged columns use masked loads and stores, ragged rows
// recompute the last row. It replaced 4 rows x 64 columns, which wasted most of a strip on
// narrow or ragged outputs (attention's 197-column scores: four 64-column strips, the last
// holding 5), ran ragged rows one at a time, and stored its accumulators every k (below).
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

constexpr int kVectors = 2;  // zmm per row: 32 columns
constexpr int kRows = 8;

// One 8 x 32 tile: rows [i, i + 8) clamped to the last row (a ragged tile computes copies
// of that row and stores only the real ones), columns [j, j + 32) under the masks. The
// accumulators are named variables, not an array: GCC 12 keeps an array of zmm
// accumulators in memory across the k loop (a stack store per FMA pair), which made this
// kernel slower than the AVX2 one on the same CPU.
void tile(const FloatGemmArgs& g, std::int64_t i, std::int64_t j, __mmask16 m0, __mmask16 m1) {
  const std::int64_t rows = std::min<std::int64_t>(kRows, g.m - i);
  const std::int64_t k = g.k, ldb = g.ldb;
  const float* b = g.b + j;
#define TRITON_ROW(r)                                                             \
  const float* a##r = g.a + (i + std::min<std::int64_t>(r, rows - 1)) * g.lda; \
  __m512 lo##r = _mm512_setzero_ps(), hi##r = _mm512_setzero_ps();
  TRITON_ROW(0) TRITON_ROW(1) TRITON_ROW(2) TRITON_ROW(3)
  TRITON_ROW(4) TRITON_ROW(5) TRITON_ROW(6) TRITON_ROW(7)
#undef TRITON_ROW
  for (std::int64_t p = 0; p < k; ++p, b += ldb) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
    const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#define TRITON_FMA(r)                                    \
  {                                                      \
    const __m512 av = _mm512_set1_ps(a##r[p]);          \
    lo##r = _mm512_fmadd_ps(av, b0, lo##r);             \
    hi##r = _mm512_fmadd_ps(av, b1, hi##r);             \
  }
    TRITON_FMA(0) TRITON_FMA(1) TRITON_FMA(2) TRITON_FMA(3)
    TRITON_FMA(4) TRITON_FMA(5) TRITON_FMA(6) TRITON_FMA(7)
#undef TRITON_FMA
  }
  float* c = g.c + i * g.ldc + j;
#define TRITON_STORE(r)                                       \
  if (r < rows) {                                             \
    _mm512_mask_storeu_ps(c + r * g.ldc, m0, lo##r);          \
    _mm512_mask_storeu_ps(c + r * g.ldc + 16, m1, hi##r);     \
  }
  TRITON_STORE(0) TRITON_STORE(1) TRITON_STORE(2) TRITON_STORE(3)
  TRITON_STORE(4) TRITON_STORE(5) TRITON_STORE(6) TRITON_STORE(7)
#undef TRITON_STORE
}

void gemm_f32f32__avx512_8x32(const FloatGemmArgs& g) {
  for (std::int64_t j = 0; j < g.n; j += 16 * kVectors) {
    const std::int64_t left = g.n - j;
    const auto m0 = static_cast<__mmask16>((1u << std::clamp<std::int64_t>(left, 0, 16)) - 1u);
    const auto m1 = static_cast<__mmask16>((1u << std::clamp<std::int64_t>(left - 16, 0, 16)) - 1u);
    for (std::int64_t i = 0; i < g.m; i += kRows) tile(g, i, j, m0, m1);
  }
}

const FloatGemmKernel kAvx512 = {Isa::kAvx512, "gemm_f32f32__avx512_8x32", gemm_f32f32__avx512_8x32, 8};

}  // namespace

const FloatGemmKernel* float_gemm_avx512() { return &kAvx512; }

}  // namespace triton_rt::kernels

// AVX-512 ternary kernels (compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl; only
// called after cpuid says the CPU has them, see dispatch.cpp).
//
// gemv: 16 weights per mask block map onto one zmm of activations: the +1 mask and the -1
// mask are the write masks of two masked adds, into separate accumulators so the adds of
// 4 rows x 2 signs form 8 independent dependency chains.
// gemm: vectorized over P, 64 columns (4 zmm) per tile, one load+add per nonzero weight;
// +1 and -1 weights again accumulate separately for 8 independent chains.
#include <immintrin.h>

// GCC 12's AVX-512 headers build 256-bit halves from _mm256_undefined_*(), which its own
// -Wmaybe-uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/ternary.h"

namespace triton_rt::kernels {
namespace {

inline float finish(__m512 plus, __m512 minus) {
  const __m512 v = _mm512_sub_ps(plus, minus);
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

void gemv_t2f32__avx512_4x1(const PreparedTernary& w, const float* x, float* y,
                            std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = w.blocks;
  std::int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) {
    const MaskBlock* m0 = w.masks.data() + r * nb;
    const MaskBlock* m1 = m0 + nb;
    const MaskBlock* m2 = m1 + nb;
    const MaskBlock* m3 = m2 + nb;
    __m512 p0 = _mm512_setzero_ps(), p1 = p0, p2 = p0, p3 = p0;
    __m512 n0 = p0, n1 = p0, n2 = p0, n3 = p0;
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m512 xv = _mm512_loadu_ps(x + b * kMaskBlockWeights);
      p0 = _mm512_mask_add_ps(p0, m0[b].plus, p0, xv);
      n0 = _mm512_mask_add_ps(n0, m0[b].minus, n0, xv);
      p1 = _mm512_mask_add_ps(p1, m1[b].plus, p1, xv);
      n1 = _mm512_mask_add_ps(n1, m1[b].minus, n1, xv);
      p2 = _mm512_mask_add_ps(p2, m2[b].plus, p2, xv);
      n2 = _mm512_mask_add_ps(n2, m2[b].minus, n2, xv);
      p3 = _mm512_mask_add_ps(p3, m3[b].plus, p3, xv);
      n3 = _mm512_mask_add_ps(n3, m3[b].minus, n3, xv);
    }
    y[r] = w.scales[r] * finish(p0, n0);
    y[r + 1] = w.scales[r + 1] * finish(p1, n1);
    y[r + 2] = w.scales[r + 2] * finish(p2, n2);
    y[r + 3] = w.scales[r + 3] * finish(p3, n3);
  }
  for (; r < row_end; ++r) {
    const MaskBlock* m0 = w.masks.data() + r * nb;
    __m512 p0 = _mm512_setzero_ps(), n0 = p0;
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m512 xv = _mm512_loadu_ps(x + b * kMaskBlockWeights);
      p0 = _mm512_mask_add_ps(p0, m0[b].plus, p0, xv);
      n0 = _mm512_mask_add_ps(n0, m0[b].minus, n0, xv);
    }
    y[r] = w.scales[r] * finish(p0, n0);
  }
}

void gemm_t2f32__avx512_1x64(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                             std::int64_t row_begin, std::int64_t row_end) {
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const std::uint32_t* plus = w.indices.data() + w.starts[r];
    const std::uint32_t* plus_end = w.indices.data() + w.splits[r];
    const std::uint32_t* minus_end = w.indices.data() + w.starts[r + 1];
    const __m512 scale = _mm512_set1_ps(w.scales[r]);
    float* out = y + r * p;
    std::int64_t j = 0;
    for (; j + 64 <= p; j += 64) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      __m512 s0 = a0, s1 = a0, s2 = a0, s3 = a0;
      for (const std::uint32_t* k = plus; k < plus_end; ++k) {
        const float* xr = x + static_cast<std::int64_t>(*k) * p + j;
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(xr));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(xr + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(xr + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(xr + 48));
      }
      for (const std::uint32_t* k = plus_end; k < minus_end; ++k) {
        const float* xr = x + static_cast<std::int64_t>(*k) * p + j;
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(xr));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(xr + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(xr + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(xr + 48));
      }
      _mm512_storeu_ps(out + j, _mm512_mul_ps(scale, _mm512_sub_ps(a0, s0)));
      _mm512_storeu_ps(out + j + 16, _mm512_mul_ps(scale, _mm512_sub_ps(a1, s1)));
      _mm512_storeu_ps(out + j + 32, _mm512_mul_ps(scale, _mm512_sub_ps(a2, s2)));
      _mm512_storeu_ps(out + j + 48, _mm512_mul_ps(scale, _mm512_sub_ps(a3, s3)));
    }
    for (; j < p; j += 16) {  // ragged tail: masked loads never touch memory past P
      const __mmask16 lanes =
          p - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (p - j)) - 1);
      __m512 a0 = _mm512_setzero_ps(), s0 = a0;
      for (const std::uint32_t* k = plus; k < plus_end; ++k) {
        a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(lanes, x + std::int64_t{*k} * p + j));
      }
      for (const std::uint32_t* k = plus_end; k < minus_end; ++k) {
        s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(lanes, x + std::int64_t{*k} * p + j));
      }
      _mm512_mask_storeu_ps(out + j, lanes, _mm512_mul_ps(scale, _mm512_sub_ps(a0, s0)));
    }
  }
}

const KernelSet kAvx512 = {Isa::kAvx512, "gemv_t2f32__avx512_4x1", gemv_t2f32__avx512_4x1,
                           "gemm_t2f32__avx512_1x64", gemm_t2f32__avx512_1x64};

}  // namespace

const KernelSet* avx512_kernels() { return &kAvx512; }

}  // namespace triton_rt::kernels

// AVX2 ternary kernels (compiled with -mavx2 -mfma; only called after cpuid says the CPU
// has AVX2, see dispatch.cpp).
//
// AVX2 has no write masks, so gemv turns each 8-bit half of a mask block into a lane mask
// with a 256-entry table (8 KiB, stays in L1) and accumulates `x & mask` for +1 and -1
// separately. gemm mirrors the AVX-512 one with 32 columns (4 ymm) per tile.
#include <immintrin.h>

#include <array>

#include "kernels/ternary.h"

namespace triton_rt::kernels {
namespace {

struct LaneMasks {
  alignas(32) std::array<std::array<std::uint32_t, 8>, 256> table;
  LaneMasks() {
    for (int m = 0; m < 256; ++m) {
      for (int i = 0; i < 8; ++i) table[m][i] = (m >> i & 1) ? 0xFFFFFFFFu : 0u;
    }
  }
};
const LaneMasks kLaneMasks;

inline __m256 lane_mask(unsigned bits8) {
  return _mm256_load_ps(reinterpret_cast<const float*>(kLaneMasks.table[bits8].data()));
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

void gemv_t2f32__avx2_2x1(const PreparedTernary& w, const float* x, float* y,
                          std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = w.blocks;
  std::int64_t r = row_begin;
  for (; r + 2 <= row_end; r += 2) {
    const MaskBlock* m0 = w.masks.data() + r * nb;
    const MaskBlock* m1 = m0 + nb;
    __m256 p0 = _mm256_setzero_ps(), n0 = p0, p1 = p0, n1 = p0;
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m256 lo = _mm256_loadu_ps(x + b * kMaskBlockWeights);
      const __m256 hi = _mm256_loadu_ps(x + b * kMaskBlockWeights + 8);
      p0 = _mm256_add_ps(p0, _mm256_and_ps(lo, lane_mask(m0[b].plus & 0xFF)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(lo, lane_mask(m0[b].minus & 0xFF)));
      p1 = _mm256_add_ps(p1, _mm256_and_ps(lo, lane_mask(m1[b].plus & 0xFF)));
      n1 = _mm256_add_ps(n1, _mm256_and_ps(lo, lane_mask(m1[b].minus & 0xFF)));
      p0 = _mm256_add_ps(p0, _mm256_and_ps(hi, lane_mask(m0[b].plus >> 8)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(hi, lane_mask(m0[b].minus >> 8)));
      p1 = _mm256_add_ps(p1, _mm256_and_ps(hi, lane_mask(m1[b].plus >> 8)));
      n1 = _mm256_add_ps(n1, _mm256_and_ps(hi, lane_mask(m1[b].minus >> 8)));
    }
    y[r] = w.scales[r] * hsum(_mm256_sub_ps(p0, n0));
    y[r + 1] = w.scales[r + 1] * hsum(_mm256_sub_ps(p1, n1));
  }
  for (; r < row_end; ++r) {
    const MaskBlock* m0 = w.masks.data() + r * nb;
    __m256 p0 = _mm256_setzero_ps(), n0 = p0;
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m256 lo = _mm256_loadu_ps(x + b * kMaskBlockWeights);
      const __m256 hi = _mm256_loadu_ps(x + b * kMaskBlockWeights + 8);
      p0 = _mm256_add_ps(p0, _mm256_and_ps(lo, lane_mask(m0[b].plus & 0xFF)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(lo, lane_mask(m0[b].minus & 0xFF)));
      p0 = _mm256_add_ps(p0, _mm256_and_ps(hi, lane_mask(m0[b].plus >> 8)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(hi, lane_mask(m0[b].minus >> 8)));
    }
    y[r] = w.scales[r] * hsum(_mm256_sub_ps(p0, n0));
  }
}

void gemm_t2f32__avx2_1x32(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                           std::int64_t row_begin, std::int64_t row_end) {
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const std::uint32_t* plus = w.indices.data() + w.starts[r];
    const std::uint32_t* plus_end = w.indices.data() + w.splits[r];
    const std::uint32_t* minus_end = w.indices.data() + w.starts[r + 1];
    const float scale = w.scales[r];
    const __m256 vscale = _mm256_set1_ps(scale);
    float* out = y + r * p;
    std::int64_t j = 0;
    for (; j + 32 <= p; j += 32) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      __m256 s0 = a0, s1 = a0, s2 = a0, s3 = a0;
      for (const std::uint32_t* k = plus; k < plus_end; ++k) {
        const float* xr = x + static_cast<std::int64_t>(*k) * p + j;
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(xr));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(xr + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(xr + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(xr + 24));
      }
      for (const std::uint32_t* k = plus_end; k < minus_end; ++k) {
        const float* xr = x + static_cast<std::int64_t>(*k) * p + j;
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(xr));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(xr + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(xr + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(xr + 24));
      }
      _mm256_storeu_ps(out + j, _mm256_mul_ps(vscale, _mm256_sub_ps(a0, s0)));
      _mm256_storeu_ps(out + j + 8, _mm256_mul_ps(vscale, _mm256_sub_ps(a1, s1)));
      _mm256_storeu_ps(out + j + 16, _mm256_mul_ps(vscale, _mm256_sub_ps(a2, s2)));
      _mm256_storeu_ps(out + j + 24, _mm256_mul_ps(vscale, _mm256_sub_ps(a3, s3)));
    }
    for (; j + 8 <= p; j += 8) {
      __m256 a0 = _mm256_setzero_ps(), s0 = a0;
      for (const std::uint32_t* k = plus; k < plus_end; ++k) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + std::int64_t{*k} * p + j));
      }
      for (const std::uint32_t* k = plus_end; k < minus_end; ++k) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + std::int64_t{*k} * p + j));
      }
      _mm256_storeu_ps(out + j, _mm256_mul_ps(vscale, _mm256_sub_ps(a0, s0)));
    }
    for (; j < p; ++j) {  // ragged tail, fewer than 8 columns
      float acc = 0.0f;
      for (const std::uint32_t* k = plus; k < plus_end; ++k) acc += x[std::int64_t{*k} * p + j];
      for (const std::uint32_t* k = plus_end; k < minus_end; ++k) {
        acc -= x[std::int64_t{*k} * p + j];
      }
      out[j] = scale * acc;
    }
  }
}

const KernelSet kAvx2 = {Isa::kAvx2, "gemv_t2f32__avx2_2x1", gemv_t2f32__avx2_2x1,
                         "gemm_t2f32__avx2_1x32", gemm_t2f32__avx2_1x32};

}  // namespace

const KernelSet* avx2_kernels() { return &kAvx2; }

}  // namespace triton_rt::kernels

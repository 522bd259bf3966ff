// The AVX-512 kernels for 8-bit activations, written once for both multiply-add flavours.
//
// Included (only) by ternary_int8_avx512bw.cpp and ternary_int8_avx512vnni.cpp, each of
// which first defines `dot_u8s8(acc, u, s)`: acc + the four-byte dot products of unsigned u
// with signed s in every int32 lane (vpdpbusd, or vpmaddubsw + vpmaddwd). Everything here
// has internal linkage, so the two translation units, compiled with different ISA flags,
// never share a definition.
//
// The tile is 4 rows x 4 columns: 16 zmm accumulators, 4 activation vectors and one code
// vector per 64-byte step; each loaded code vector serves 4 columns and each activation
// vector 4 rows. Ragged edges run the same loop with 1-row and 1-column tiles.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/ternary_int8.h"

namespace triton_rt::kernels {
namespace {

void quantize_i8__avx512(const float* x, std::int64_t n, float scale, std::int8_t* q) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512 lo = _mm512_set1_ps(-kInt8Max);
  const __m512 hi = _mm512_set1_ps(kInt8Max);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);  // max(NaN, lo) is lo, as in the scalar
    // cvtps rounds to nearest even (the default MXCSR mode); the values already fit int8.
    _mm_mask_storeu_epi8(q + i, m, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
  }
}

template <int kRows, int kCols>
void tile(const PreparedTernaryInt8& w, const std::int8_t* x, std::int64_t r0, std::int64_t j0,
          std::int32_t* acc, std::int64_t row_stride, std::int64_t col_stride) {
  const std::int64_t ld = w.padded_cols;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));  // s8 -> s8 + 128 as u8
  __m512i sum[kRows][kCols];
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) sum[r][c] = _mm512_setzero_si512();
  }
  const std::int8_t* codes = w.codes.data() + r0 * ld;
  const std::int8_t* xs = x + j0 * ld;
  for (std::int64_t k = 0; k < ld; k += 64) {
    __m512i u[kCols];
    for (int c = 0; c < kCols; ++c) {
      u[c] = _mm512_xor_si512(_mm512_loadu_si512(xs + c * ld + k), flip);
    }
    for (int r = 0; r < kRows; ++r) {
      const __m512i code = _mm512_loadu_si512(codes + r * ld + k);
      for (int c = 0; c < kCols; ++c) sum[r][c] = dot_u8s8(sum[r][c], u[c], code);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    // sum((x + 128) * code) - 128 * sum(code) = sum(x * code); int32 wraparound (if any)
    // cancels in the subtraction because the true result fits (kInt8MaxCols).
    const std::uint32_t shift = 128u * static_cast<std::uint32_t>(w.row_sums[r0 + r]);
    for (int c = 0; c < kCols; ++c) {
      const std::uint32_t total = static_cast<std::uint32_t>(_mm512_reduce_add_epi32(sum[r][c]));
      acc[(r0 + r) * row_stride + (j0 + c) * col_stride] =
          static_cast<std::int32_t>(total - shift);
    }
  }
}

template <int kCols>
void rows_of_tiles(const PreparedTernaryInt8& w, const std::int8_t* x, std::int64_t j0,
                   std::int32_t* acc, std::int64_t row_stride, std::int64_t col_stride,
                   std::int64_t row_begin, std::int64_t row_end) {
  std::int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) tile<4, kCols>(w, x, r, j0, acc, row_stride, col_stride);
  for (; r < row_end; ++r) tile<1, kCols>(w, x, r, j0, acc, row_stride, col_stride);
}

void gemv_avx512(const PreparedTernaryInt8& w, const std::int8_t* x, std::int32_t* acc,
                 std::int64_t row_begin, std::int64_t row_end) {
  rows_of_tiles<1>(w, x, 0, acc, 1, 0, row_begin, row_end);
}

void gemm_avx512(const PreparedTernaryInt8& w, const std::int8_t* x, std::int64_t p,
                 std::int32_t* acc, std::int64_t row_stride, std::int64_t col_stride,
                 std::int64_t row_begin, std::int64_t row_end) {
  std::int64_t j = 0;
  for (; j + 4 <= p; j += 4) rows_of_tiles<4>(w, x, j, acc, row_stride, col_stride, row_begin, row_end);
  for (; j < p; ++j) rows_of_tiles<1>(w, x, j, acc, row_stride, col_stride, row_begin, row_end);
}

}  // namespace
}  // namespace triton_rt::kernels

// AVX2 kernels for 8-bit activations (compiled with -mavx2 -mfma; selected only after
// cpuid, see ternary_int8.cpp). Products go through vpmaddubsw (u8 x s8 pairs to int16: at
// most 2 * 255 in magnitude since codes are -1, 0 or +1, so it never saturates) and vpmaddwd
// (pairs to int32). The tile is 4 rows x 2 columns: 8 ymm accumulators plus the two
// activation vectors, one code vector and the constants fit the 16 registers.
#include <immintrin.h>

#include "kernels/ternary_int8.h"

namespace triton_rt::kernels {
namespace {

void quantize_i8__avx2(const float* x, std::int64_t n, float scale, std::int8_t* q) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 lo = _mm256_set1_ps(-kInt8Max);
  const __m256 hi = _mm256_set1_ps(kInt8Max);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);  // max(NaN, lo) is lo, as in the scalar
    const __m256i i32 = _mm256_cvtps_epi32(v);     // round to nearest even
    const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packs_epi16(i16, i16));
  }
  if (i < n) scalar_int8_kernels()->quantize(x + i, n - i, scale, q + i);
}

inline std::int32_t horizontal_sum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

template <int kRows, int kCols>
void tile(const PreparedTernaryInt8& w, const std::int8_t* x, std::int64_t r0, std::int64_t j0,
          std::int32_t* acc, std::int64_t row_stride, std::int64_t col_stride) {
  const std::int64_t ld = w.padded_cols;
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));  // s8 -> s8 + 128 as u8
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i sum[kRows][kCols];
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) sum[r][c] = _mm256_setzero_si256();
  }
  const std::int8_t* codes = w.codes.data() + r0 * ld;
  const std::int8_t* xs = x + j0 * ld;
  for (std::int64_t k = 0; k < ld; k += 32) {
    __m256i u[kCols];
    for (int c = 0; c < kCols; ++c) {
      u[c] = _mm256_xor_si256(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + c * ld + k)), flip);
    }
    for (int r = 0; r < kRows; ++r) {
      const __m256i code = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + r * ld + k));
      for (int c = 0; c < kCols; ++c) {
        sum[r][c] = _mm256_add_epi32(sum[r][c], _mm256_madd_epi16(_mm256_maddubs_epi16(u[c], code), ones));
      }
    }
  }
  for (int r = 0; r < kRows; ++r) {
    // sum((x + 128) * code) - 128 * sum(code) = sum(x * code), in wrapping uint32 arithmetic.
    const std::uint32_t shift = 128u * static_cast<std::uint32_t>(w.row_sums[r0 + r]);
    for (int c = 0; c < kCols; ++c) {
      const std::uint32_t total = static_cast<std::uint32_t>(horizontal_sum(sum[r][c]));
      acc[(r0 + r) * row_stride + (j0 + c) * col_stride] = static_cast<std::int32_t>(total - shift);
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

void gemv_t2i8__avx2_4x1(const PreparedTernaryInt8& w, const std::int8_t* x, std::int32_t* acc,
                         std::int64_t row_begin, std::int64_t row_end) {
  rows_of_tiles<1>(w, x, 0, acc, 1, 0, row_begin, row_end);
}

void gemm_t2i8__avx2_4x2(const PreparedTernaryInt8& w, const std::int8_t* x, std::int64_t p,
                         std::int32_t* acc, std::int64_t row_stride, std::int64_t col_stride,
                         std::int64_t row_begin, std::int64_t row_end) {
  std::int64_t j = 0;
  for (; j + 2 <= p; j += 2) rows_of_tiles<2>(w, x, j, acc, row_stride, col_stride, row_begin, row_end);
  for (; j < p; ++j) rows_of_tiles<1>(w, x, j, acc, row_stride, col_stride, row_begin, row_end);
}

const Int8KernelSet kAvx2Int8{Isa::kAvx2,          "avx2",
                              "quantize_i8__avx2", quantize_i8__avx2,
                              "gemv_t2i8__avx2_4x1", gemv_t2i8__avx2_4x1,
                              "gemm_t2i8__avx2_4x2", gemm_t2i8__avx2_4x2};

}  // namespace

const Int8KernelSet* avx2_int8_kernels_unchecked() { return &kAvx2Int8; }

}  // namespace triton_rt::kernels

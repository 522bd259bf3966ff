// AVX2 transposes between the 8-bit kernels' pixel-major layouts and NCHW: float outputs
// staged position-major (channels contiguous) written out channel-major, and quantized
// channel rows written into an 8-bit image (channels contiguous per pixel). Whole 8 x 8
// blocks go through registers; ragged edges are copied one element at a time.
//
// Included by the AVX2 and AVX-512 kernel files (both compiled with AVX2 enabled); everything
// here has internal linkage.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace triton_rt::kernels {
namespace {

// A residual added on the way out (Int8Output::residual): at the same offsets from
// `residual` as from y, then clamped to [lo, hi] when `clamp`.
struct StoreResidual {
  const float* residual = nullptr;
  bool clamp = false;
  float lo = 0.0f, hi = 0.0f;
  [[gnu::always_inline]] float apply(float v, std::int64_t i) const {
    v = v + residual[i];
    if (clamp) {
      v = v > lo ? v : lo;
      v = v < hi ? v : hi;
    }
    return v;
  }
  [[gnu::always_inline]] __m256 apply8(__m256 v, std::int64_t i) const {
    v = _mm256_add_ps(v, _mm256_loadu_ps(residual + i));
    if (clamp) v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
    return v;
  }
};

// y[c * channel_stride + p] = stage[p * ld + c] for p < positions, c < channels, through
// `res` where it has a residual (offsets from y index it too).
template <bool kResidual>
inline void store_channel_major_with(const float* stage, std::int64_t ld, std::int64_t positions,
                                     std::int64_t channels, float* y, std::int64_t channel_stride,
                                     const StoreResidual& res) {
  auto put8 = [&](std::int64_t i, __m256 v) {
    if constexpr (kResidual) v = res.apply8(v, i);
    _mm256_storeu_ps(y + i, v);
  };
  auto put = [&](std::int64_t i, float v) {
    if constexpr (kResidual) v = res.apply(v, i);
    y[i] = v;
  };
  std::int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    std::int64_t p = 0;
    for (; p + 8 <= positions; p += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(stage + (p + i) * ld + c);
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      const std::int64_t d = c * channel_stride + p;
      put8(d + 0 * channel_stride, _mm256_permute2f128_ps(u0, u4, 0x20));
      put8(d + 1 * channel_stride, _mm256_permute2f128_ps(u1, u5, 0x20));
      put8(d + 2 * channel_stride, _mm256_permute2f128_ps(u2, u6, 0x20));
      put8(d + 3 * channel_stride, _mm256_permute2f128_ps(u3, u7, 0x20));
      put8(d + 4 * channel_stride, _mm256_permute2f128_ps(u0, u4, 0x31));
      put8(d + 5 * channel_stride, _mm256_permute2f128_ps(u1, u5, 0x31));
      put8(d + 6 * channel_stride, _mm256_permute2f128_ps(u2, u6, 0x31));
      put8(d + 7 * channel_stride, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (; p < positions; ++p) {
      for (std::int64_t i = 0; i < 8; ++i) put((c + i) * channel_stride + p, stage[p * ld + c + i]);
    }
  }
  for (; c < channels; ++c) {
    for (std::int64_t p = 0; p < positions; ++p) put(c * channel_stride + p, stage[p * ld + c]);
  }
}

// The same without a residual (`res` null) or with one.
[[maybe_unused]] inline void store_channel_major(const float* stage, std::int64_t ld,
                                                 std::int64_t positions, std::int64_t channels,
                                                 float* y, std::int64_t channel_stride,
                                                 const StoreResidual* res = nullptr) {
  if (res != nullptr && res->residual != nullptr) {
    store_channel_major_with<true>(stage, ld, positions, channels, y, channel_stride, *res);
  } else {
    store_channel_major_with<false>(stage, ld, positions, channels, y, channel_stride, StoreResidual{});
  }
}

// pixel x of the image row at `line` (pitch bytes per pixel), byte c = rows[c * ld + x] for
// x < width, c < channels (with pitch 4, bytes from `channels` to 4 may be overwritten).
[[maybe_unused]] inline void store_pixel_major(const std::uint8_t* rows, std::int64_t ld,
                                               std::int64_t width, std::int64_t channels,
                                               std::uint8_t* line, std::int64_t pitch) {
  if (pitch == 4 && channels <= 4) {
    // RGB-like inputs: 16 pixels of 4 bytes (missing channels get 128) per 4 x 16 transpose.
    std::int64_t x = 0;
    const __m128i fill = _mm_set1_epi8(static_cast<char>(0x80));
    for (; x + 16 <= width; x += 16) {
      __m128i r[4];
      for (int i = 0; i < 4; ++i) {
        r[i] = i < channels ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + i * ld + x)) : fill;
      }
      const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpackhi_epi8(r[0], r[1]);
      const __m128i t2 = _mm_unpacklo_epi8(r[2], r[3]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
      std::uint8_t* d = line + x * 4;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_unpacklo_epi16(t0, t2));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm_unpackhi_epi16(t0, t2));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 32), _mm_unpacklo_epi16(t1, t3));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 48), _mm_unpackhi_epi16(t1, t3));
    }
    for (; x < width; ++x) {
      for (std::int64_t c = 0; c < channels; ++c) line[x * 4 + c] = rows[c * ld + x];
    }
    return;
  }
  std::int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    std::int64_t x = 0;
    for (; x + 8 <= width; x += 8) {
      __m128i r[8];
      for (int i = 0; i < 8; ++i) {
        r[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(rows + (c + i) * ld + x));
      }
      const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpacklo_epi8(r[2], r[3]);
      const __m128i t2 = _mm_unpacklo_epi8(r[4], r[5]), t3 = _mm_unpacklo_epi8(r[6], r[7]);
      const __m128i u0 = _mm_unpacklo_epi16(t0, t1), u1 = _mm_unpackhi_epi16(t0, t1);
      const __m128i u2 = _mm_unpacklo_epi16(t2, t3), u3 = _mm_unpackhi_epi16(t2, t3);
      const __m128i v[4] = {_mm_unpacklo_epi32(u0, u2), _mm_unpackhi_epi32(u0, u2),
                            _mm_unpacklo_epi32(u1, u3), _mm_unpackhi_epi32(u1, u3)};
      std::uint8_t* d = line + x * pitch + c;
      for (int i = 0; i < 4; ++i) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(d + (2 * i) * pitch), v[i]);
        _mm_storeh_pi(reinterpret_cast<__m64*>(d + (2 * i + 1) * pitch), _mm_castsi128_ps(v[i]));
      }
    }
    for (; x < width; ++x) {
      for (std::int64_t i = 0; i < 8; ++i) line[x * pitch + c + i] = rows[(c + i) * ld + x];
    }
  }
  for (; c < channels; ++c) {
    for (std::int64_t x = 0; x < width; ++x) line[x * pitch + c] = rows[c * ld + x];
  }
}

}  // namespace
}  // namespace triton_rt::kernels

// AMX tile convolution kernels for ternary weights: the packers and the tile product (see
// ternary_tiles.h for the method and the layouts). Compiled with -mamx-tile -mamx-bf16 and
// AVX-512 flags; the executor calls them only after tile_conv_available() said yes, and
// TRITON_RT_FORCE_ISA=avx512 (or lower) turns them off. Geometry, detection and weight
// preparation live in ternary_tiles_prepare.cpp, built without ISA flags because they run
// on every CPU. The tests compare against a direct double-precision convolution.
#include "kernels/ternary_tiles.h"

#include "kernels/amx_tile_config.h"

#include <immintrin.h>

// GCC 12's AVX-512 headers build 256-bit halves from _mm256_undefined_*(), which its own
// -Wmaybe-uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>


namespace triton_rt::kernels {
namespace {

// Cuts 16 floats into three bf16 slices whose sum is exact: each slice keeps the top 8
// significant bits of what the previous ones left. Returns the slices as float32 values
// whose low 16 bits are zero.
struct Slices {
  __m512i hi, mid, lo;
};
inline Slices slice(__m512 v) {
  const __m512i mask = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  Slices s;
  s.hi = _mm512_and_si512(_mm512_castps_si512(v), mask);
  const __m512 r1 = _mm512_sub_ps(v, _mm512_castsi512_ps(s.hi));
  s.mid = _mm512_and_si512(_mm512_castps_si512(r1), mask);
  const __m512 r2 = _mm512_sub_ps(r1, _mm512_castsi512_ps(s.mid));
  s.lo = _mm512_and_si512(_mm512_castps_si512(r2), mask);
  return s;
}

// One 32-bit word per position: the bf16 of the even channel low, of the odd channel high.
inline __m512i interleave(__m512i even, __m512i odd) {
  return _mm512_or_si512(_mm512_srli_epi32(even, 16), odd);
}

// Writes `count` (<= 16) words of each slice for positions whose values are in `a` (even
// channel) and `b` (odd channel).
inline void put_words(__m512 a, __m512 b, std::uint32_t* dst[kTileSlices], std::int64_t at,
                      __mmask16 mask) {
  const Slices sa = slice(a), sb = slice(b);
  _mm512_mask_storeu_epi32(dst[0] + at, mask, interleave(sa.hi, sb.hi));
  _mm512_mask_storeu_epi32(dst[1] + at, mask, interleave(sa.mid, sb.mid));
  _mm512_mask_storeu_epi32(dst[2] + at, mask, interleave(sa.lo, sb.lo));
}

inline __mmask16 first_lanes(std::int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// Loads `n` (<= 16) floats at stride `stride` from `src`, zeros past n; a null row is zeros.
inline __m512 load_row(const float* src, std::int64_t stride, std::int64_t n) {
  if (src == nullptr) return _mm512_setzero_ps();
  const __mmask16 m = first_lanes(n);
  if (stride == 1) return _mm512_maskz_loadu_ps(m, src);
  const __m512i index = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                                            5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(static_cast<int>(stride)));
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, index, src, 4);
}

}  // namespace

namespace {

// The unrolled (im2col) form: row k = (channel, tap) of the convolution over the output
// positions. The channels the pairs need are first copied into zero-padded planes, so each
// output row of an im2col row is one unchecked (masked) vector read.
void pack_unrolled(const float* image, const TileConvGeometry& g, std::uint32_t* packed,
                   std::int64_t pair_begin, std::int64_t pair_end, std::vector<float>& padded) {
  const std::int64_t taps = g.kernel_h * g.kernel_w, count = g.out_h * g.out_w;
  const std::int64_t rows = g.height + 2 * g.pad_h, cols = g.width + 2 * g.pad_w;
  const std::int64_t c_begin = std::min(2 * pair_begin / taps, g.channels);
  const std::int64_t c_end = std::min((2 * pair_end + taps - 1) / taps, g.channels);
  float* const planes = tile_conv_zeroed(padded, (c_end - c_begin) * rows * cols);
  for (std::int64_t c = c_begin; c < c_end; ++c) {
    for (std::int64_t y = 0; y < g.height; ++y) {
      const float* src = image + (c * g.height + y) * g.width;
      std::copy(src, src + g.width, planes + ((c - c_begin) * rows + y + g.pad_h) * cols + g.pad_w);
    }
  }
  // Where im2col row k reads its first output row in the padded planes, or null past the
  // rows (its output row oy starts oy * stride rows further). Rows are visited in order, so
  // (channel, tap) advance without divisions.
  std::int64_t next_k = 2 * pair_begin, c = next_k / taps, tap = next_k % taps;
  auto next_source = [&]() -> const float* {
    const float* at = nullptr;
    if (next_k < g.gemm_channels) {
      at = planes + ((c - c_begin) * rows + tap / g.kernel_w) * cols + tap % g.kernel_w;
    }
    ++next_k;
    if (++tap == taps) tap = 0, ++c;
    return at;
  };
  const std::int64_t row_step = g.stride * cols;
  for (std::int64_t pair = pair_begin; pair < pair_end; ++pair) {
    std::uint32_t* dst[kTileSlices];
    for (std::int64_t sl = 0; sl < kTileSlices; ++sl) {
      dst[sl] = packed + (sl * g.pairs() + pair) * g.plane;
      std::fill(dst[sl] + count, dst[sl] + g.plane, 0u);
    }
    const float* even = next_source();
    const float* odd = next_source();
    for (std::int64_t oy = 0; oy < g.out_h; ++oy, even = even ? even + row_step : nullptr,
                      odd = odd ? odd + row_step : nullptr) {
      for (std::int64_t ox = 0; ox < g.out_w; ox += 16) {
        const std::int64_t n = std::min<std::int64_t>(16, g.out_w - ox);
        put_words(load_row(even ? even + ox * g.stride : nullptr, g.stride, n),
                  load_row(odd ? odd + ox * g.stride : nullptr, g.stride, n), dst,
                  oy * g.out_w + ox, first_lanes(n));
      }
    }
  }
}

}  // namespace

void tile_conv_pack(const float* image, const TileConvGeometry& g, std::uint32_t* packed,
                    std::int64_t pair_begin, std::int64_t pair_end, std::vector<float>& scratch) {
  if (g.unrolled) {
    pack_unrolled(image, g, packed, pair_begin, pair_end, scratch);
    return;
  }
  const std::int64_t s = g.stride, plane_used = g.phase_h * g.phase_w;
  for (std::int64_t pair = pair_begin; pair < pair_end; ++pair) {
    const std::int64_t c0 = 2 * pair, c1 = 2 * pair + 1;
    for (std::int64_t py = 0; py < s; ++py) {
      for (std::int64_t px = 0; px < s; ++px) {
        const std::int64_t phase = py * s + px;
        std::uint32_t* dst[kTileSlices];
        for (std::int64_t sl = 0; sl < kTileSlices; ++sl) {
          dst[sl] = packed + ((sl * g.phases + phase) * g.pairs() + pair) * g.plane;
          std::fill(dst[sl] + plane_used, dst[sl] + g.plane, 0u);
        }
        // Phase columns x' whose input column s * x' + px - pad_w lies inside the image.
        const std::int64_t x_begin = std::clamp<std::int64_t>((g.pad_w - px + s - 1) / s, 0, g.phase_w);
        const std::int64_t x_end =
            std::clamp<std::int64_t>((g.width + g.pad_w - px + s - 1) / s, x_begin, g.phase_w);
        for (std::int64_t yq = 0; yq < g.phase_h; ++yq) {
          const std::int64_t row = s * yq + py - g.pad_h;
          const std::int64_t at = yq * g.phase_w;
          if (row < 0 || row >= g.height) {
            for (auto* d : dst) std::fill(d + at, d + at + g.phase_w, 0u);
            continue;
          }
          for (auto* d : dst) {
            std::fill(d + at, d + at + x_begin, 0u);
            std::fill(d + at + x_end, d + at + g.phase_w, 0u);
          }
          const std::int64_t first_col = s * x_begin + px - g.pad_w;
          const float* even = c0 < g.channels ? image + (c0 * g.height + row) * g.width + first_col : nullptr;
          const float* odd = c1 < g.channels ? image + (c1 * g.height + row) * g.width + first_col : nullptr;
          for (std::int64_t x = x_begin; x < x_end; x += 16) {
            const std::int64_t n = std::min<std::int64_t>(16, x_end - x);
            const std::int64_t offset = (x - x_begin) * s;
            const __m512 a = load_row(even ? even + offset : nullptr, s, n);
            const __m512 b = load_row(odd ? odd + offset : nullptr, s, n);
            put_words(a, b, dst, at + x, first_lanes(n));
          }
        }
      }
    }
  }
}

namespace {

// Tiles 0-3 = the products of output block pb (32 positions; 16 when Narrow, tiles 0 and 2
// only) with the weights of 32 output channels at w0 / w1, over every tap, channel block and
// slice.
template <bool Narrow>
inline void accumulate(const std::uint16_t* w0, const std::uint16_t* w1, const TileConvWeights& w,
                       const TileConvGeometry& g, const std::uint32_t* packed, std::int64_t pb) {
  const std::int64_t cblocks = w.channels_padded / 32, s = g.run_stride;
  const std::int64_t act_stride = g.plane * 4;  // bytes between channel pairs
  _tile_zero(0);
  _tile_zero(2);
  if constexpr (!Narrow) {
    _tile_zero(1);
    _tile_zero(3);
  }
  for (std::int64_t i = 0; i < w.kernel_h; ++i) {
    for (std::int64_t j = 0; j < w.kernel_w; ++j) {
      const std::int64_t tap = i * w.kernel_w + j, phase = i % s * s + j % s;
      const std::int64_t offset = i / s * g.phase_w + j / s + pb * 32;
      for (std::int64_t cb = 0; cb < cblocks; ++cb) {
        const std::int64_t tile = (tap * cblocks + cb) * kTileElems;
        _tile_loadd(4, w0 + tile, 64);
        _tile_loadd(5, w1 + tile, 64);
        for (std::int64_t sl = 0; sl < kTileSlices; ++sl) {
          const std::uint32_t* a =
              packed + ((sl * g.phases + phase) * g.pairs() + cb * 16) * g.plane + offset;
          _tile_loadd(6, a, act_stride);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(2, 5, 6);
          if constexpr (!Narrow) {
            _tile_loadd(7, a + 16, act_stride);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
          }
        }
      }
    }
  }
}

}  // namespace

void tile_conv_run(const TileConvWeights& w, const TileConvGeometry& g,
                   const std::uint32_t* packed, const float* bias, Clamp clamp, float* y,
                   std::int64_t unit_begin, std::int64_t unit_end) {
  _tile_loadconfig(&amx::kFullTiles);
  const std::int64_t taps = w.kernel_h * w.kernel_w, cblocks = w.channels_padded / 32;
  const std::int64_t pblocks = g.position_blocks();
  const std::int64_t out_plane = g.out_h * g.out_w;
  alignas(64) float acc[4][256];
  const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
  for (std::int64_t unit = unit_begin; unit < unit_end; ++unit) {
    const std::int64_t ob = g.position_major ? unit % g.out_blocks() : unit / pblocks;
    const std::int64_t pb = g.position_major ? unit / g.out_blocks() : unit % pblocks;
    const std::uint16_t* w0 = w.tiles.data() + 2 * ob * taps * cblocks * kTileElems;
    const std::uint16_t* w1 = w0 + taps * cblocks * kTileElems;
    // A last block of only 16 positions (positions are a multiple of 16) uses half the
    // tiles: a 4x4 output is 16 positions, and would otherwise pay for 32.
    const bool narrow = pb * 32 + 16 >= g.positions;
    if (narrow) {
      accumulate<true>(w0, w1, w, g, packed, pb);
    } else {
      accumulate<false>(w0, w1, w, g, packed, pb);
    }
    _tile_stored(0, acc[0], 64);
    _tile_stored(2, acc[2], 64);
    if (!narrow) {
      _tile_stored(1, acc[1], 64);
      _tile_stored(3, acc[3], 64);
    }
    // Write-back: each half of the 32 positions maps to at most a few runs of one output
    // row; a run's lanes are compressed to the front and stored contiguously.
    for (std::int64_t half = 0; half < (narrow ? 1 : 2); ++half) {
      struct Run {
        __mmask16 lanes;
        std::int64_t count, dst;
      };
      Run runs[16];
      int nruns = 0;
      const std::int64_t q0 = pb * 32 + half * 16;
      for (std::int64_t q = q0; q < q0 + 16;) {
        const std::int64_t oy = q / g.phase_w, ox = q % g.phase_w;
        if (oy >= g.out_h) break;
        const std::int64_t row_end = std::min(q0 + 16, (oy + 1) * g.phase_w);
        const std::int64_t count = std::min(row_end - q, g.out_w - ox);
        if (count > 0) {
          const auto lanes = static_cast<__mmask16>(first_lanes(count) << (q - q0));
          runs[nruns++] = {lanes, count, oy * g.out_w + ox};
        }
        q = row_end;
      }
      if (nruns == 0) continue;
      for (std::int64_t r = 0; r < 32; ++r) {
        const std::int64_t o = ob * 32 + r;
        if (o >= w.out_channels) break;
        __m512 v = _mm512_load_ps(acc[r / 16 * 2 + half] + r % 16 * 16);
        v = _mm512_fmadd_ps(v, _mm512_set1_ps(w.scales[o]),
                            _mm512_set1_ps(bias != nullptr ? bias[o] : 0.0f));
        if (clamp != Clamp::kNone) v = _mm512_max_ps(v, zero);
        if (clamp == Clamp::kRelu6) v = _mm512_min_ps(v, six);
        float* out = y + o * out_plane;
        for (int k = 0; k < nruns; ++k) {
          _mm512_mask_storeu_ps(out + runs[k].dst, first_lanes(runs[k].count),
                                _mm512_maskz_compress_ps(runs[k].lanes, v));
        }
      }
    }
  }
  _tile_release();
}

}  // namespace triton_rt::kernels

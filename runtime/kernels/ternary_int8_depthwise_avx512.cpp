// AVX-512 depthwise convolution for 8-bit activations (compiled with the AVX-512 and VNNI
// flags, as the VNNI set it belongs to; see ternary_int8.h for the layouts). The AVX2 kernel
// widened to zmm: per pair of taps, the two taps' bytes of 64 channels are interleaved
// (vpunpck{l,h}bw, per 128-bit lane) and one vpmaddubsw per 32 channels multiplies both by
// their codes into int16 sums, for 4 positions at a time, each pair's codes loaded once for
// all of them. The codes are the prepared `pair_codes` of two consecutive 32-channel blocks,
// joined into one zmm. The sums are put back in channel order (two lane shuffles), widened
// to int32 16 channels at a time, and written through the AVX-512 write-back, whose
// per-channel constants are loaded once per 16 channels for all 4 positions. Layers of more
// than kFlushTaps taps (whose int16 sums would need widening on the way) run the AVX2
// kernel. Everything here but the entry point has internal linkage.
#include <immintrin.h>

// GCC 12's AVX-512 headers build results from _mm*_undefined_*(), which its own
// -W(maybe-)uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/ternary_int8_avx512_traits.h"
#include "kernels/ternary_int8_depthwise_outputs.h"

namespace triton_rt::kernels {
namespace {

// int16 sums of (q + 128) * code: at most 255 per tap, so 128 taps fit without widening.
constexpr std::int64_t kFlushTaps = 128;
// Positions per step (4 x 2 accumulators, 2 code registers and 4 byte pairs in flight).
constexpr int kStepPositions = 4;
// Channels per step: one zmm of bytes.
constexpr std::int64_t kStepChannels = 64;
// Channel-major float outputs are staged position-major for this many positions
// (ternary_int8_depthwise_outputs.h).
constexpr std::int64_t kStagePositions = 32;

// What a call reads, in locals (the write-back's byte stores could alias anything).
struct Context {
  const std::int8_t* pair_codes;
  std::int64_t padded, taps, pairs;
  const std::int64_t* tap_offsets;
  const std::int32_t* shift;
  const float* factor;
  const float* bias;
  std::int64_t channels;
};

// The codes of tap pair i for channels c..c+63 as the two registers vpunpck{l,h}bw pair
// with: blocks c / 32 and c / 32 + 1 of pair_codes (the second zero past `padded`).
inline void pair_codes64(const Context& cx, std::int64_t i, std::int64_t c, __m512i& lo, __m512i& hi) {
  const std::int8_t* block = cx.pair_codes + (i * cx.padded + c) * 2;  // [lo 32][hi 32] per block
  const bool second = c + 32 < cx.padded;
  const __m256i lo0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
  const __m256i hi0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32));
  const __m256i lo1 = second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 64)) : _mm256_setzero_si256();
  const __m256i hi1 = second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 96)) : _mm256_setzero_si256();
  lo = _mm512_inserti64x4(_mm512_castsi256_si512(lo0), lo1, 1);
  hi = _mm512_inserti64x4(_mm512_castsi256_si512(hi0), hi1, 1);
}

// Channels c..c+63 at NP positions (tap (0, 0) at at[p]) into dst[p] (at channel c): float
// (channels contiguous) or 8-bit; channels from `limit` on are computed but not written
// (another task's, or none).
template <int kPairs, int NP, class Dst>
inline void depthwise64(const Context& cx, const Vnni::Epilogue& ep, const std::uint8_t* const* at,
                        std::int64_t c, std::int64_t limit, Dst* const* dst) {
  __m512i acc[NP][2];
  for (int p = 0; p < NP; ++p) acc[p][0] = acc[p][1] = _mm512_setzero_si512();
  const std::int64_t pairs = kPairs > 0 ? kPairs : cx.pairs;
  for (std::int64_t i = 0; i < pairs; ++i) {
    __m512i w_lo, w_hi;
    pair_codes64(cx, i, c, w_lo, w_hi);
    const std::int64_t t0 = 2 * i, t1 = std::min(2 * i + 1, cx.taps - 1);
    const std::int64_t o0 = cx.tap_offsets[t0] + c, o1 = cx.tap_offsets[t1] + c;
    for (int p = 0; p < NP; ++p) {
      const __m512i a = _mm512_loadu_si512(at[p] + o0);
      const __m512i b = _mm512_loadu_si512(at[p] + o1);
      acc[p][0] = _mm512_add_epi16(acc[p][0], _mm512_maddubs_epi16(_mm512_unpacklo_epi8(a, b), w_lo));
      acc[p][1] = _mm512_add_epi16(acc[p][1], _mm512_maddubs_epi16(_mm512_unpackhi_epi8(a, b), w_hi));
    }
  }
  // Per 128-bit lane l, acc[p][0] holds channels 16l..16l+7 and acc[p][1] 16l+8..16l+15:
  // lanes reordered to (lo0, hi0, lo1, hi1) and (lo2, hi2, lo3, hi3) are channels 0-31 and
  // 32-63 in order.
  __m512i ordered[NP][2];
  for (int p = 0; p < NP; ++p) {
    const __m512i first = _mm512_shuffle_i32x4(acc[p][0], acc[p][1], 0x44);   // lo0 lo1 hi0 hi1
    const __m512i second = _mm512_shuffle_i32x4(acc[p][0], acc[p][1], 0xEE);  // lo2 lo3 hi2 hi3
    ordered[p][0] = _mm512_shuffle_i32x4(first, first, 0xD8);                  // lo0 hi0 lo1 hi1
    ordered[p][1] = _mm512_shuffle_i32x4(second, second, 0xD8);
  }
  for (int g = 0; g < 4; ++g) {  // 16 channels each
    const std::int64_t l = 16 * g;
    const Vnni::Channels ch = Vnni::channels(limit - c - l, cx.shift + c + l, cx.factor + c + l, cx.bias + c + l);
    if (ch.valid <= 0) break;
    for (int p = 0; p < NP; ++p) {
      const __m512i half = ordered[p][g / 2];
      const __m256i sums16 = g % 2 == 0 ? _mm512_castsi512_si256(half) : _mm512_extracti64x4_epi64(half, 1);
      const __m512i sum = _mm512_cvtepi16_epi32(sums16);
      if constexpr (std::is_same_v<Dst, std::uint8_t>) {
        Vnni::finish_q(ep, ch, sum, dst[p] + l);
      } else {
        Vnni::finish_float(ep, ch, sum, dst[p] + l, nullptr);
      }
    }
  }
}

template <int kPairs, class Dst>
inline void depthwise64_positions(const Context& cx, const Vnni::Epilogue& ep, const std::uint8_t* const* at,
                                  int np, std::int64_t c, std::int64_t limit, Dst* const* dst) {
  switch (np) {
    case 4:
      return depthwise64<kPairs, 4>(cx, ep, at, c, limit, dst);
    case 3:
      return depthwise64<kPairs, 3>(cx, ep, at, c, limit, dst);
    case 2:
      return depthwise64<kPairs, 2>(cx, ep, at, c, limit, dst);
    default:
      return depthwise64<kPairs, 1>(cx, ep, at, c, limit, dst);
  }
}

// Positions [pos_begin, pos_end) x channels [c_begin, c_end) in steps of 64 (from c_begin,
// a multiple of 32), writing channels below `limit` only, into `dst_of(pos, oy, ox)`, the
// destination of channel c_begin.
template <int kPairs, class Dst, class DstFn>
void depthwise_run(const Int8DepthwiseJob& job, const Context& cx, const Vnni::Epilogue& ep,
                   std::int64_t c_begin, std::int64_t c_end, std::int64_t limit, std::int64_t pos_begin,
                   std::int64_t pos_end, const DstFn& dst_of) {
  const std::int64_t row_step = job.stride_h * job.padded_width * job.pitch;
  const std::int64_t col_step = job.stride_w * job.pitch;
  const std::uint8_t* const origin = job.origin;
  const std::int64_t out_w = job.out_w;
  std::int64_t oy = pos_begin / out_w, ox = pos_begin % out_w;
  for (std::int64_t pos = pos_begin; pos < pos_end; pos += kStepPositions) {
    const int np = static_cast<int>(std::min<std::int64_t>(kStepPositions, pos_end - pos));
    const std::uint8_t* at[kStepPositions];
    Dst* dst[kStepPositions];
    for (int p = 0; p < np; ++p) {
      at[p] = origin + oy * row_step + ox * col_step;
      dst[p] = dst_of(pos + p, oy, ox);
      if (++ox == out_w) {
        ox = 0;
        ++oy;
      }
    }
    for (std::int64_t c = c_begin; c < c_end; c += kStepChannels) {
      Dst* d[kStepPositions];
      for (int p = 0; p < np; ++p) d[p] = dst[p] + (c - c_begin);
      depthwise64_positions<kPairs>(cx, ep, at, np, c, limit, d);
    }
  }
}

template <int kPairs>
void depthwise_avx512(const Int8DepthwiseJob& job, std::int64_t channel_begin, std::int64_t channel_end,
                      std::int64_t pos_begin, std::int64_t pos_end) {
  const Int8Output& out = job.out;
  const Int8DepthwiseWeights& w = *job.weights;
  const Context cx{w.pair_codes.data(), w.padded,       w.taps,          w.pairs(), job.tap_offsets,
                   w.shift.data(),      w.factor.data(), w.bias.data(), out.channels};
  const Vnni::Epilogue ep(out);
  const std::int64_t end = std::min(channel_end, out.channels);
  depthwise_destinations<kStepChannels, kStagePositions>(
      out, channel_begin, end, pos_begin, pos_end,
      [&](std::int64_t c0, std::int64_t c1, std::int64_t p0, std::int64_t p1, const auto& dst_of) {
        using Dst = std::remove_pointer_t<decltype(dst_of(0, 0, 0))>;
        depthwise_run<kPairs, Dst>(job, cx, ep, c0, c1, end, p0, p1, dst_of);
      });
}

}  // namespace

void depthwise_t2u8__avx512_4x64(const Int8DepthwiseJob& job, std::int64_t channel_begin,
                                 std::int64_t channel_end, std::int64_t pos_begin,
                                 std::int64_t pos_end) {
  const std::int64_t taps = job.weights->taps;
  if (taps > kFlushTaps) {
    avx2_int8_kernels_unchecked()->depthwise(job, channel_begin, channel_end, pos_begin, pos_end);
  } else if (taps == 9) {
    depthwise_avx512<5>(job, channel_begin, channel_end, pos_begin, pos_end);
  } else {
    depthwise_avx512<0>(job, channel_begin, channel_end, pos_begin, pos_end);
  }
}

}  // namespace triton_rt::kernels

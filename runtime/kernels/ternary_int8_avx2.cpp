// AVX2 kernels for 8-bit activations (compiled with -mavx2 -mfma -ffp-contract=off; selected
// only after cpuid, see ternary_int8.cpp), also used by AVX-512 CPUs without VNNI.
//
// Convolution: 6 positions x 2 sub-blocks of 8 output channels (ternary_int8_conv_body.h).
// One step is vpmaddubsw of 4 broadcast activation bytes (q + 128, unsigned) with 8 channels'
// 4 codes: int16 pairs of at most 2 * 255 in magnitude, added in int16 (one instruction per
// 32 products instead of vpmaddwd + vpaddd) and widened to int32 with vpmaddwd by ones every
// 64 steps. 12 accumulators, 2 code registers and the broadcast use 15 of the 16 ymm.
// Depthwise: 2 positions x 32 channels at a time; two taps' bytes interleaved and summed
// with their codes by one vpmaddubsw per 16 channels, in int16 (at most 255 per tap: layers
// of more than 128 taps widen on the way, through vpsignw on zero-extended bytes).
// NCHW float outputs are staged position-major and written a channel row at a time, and
// quantized channel rows go into an image through 8 x 8 byte transposes
// (ternary_int8_transpose.h).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/gelu_avx2.h"
#include "kernels/ternary_int8.h"
#include "kernels/ternary_int8_output.h"
#include "kernels/ternary_int8_depthwise_outputs.h"
#include "kernels/ternary_int8_transpose.h"

namespace triton_rt::kernels {
namespace {

void store_channel_bytes__avx2(const std::uint8_t* rows, std::int64_t ld, std::int64_t width,
                               std::int64_t channels, std::uint8_t* line, std::int64_t pitch) {
  store_pixel_major(rows, ld, width, channels, line, pitch);
}

void quantize_u8__avx2(const float* x, std::int64_t n, float scale, std::uint8_t* q) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 lo = _mm256_set1_ps(-kInt8Max);
  const __m256 hi = _mm256_set1_ps(kInt8Max);
  const __m256i zero = _mm256_set1_epi32(128);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);  // max(NaN, lo) is lo, as in the scalar
    const __m256i i32 = _mm256_add_epi32(_mm256_cvtps_epi32(v), zero);  // ties to even
    const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(i16, i16));
  }
  for (; i < n; ++i) q[i] = quantize_one(x[i], scale);
}

// The write-back's constants (Int8Output), held in registers. A quantized output clamps
// once, after the division: clamp(y, lo, hi) / s then clamped to +-127 equals y / s
// clamped to [max(lo / s, -127), min(hi / s, 127)], since a correctly rounded division
// is monotonic (so q_lo, q_hi replace two clamps).
struct Epilogue8 {
  bool clamp, gelu, quantized, residual_clamp;
  __m256 lo, hi, scale, q_lo, q_hi, residual_lo, residual_hi;
  explicit Epilogue8(const Int8Output& out)
      : clamp(out.clamp),
        gelu(out.gelu),
        quantized(out.q != nullptr),
        residual_clamp(out.residual_clamp),
        lo(_mm256_set1_ps(out.lo)),
        hi(_mm256_set1_ps(out.hi)),
        scale(_mm256_set1_ps(out.q_scale)),
        q_lo(_mm256_set1_ps(out.clamp ? std::max(out.lo / out.q_scale, -kInt8Max) : -kInt8Max)),
        q_hi(_mm256_set1_ps(out.clamp ? std::min(out.hi / out.q_scale, kInt8Max) : kInt8Max)),
        residual_lo(_mm256_set1_ps(out.residual_lo)),
        residual_hi(_mm256_set1_ps(out.residual_hi)) {}
};

// The write-back of one sub-block of 8 channels, of which `valid` exist (Int8Output):
// y = acc * factor + bias (finish8_affine), then the activation and a float store
// (finish8_float, channels contiguous) or quantization (finish8_q). Pointers are at the
// sub-block's first channel.
inline __m256 finish8_affine(__m256i sum, const std::int32_t* shift, const float* factor,
                             const float* bias) {
  const __m256i exact = _mm256_sub_epi32(sum, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift)));
  return _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(exact), _mm256_loadu_ps(factor)),
                       _mm256_loadu_ps(bias));
}

inline __m256 finish8_activate(const Epilogue8& ep, __m256 v) {
  if (ep.clamp) return _mm256_min_ps(_mm256_max_ps(v, ep.lo), ep.hi);
  return ep.gelu ? gelu8(v) : v;
}

inline void finish8_q(const Epilogue8& ep, __m256 affine, std::int64_t valid, std::uint8_t* q) {
  if (valid <= 0) return;
  __m256 v = _mm256_div_ps(ep.gelu ? gelu8(affine) : affine, ep.scale);
  v = _mm256_min_ps(_mm256_max_ps(v, ep.q_lo), ep.q_hi);  // max(NaN, lo) is lo, as in the scalar
  const __m256i i32 = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(128));
  const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
  const __m128i bytes = _mm_packus_epi16(i16, i16);
  if (valid >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q), bytes);
  } else {
    alignas(16) std::uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
    std::memcpy(q, tmp, static_cast<std::size_t>(valid));
  }
}

// v + the residual at r (its first `valid` lanes), clamped for the folded Add's ReLU(6).
inline __m256 finish8_residual(const Epilogue8& ep, __m256 v, std::int64_t valid, const float* r) {
  __m256 x;
  if (valid >= 8) {
    x = _mm256_loadu_ps(r);
  } else {
    alignas(32) float tmp[8] = {};
    std::memcpy(tmp, r, static_cast<std::size_t>(valid) * sizeof(float));
    x = _mm256_load_ps(tmp);
  }
  v = _mm256_add_ps(v, x);
  if (ep.residual_clamp) v = _mm256_min_ps(_mm256_max_ps(v, ep.residual_lo), ep.residual_hi);
  return v;
}

inline void finish8_float(__m256 v, std::int64_t valid, float* y) {
  if (valid >= 8) {
    _mm256_storeu_ps(y, v);
  } else if (valid > 0) {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    std::memcpy(y, tmp, static_cast<std::size_t>(valid) * sizeof(float));
  }
}

struct Avx2 {
  using Acc = __m256i;
  using Sum = __m256i;
  static constexpr int kLanes = 8;
  static constexpr int kBlocks = 2;
  static constexpr int kPositions = 6;
  static constexpr std::int64_t kFlushSteps = 64;
  static Acc zero() { return _mm256_setzero_si256(); }
  static Sum zero_sum() { return _mm256_setzero_si256(); }
  static Acc codes(const std::int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Acc broadcast(const std::uint8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
  }
  static Acc step(Acc acc, Acc act, Acc code) { return _mm256_add_epi16(acc, _mm256_maddubs_epi16(act, code)); }
  static Sum widen(Sum sum, Acc acc) { return _mm256_add_epi32(sum, _mm256_madd_epi16(acc, _mm256_set1_epi16(1))); }
  using Epilogue = Epilogue8;
  // One sub-block's write-back constants, loaded once per tile (see the AVX-512 traits).
  struct Channels {
    std::int64_t valid;
    __m256i shift;
    __m256 factor, bias;
  };
  static Channels channels(std::int64_t valid, const std::int32_t* shift, const float* factor,
                           const float* bias) {
    if (valid <= 0) return {valid, _mm256_setzero_si256(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    return {valid, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift)), _mm256_loadu_ps(factor),
            _mm256_loadu_ps(bias)};
  }
  static __m256 affine(Sum sum, const Channels& c) {
    const __m256i exact = _mm256_sub_epi32(sum, c.shift);
    return _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(exact), c.factor), c.bias);
  }
  static void finish_float(const Epilogue& ep, const Channels& c, Sum sum, float* y, const float* r) {
    if (c.valid <= 0) return;
    __m256 v = finish8_activate(ep, affine(sum, c));
    if (r != nullptr) v = finish8_residual(ep, v, c.valid, r);
    finish8_float(v, c.valid, y);
  }
  static void finish_q(const Epilogue& ep, const Channels& c, Sum sum, std::uint8_t* q) {
    if (c.valid > 0) finish8_q(ep, affine(sum, c), c.valid, q);
  }
  static void store_channel_major(const float* stage, std::int64_t ld, std::int64_t positions,
                                  std::int64_t channels, float* y, std::int64_t channel_stride,
                                  const StoreResidual& res) {
    kernels::store_channel_major(stage, ld, positions, channels, y, channel_stride, &res);
  }
};

}  // namespace
}  // namespace triton_rt::kernels

#include "kernels/ternary_int8_conv_body.h"

namespace triton_rt::kernels {
namespace {

void conv_t2u8__avx2_6x16(const Int8ConvJob& job, std::int64_t block_begin,
                          std::int64_t block_end, std::int64_t pos_begin, std::int64_t pos_end) {
  conv_body<Avx2>(job, block_begin, block_end, pos_begin, pos_end);
}

// int16 sums of (q + 128) * code: at most 255 per tap, so 128 taps fit before widening.
constexpr std::int64_t kDepthwiseFlushTaps = 128;
// Positions per chunk: channel-major float outputs are staged for this many positions.
constexpr std::int64_t kDepthwiseStage = 32;

// What a depthwise call reads, in locals (the write-back's byte stores alias everything).
struct DepthwiseContext {
  const std::int16_t* codes;
  const std::int8_t* pair_codes;
  std::int64_t padded, taps, pairs;
  const std::int64_t* tap_offsets;
  const std::int32_t* shift;
  const float* factor;
  const float* bias;
  std::int64_t channels;
};

// The write-back of 16 channels from c (int32 sums of channels c..c+7 and c+8..c+15) to dst
// (at channel c).
template <class Dst>
inline void depthwise_finish16(const DepthwiseContext& cx, const Epilogue8& ep, __m256i lo,
                               __m256i hi, std::int64_t c, Dst* dst) {
  const __m256i sums[2] = {lo, hi};
  for (int half = 0; half < 2; ++half) {
    const std::int64_t l = 8 * half, valid = cx.channels - c - l;
    if (valid <= 0) return;
    const __m256 v = finish8_affine(sums[half], cx.shift + c + l, cx.factor + c + l, cx.bias + c + l);
    if constexpr (std::is_same_v<Dst, std::uint8_t>) {
      finish8_q(ep, v, valid, dst + l);
    } else {
      finish8_float(finish8_activate(ep, v), valid, dst + l);
    }
  }
}

// 32 channels from c at NP positions (tap (0, 0) at at[p]), written to dst[p] (at channel
// c). kPairs is the number of tap pairs (0: cx.pairs), at most kDepthwiseFlushTaps / 2:
// the int16 sums never need widening on the way. Per pair, the two taps' bytes are
// interleaved (vpunpck{l,h}bw) and one vpmaddubsw per 16 channels multiplies both by their
// codes (pair_codes); each pair's codes are loaded once for all positions. An odd last tap
// pairs with itself under zero codes.
template <int kPairs, int NP, class Dst>
inline void depthwise32(const DepthwiseContext& cx, const Epilogue8& ep, const std::uint8_t* const* at,
                        std::int64_t c, Dst* const* dst) {
  __m256i acc[NP][2];
  for (int p = 0; p < NP; ++p) acc[p][0] = acc[p][1] = _mm256_setzero_si256();
  const std::int64_t pairs = kPairs > 0 ? kPairs : cx.pairs;
  const std::int8_t* codes = cx.pair_codes + c * 2;  // block c / 32 of pair 0
  for (std::int64_t i = 0; i < pairs; ++i, codes += cx.padded * 2) {
    const __m256i w_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
    const __m256i w_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32));
    const std::int64_t t0 = 2 * i, t1 = std::min(2 * i + 1, cx.taps - 1);
    const std::int64_t o0 = cx.tap_offsets[t0] + c, o1 = cx.tap_offsets[t1] + c;
    for (int p = 0; p < NP; ++p) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[p] + o0));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[p] + o1));
      acc[p][0] = _mm256_add_epi16(acc[p][0], _mm256_maddubs_epi16(_mm256_unpacklo_epi8(a, b), w_lo));
      acc[p][1] = _mm256_add_epi16(acc[p][1], _mm256_maddubs_epi16(_mm256_unpackhi_epi8(a, b), w_hi));
    }
  }
  // acc[p][0] holds channels 0-7 and 16-23, acc[p][1] 8-15 and 24-31.
  for (int p = 0; p < NP; ++p) {
    depthwise_finish16(cx, ep, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[p][0])),
                       _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[p][1])), c, dst[p]);
    depthwise_finish16(cx, ep, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[p][0], 1)),
                       _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[p][1], 1)), c + 16,
                       dst[p] + 16);
  }
}

// 16 channels from c at one position, any tap count: int16 sums widened every
// kDepthwiseFlushTaps taps.
template <class Dst>
inline void depthwise16_long(const DepthwiseContext& cx, const Epilogue8& ep, const std::uint8_t* at,
                             std::int64_t c, Dst* dst) {
  __m256i acc = _mm256_setzero_si256();
  __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
  std::int64_t since = 0;
  for (std::int64_t t = 0; t < cx.taps; ++t) {
    const __m256i x = _mm256_cvtepu8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + cx.tap_offsets[t] + c)));
    const __m256i code = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cx.codes + t * cx.padded + c));
    acc = _mm256_add_epi16(acc, _mm256_sign_epi16(x, code));
    if (++since == kDepthwiseFlushTaps || t + 1 == cx.taps) {
      lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc)));
      hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc, 1)));
      acc = _mm256_setzero_si256();
      since = 0;
    }
  }
  depthwise_finish16(cx, ep, lo, hi, c, dst);
}

// Positions [pos_begin, pos_end) x channels [c_begin, c_end) (multiples of 32 from c_begin)
// into `dst_of(pos, oy, ox)`, the destination of channel c_begin.
template <int kPairs, class Dst, class DstFn>
void depthwise_run(const Int8DepthwiseJob& job, const DepthwiseContext& cx, const Epilogue8& ep,
                   std::int64_t c_begin, std::int64_t c_end, std::int64_t pos_begin,
                   std::int64_t pos_end, const DstFn& dst_of) {
  const std::int64_t row_step = job.stride_h * job.padded_width * job.pitch;
  const std::int64_t col_step = job.stride_w * job.pitch;
  const std::uint8_t* const origin = job.origin;
  const std::int64_t out_w = job.out_w;
  std::int64_t oy = pos_begin / out_w, ox = pos_begin % out_w;
  for (std::int64_t pos = pos_begin; pos < pos_end; pos += 2) {
    const int np = pos + 1 < pos_end ? 2 : 1;
    const std::uint8_t* at[2];
    Dst* dst[2];
    for (int p = 0; p < np; ++p) {
      at[p] = origin + oy * row_step + ox * col_step;
      dst[p] = dst_of(pos + p, oy, ox);
      if (++ox == out_w) {
        ox = 0;
        ++oy;
      }
    }
    for (std::int64_t c = c_begin; c < c_end; c += kInt8DepthwiseAlign) {
      if (cx.taps > kDepthwiseFlushTaps) {
        for (int p = 0; p < np; ++p) {
          depthwise16_long(cx, ep, at[p], c, dst[p] + (c - c_begin));
          depthwise16_long(cx, ep, at[p], c + 16, dst[p] + (c - c_begin) + 16);
        }
        continue;
      }
      Dst* d[2] = {dst[0] + (c - c_begin), np == 2 ? dst[1] + (c - c_begin) : nullptr};
      if (np == 2) {
        depthwise32<kPairs, 2>(cx, ep, at, c, d);
      } else {
        depthwise32<kPairs, 1>(cx, ep, at, c, d);
      }
    }
  }
}

template <int kPairs>
void depthwise_avx2(const Int8DepthwiseJob& job, std::int64_t channel_begin, std::int64_t channel_end,
                    std::int64_t pos_begin, std::int64_t pos_end) {
  const Int8Output& out = job.out;
  const Int8DepthwiseWeights& w = *job.weights;
  const DepthwiseContext cx{w.codes.data(), w.pair_codes.data(), w.padded,        w.taps,
                            w.pairs(),      job.tap_offsets,     w.shift.data(),  w.factor.data(),
                            w.bias.data(),  out.channels};
  const Epilogue8 ep(out);
  const std::int64_t end = std::min(channel_end, out.channels);
  depthwise_destinations<kInt8DepthwiseAlign, kDepthwiseStage>(
      out, channel_begin, end, pos_begin, pos_end,
      [&](std::int64_t c0, std::int64_t c1, std::int64_t p0, std::int64_t p1, const auto& dst_of) {
        using Dst = std::remove_pointer_t<decltype(dst_of(0, 0, 0))>;
        depthwise_run<kPairs, Dst>(job, cx, ep, c0, c1, p0, p1, dst_of);
      });
}

void depthwise_t2u8__avx2_2x32(const Int8DepthwiseJob& job, std::int64_t channel_begin,
                               std::int64_t channel_end, std::int64_t pos_begin,
                               std::int64_t pos_end) {
  if (job.weights->taps == 9) {
    depthwise_avx2<5>(job, channel_begin, channel_end, pos_begin, pos_end);
  } else {
    depthwise_avx2<0>(job, channel_begin, channel_end, pos_begin, pos_end);
  }
}

const Int8KernelSet kAvx2Int8{Isa::kAvx2,
                              "avx2",
                              Avx2::kLanes,
                              Avx2::kBlocks,
                              0,
                              "quantize_u8__avx2",
                              quantize_u8__avx2,
                              store_channel_bytes__avx2,
                              "conv_t2u8__avx2_6x16",
                              conv_t2u8__avx2_6x16,
                              "depthwise_t2u8__avx2_2x32",
                              depthwise_t2u8__avx2_2x32};

}  // namespace

const Int8KernelSet* avx2_int8_kernels_unchecked() { return &kAvx2Int8; }

}  // namespace triton_rt::kernels

// AVX2 kernels for 8-bit activations (compiled with -mavx2 -mfma -ffp-contract=off; selected
// only after cpuid, see ternary_int8.cpp), also used by AVX-512 CPUs without VNNI.
//
// Convolution: 6 positions x 2 sub-blocks of 8 output channels (ternary_int8_conv_body.h).
// One step is vpmaddubsw of 4 broadcast activation bytes (q + 128, unsigned) with 8 channels'
// 4 codes: int16 pairs of at most 2 * 255 in magnitude, added in int16 (one instruction per
// 32 products instead of vpmaddwd + vpaddd) and widened to int32 with vpmaddwd by ones every
// 64 steps. 12 accumulators, 2 code registers and the broadcast use 15 of the 16 ymm.
// Depthwise: 16 channels per register; (q + 128) zero-extended to int16 and multiplied by its
// code with vpsignw, summed in int16 (at most 255 per tap, widened every 128 taps).
#include <immintrin.h>

#include <cstring>

#include "kernels/ternary_int8.h"
#include "kernels/ternary_int8_output.h"

namespace triton_rt::kernels {
namespace {

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

// The write-back of 8 channels from o at position pos (Int8Output).
inline void finish8(const Int8Output& out, __m256i sum, std::int64_t o, std::int64_t pos,
                    std::int64_t out_w, const std::int32_t* shift, const float* factor,
                    const float* bias) {
  const std::int64_t valid = std::min<std::int64_t>(8, out.channels - o);
  if (valid <= 0) return;
  const __m256i exact = _mm256_sub_epi32(sum, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift + o)));
  __m256 y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(exact), _mm256_loadu_ps(factor + o)),
                           _mm256_loadu_ps(bias + o));
  if (out.clamp) y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(out.lo)), _mm256_set1_ps(out.hi));
  if (out.q != nullptr) {
    __m256 v = _mm256_div_ps(y, _mm256_set1_ps(out.q_scale));
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-kInt8Max)), _mm256_set1_ps(kInt8Max));
    const __m256i i32 = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(128));
    const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
    const __m128i bytes = _mm_packus_epi16(i16, i16);
    std::uint8_t* dst = out.q + out.q_layout.offset(pos / out_w, pos % out_w) + o;
    if (valid == 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), bytes);
    } else {
      alignas(16) std::uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
      std::memcpy(dst, tmp, static_cast<std::size_t>(valid));
    }
    return;
  }
  float* dst = out.y + o * out.channel_stride + pos * out.position_stride;
  if (out.channel_stride == 1 && valid == 8) {
    _mm256_storeu_ps(dst, y);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, y);
  for (std::int64_t l = 0; l < valid; ++l) dst[l * out.channel_stride] = tmp[l];
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
  static void finish(const Int8Output& out, Sum sum, std::int64_t o, std::int64_t pos,
                     std::int64_t out_w, const std::int32_t* shift, const float* factor,
                     const float* bias) {
    finish8(out, sum, o, pos, out_w, shift, factor, bias);
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

void depthwise_t2u8__avx2_16(const Int8DepthwiseJob& job, std::int64_t channel_begin,
                             std::int64_t channel_end, std::int64_t pos_begin,
                             std::int64_t pos_end) {
  const Int8DepthwiseWeights& w = *job.weights;
  const std::int64_t row_step = job.stride_h * job.padded_width * job.pitch;
  const std::int64_t col_step = job.stride_w * job.pitch;
  const std::int64_t end = std::min(channel_end, job.out.channels);
  for (std::int64_t pos = pos_begin; pos < pos_end; ++pos) {
    const std::uint8_t* at = job.origin + (pos / job.out_w) * row_step + (pos % job.out_w) * col_step;
    for (std::int64_t c = channel_begin; c < end; c += 16) {
      __m256i acc = _mm256_setzero_si256();
      __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
      std::int64_t since = 0;
      for (std::int64_t t = 0; t < w.taps; ++t) {
        const __m256i x = _mm256_cvtepu8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + job.tap_offsets[t] + c)));
        const __m256i code = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.codes.data() + t * w.padded + c));
        acc = _mm256_add_epi16(acc, _mm256_sign_epi16(x, code));
        if (++since == kDepthwiseFlushTaps || t + 1 == w.taps) {
          lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc)));
          hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc, 1)));
          acc = _mm256_setzero_si256();
          since = 0;
        }
      }
      finish8(job.out, lo, c, pos, job.out_w, w.shift.data(), w.factor.data(), w.bias.data());
      finish8(job.out, hi, c + 8, pos, job.out_w, w.shift.data(), w.factor.data(), w.bias.data());
    }
  }
}

const Int8KernelSet kAvx2Int8{Isa::kAvx2,
                              "avx2",
                              Avx2::kLanes,
                              Avx2::kBlocks,
                              "quantize_u8__avx2",
                              quantize_u8__avx2,
                              "conv_t2u8__avx2_6x16",
                              conv_t2u8__avx2_6x16,
                              "depthwise_t2u8__avx2_16",
                              depthwise_t2u8__avx2_16};

}  // namespace

const Int8KernelSet* avx2_int8_kernels_unchecked() { return &kAvx2Int8; }

}  // namespace triton_rt::kernels

// The AVX-512 traits of the 8-bit convolution (ternary_int8_conv_body.h): vpdpbusd steps
// over 16-channel sub-blocks and the zmm write-back, shared by the VNNI kernel
// (ternary_int8_avx512vnni.cpp) and the AMX kernel (ternary_int8_amx.cpp), whose tile
// products end in the same write-back. Included only by files compiled with AVX-512 and
// VNNI flags; everything here has internal linkage.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/gelu.h"
#include "kernels/ternary_int8.h"
#include "kernels/ternary_int8_transpose.h"

namespace triton_rt::kernels {
namespace {

struct Vnni {
  using Acc = __m512i;
  using Sum = __m512i;
  static constexpr int kLanes = 16;
  static constexpr int kBlocks = 4;
  static constexpr int kPositions = 6;
  static constexpr std::int64_t kFlushSteps = 0;
  static Acc zero() { return _mm512_setzero_si512(); }
  static Sum zero_sum() { return _mm512_setzero_si512(); }
  static Acc codes(const std::int8_t* p) { return _mm512_loadu_si512(p); }
  static Acc broadcast(const std::uint8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
  }
  static Acc step(Acc acc, Acc act, Acc code) { return _mm512_dpbusd_epi32(acc, act, code); }
  static Sum widen(Sum sum, Acc acc) { return _mm512_add_epi32(sum, acc); }

  // The write-back's constants (Int8Output), held in registers.
  // q_lo, q_hi: one clamp after the division for quantized outputs, as in the AVX2 file.
  struct Epilogue {
    bool clamp, gelu, quantized, residual_clamp;
    __m512 lo, hi, scale, q_lo, q_hi, residual_lo, residual_hi;
    explicit Epilogue(const Int8Output& out)
        : clamp(out.clamp),
          gelu(out.gelu),
          quantized(out.q != nullptr),
          residual_clamp(out.residual_clamp),
          lo(_mm512_set1_ps(out.lo)),
          hi(_mm512_set1_ps(out.hi)),
          scale(_mm512_set1_ps(out.q_scale)),
          q_lo(_mm512_set1_ps(out.clamp ? std::max(out.lo / out.q_scale, -kInt8Max) : -kInt8Max)),
          q_hi(_mm512_set1_ps(out.clamp ? std::min(out.hi / out.q_scale, kInt8Max) : kInt8Max)),
          residual_lo(_mm512_set1_ps(out.residual_lo)),
          residual_hi(_mm512_set1_ps(out.residual_hi)) {}
  };
  static __mmask16 lanes_mask(std::int64_t valid) {
    return valid >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1u);
  }
  // One sub-block's write-back constants, loaded once for all the positions of a tile (the
  // byte stores of quantized outputs would otherwise force a reload after every store).
  struct Channels {
    std::int64_t valid;  // channels from the first that exist (<= 0: none)
    __mmask16 mask;
    __m512i shift;
    __m512 factor, bias;
  };
  static Channels channels(std::int64_t valid, const std::int32_t* shift, const float* factor,
                           const float* bias) {
    if (valid <= 0) return {valid, 0, _mm512_setzero_si512(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    return {valid, lanes_mask(valid), _mm512_loadu_si512(shift), _mm512_loadu_ps(factor), _mm512_loadu_ps(bias)};
  }
  // acc * factor + bias for one sub-block.
  static __m512 affine(Sum sum, const Channels& c) {
    const __m512i exact = _mm512_sub_epi32(sum, c.shift);
    return _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(exact), c.factor), c.bias);
  }
  // gelu_erf (kernels/gelu.h) on 16 lanes: the same operations in the same order.
  static __m512 gelu16(__m512 x) {
    const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(kInvSqrt2));
    const __m512 c = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-kErfBound)), _mm512_set1_ps(kErfBound));
    const __m512 z = _mm512_mul_ps(c, c);
    __m512 p = _mm512_set1_ps(kErfP[0]), q = _mm512_set1_ps(kErfQ[0]);
    for (int i = 1; i < 6; ++i) {
      p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(kErfP[i]));
      q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(kErfQ[i]));
    }
    const __m512 erf = _mm512_div_ps(_mm512_mul_ps(c, p), q);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
  }
  // The write-back of one sub-block of 16 channels (of which c.valid exist) at one
  // position: float to y (channels contiguous, plus the residual at r unless it is null),
  // or quantized to q.
  static void finish_float(const Epilogue& ep, const Channels& c, Sum sum, float* y, const float* r) {
    if (c.valid <= 0) return;
    __m512 v = affine(sum, c);
    if (ep.clamp) {
      v = _mm512_min_ps(_mm512_max_ps(v, ep.lo), ep.hi);
    } else if (ep.gelu) {
      v = gelu16(v);
    }
    if (r != nullptr) {  // the folded residual Add
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(c.mask, r));
      if (ep.residual_clamp) v = _mm512_min_ps(_mm512_max_ps(v, ep.residual_lo), ep.residual_hi);
    }
    _mm512_mask_storeu_ps(y, c.mask, v);
  }
  static void finish_q(const Epilogue& ep, const Channels& c, Sum sum, std::uint8_t* q) {
    if (c.valid <= 0) return;
    const __m512 y = affine(sum, c);
    __m512 v = _mm512_div_ps(ep.gelu ? gelu16(y) : y, ep.scale);
    v = _mm512_min_ps(_mm512_max_ps(v, ep.q_lo), ep.q_hi);  // max(NaN, lo) is lo
    // cvtps rounds to nearest even (the default MXCSR mode); the results are in [1, 255].
    const __m512i i32 = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(128));
    const __m128i bytes = _mm512_cvtusepi32_epi8(i32);
    if (c.valid >= 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q), bytes);
    } else {
      _mm_mask_storeu_epi8(q, c.mask, bytes);
    }
  }
  static void store_channel_major(const float* stage, std::int64_t ld, std::int64_t positions,
                                  std::int64_t channels, float* y, std::int64_t channel_stride,
                                  const StoreResidual& res) {
    kernels::store_channel_major(stage, ld, positions, channels, y, channel_stride, &res);
  }
};


}  // namespace
}  // namespace triton_rt::kernels

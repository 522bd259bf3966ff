// AVX2 depthwise kernel (see depthwise.h): 32 outputs of a row per step (the row's last 1
// to 4 vectors in one step), independent FMA chains sharing each broadcast tap; stride 2
// de-interleaves the even inputs of two loads with a shuffle and a permute.
#include <immintrin.h>

#include <algorithm>

#include "kernels/depthwise.h"

namespace triton_rt::kernels {
namespace {

// 8 inputs of a row at stride `Stride` from `at`: a load, or for stride 2 the even floats of
// two loads (a shuffle and a lane permute; a gather is several times slower on Zen).
template <int Stride>
inline __m256 inputs(const float* at) {
  if constexpr (Stride == 1) {
    return _mm256_loadu_ps(at);
  } else {
    const __m256 t = _mm256_shuffle_ps(_mm256_loadu_ps(at), _mm256_loadu_ps(at + 8), 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xD8));
  }
}

// U vectors of 8 outputs of row oy from ox on: U independent FMA chains (one chain waited
// out the FMA latency at every tap), each broadcast tap used U times.
template <int Stride, int U>
inline void outputs(const DepthwiseShape& s, const float* padded, std::int64_t cols,
                    const float* taps, float bias, Clamp clamp, std::int64_t oy, std::int64_t ox,
                    __m256 (&acc)[U]) {
  for (auto& a : acc) a = _mm256_set1_ps(bias);
  for (std::int64_t i = 0; i < s.kernel_h; ++i) {
    const float* row = padded + (oy * Stride + i) * cols + ox * Stride;
    for (std::int64_t j = 0; j < s.kernel_w; ++j) {
      const __m256 tap = _mm256_set1_ps(taps[i * s.kernel_w + j]);
      for (int u = 0; u < U; ++u) {
        acc[u] = _mm256_fmadd_ps(tap, inputs<Stride>(row + j + 8 * u * Stride), acc[u]);
      }
    }
  }
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
  for (auto& a : acc) {
    if (clamp != Clamp::kNone) a = _mm256_max_ps(a, zero);
    if (clamp == Clamp::kRelu6) a = _mm256_min_ps(a, six);
  }
}

// The last U vectors of row oy from ox on (the last one possibly partial: n outputs).
template <int Stride, int U>
void row_end(const DepthwiseShape& s, const float* padded, std::int64_t cols, const float* taps,
             float bias, Clamp clamp, std::int64_t oy, std::int64_t ox, float* dst) {
  __m256 acc[U];
  outputs<Stride, U>(s, padded, cols, taps, bias, clamp, oy, ox, acc);
  for (int u = 0; u + 1 < U; ++u) _mm256_storeu_ps(dst + ox + 8 * u, acc[u]);
  const std::int64_t last = ox + 8 * (U - 1), n = std::min<std::int64_t>(8, s.out_w - last);
  if (n == 8) {
    _mm256_storeu_ps(dst + last, acc[U - 1]);
  } else {
    alignas(32) float tail[8];
    _mm256_store_ps(tail, acc[U - 1]);
    std::copy(tail, tail + n, dst + last);
  }
}

template <int Stride>
void rows(const DepthwiseShape& s, const float* padded, const float* taps, float bias,
          Clamp clamp, float* out) {
  constexpr int kWide = 4;
  const std::int64_t cols = s.scratch_cols();
  for (std::int64_t oy = 0; oy < s.out_h; ++oy) {
    float* dst = out + oy * s.out_w;
    std::int64_t ox = 0;
    for (; ox + 8 * kWide < s.out_w; ox += 8 * kWide) {
      __m256 acc[kWide];
      outputs<Stride, kWide>(s, padded, cols, taps, bias, clamp, oy, ox, acc);
      for (int u = 0; u < kWide; ++u) _mm256_storeu_ps(dst + ox + 8 * u, acc[u]);
    }
    // 1 to 4 vectors are left, as independent chains too (a 28-wide row is one step).
    switch ((s.out_w - ox + 7) / 8) {
      case 4: row_end<Stride, 4>(s, padded, cols, taps, bias, clamp, oy, ox, dst); break;
      case 3: row_end<Stride, 3>(s, padded, cols, taps, bias, clamp, oy, ox, dst); break;
      case 2: row_end<Stride, 2>(s, padded, cols, taps, bias, clamp, oy, ox, dst); break;
      case 1: row_end<Stride, 1>(s, padded, cols, taps, bias, clamp, oy, ox, dst); break;
      default: break;
    }
  }
}

void depthwise_f32f32__avx2_1x8(const float* in, const DepthwiseShape& s, const float* taps,
                                float bias, Clamp clamp, float* out, float* scratch) {
  depthwise_padded(in, s, taps, bias, clamp, out, scratch, rows<1>, rows<2>);
}

const DepthwiseKernel kAvx2 = {Isa::kAvx2, "depthwise_f32f32__avx2_1x8", depthwise_f32f32__avx2_1x8};

}  // namespace

const DepthwiseKernel* depthwise_avx2() { return &kAvx2; }

}  // namespace triton_rt::kernels

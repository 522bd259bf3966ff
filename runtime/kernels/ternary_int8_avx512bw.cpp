// AVX-512BW kernels for 8-bit activations, for AVX-512 CPUs without VNNI (compiled with
// -mavx512f -mavx512bw -mavx512dq -mavx512vl; selected only after cpuid, see
// ternary_int8.cpp). The u8 x s8 products go through vpmaddubsw (pairs to int16: at most
// 2 * 255 in magnitude, since codes are -1, 0 or +1, so it never saturates) and vpmaddwd
// (pairs to int32).
#include <immintrin.h>

// GCC 12's AVX-512 headers build results from _mm*_undefined_*(), which its own
// -W(maybe-)uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "kernels/ternary_int8.h"

namespace triton_rt::kernels {
namespace {

inline __m512i dot_u8s8(__m512i acc, __m512i u, __m512i s) {
  const __m512i pairs = _mm512_maddubs_epi16(u, s);
  return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
}

}  // namespace
}  // namespace triton_rt::kernels

#include "kernels/ternary_int8_avx512_body.h"

namespace triton_rt::kernels {

const Int8KernelSet* avx512bw_int8_kernels_unchecked() {
  static const Int8KernelSet set{Isa::kAvx512,
                                 "avx512bw",
                                 "quantize_i8__avx512",
                                 quantize_i8__avx512,
                                 "gemv_t2i8__avx512bw_4x1",
                                 gemv_avx512,
                                 "gemm_t2i8__avx512bw_4x4",
                                 gemm_avx512};
  return &set;
}

}  // namespace triton_rt::kernels

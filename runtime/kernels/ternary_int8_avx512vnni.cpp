// AVX512-VNNI kernels for 8-bit activations (compiled with the AVX-512 flags plus
// -mavx512vnni; selected only when cpuid reports avx512vnni, see ternary_int8.cpp). One
// vpdpbusd multiplies 64 u8 x s8 pairs and adds each group of four into an int32 lane.
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
  return _mm512_dpbusd_epi32(acc, u, s);
}

}  // namespace
}  // namespace triton_rt::kernels

#include "kernels/ternary_int8_avx512_body.h"

namespace triton_rt::kernels {

const Int8KernelSet* avx512vnni_int8_kernels_unchecked() {
  static const Int8KernelSet set{Isa::kAvx512,
                                 "avx512vnni",
                                 "quantize_i8__avx512",
                                 quantize_i8__avx512,
                                 "gemv_t2i8__avx512vnni_4x1",
                                 gemv_avx512,
                                 "gemm_t2i8__avx512vnni_4x4",
                                 gemm_avx512};
  return &set;
}

}  // namespace triton_rt::kernels

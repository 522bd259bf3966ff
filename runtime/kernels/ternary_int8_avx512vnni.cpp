// AVX512-VNNI convolution kernel for 8-bit activations (compiled with the AVX-512 flags plus
// -mavx512vnni -ffp-contract=off; selected only when cpuid reports avx512vnni, see
// ternary_int8.cpp). One vpdpbusd multiplies 4 broadcast activation bytes (q + 128) with
// 16 channels' 4 codes and adds into int32 lanes, so there is nothing to widen. The tile is
// 6 positions x 4 sub-blocks of 16 channels (ternary_int8_conv_body.h): 24 accumulators,
// 4 code registers and the broadcast in the 32 zmm. Depthwise convolutions run the AVX-512
// kernel of ternary_int8_depthwise_avx512.cpp; quantization uses the AVX2 kernel.
#include <immintrin.h>

// GCC 12's AVX-512 headers build results from _mm*_undefined_*(), which its own
// -W(maybe-)uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "kernels/ternary_int8_avx512_traits.h"
#include "kernels/ternary_int8_conv_body.h"

namespace triton_rt::kernels {
namespace {

void conv_t2u8__avx512vnni_6x64(const Int8ConvJob& job, std::int64_t block_begin,
                                std::int64_t block_end, std::int64_t pos_begin,
                                std::int64_t pos_end) {
  conv_body<Vnni>(job, block_begin, block_end, pos_begin, pos_end);
}

}  // namespace

const Int8KernelSet* avx512vnni_int8_kernels_unchecked() {
  static const Int8KernelSet set = [] {
    Int8KernelSet s = *avx2_int8_kernels_unchecked();
    s.isa = Isa::kAvx512;
    s.variant = "avx512vnni";
    s.lanes = Vnni::kLanes;
    s.tile_blocks = Vnni::kBlocks;
    s.conv_name = "conv_t2u8__avx512vnni_6x64";
    s.conv = conv_t2u8__avx512vnni_6x64;
    s.depthwise_name = "depthwise_t2u8__avx512_4x64";
    s.depthwise = depthwise_t2u8__avx512_4x64;
    s.depthwise_step = 64;
    return s;
  }();
  return &set;
}

}  // namespace triton_rt::kernels

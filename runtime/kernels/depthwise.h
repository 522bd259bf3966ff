// Depthwise convolution kernels (one input channel per output channel, float32 weights
// already scaled), one channel per call, with bias and ReLU/ReLU6 fused.
//
// The SIMD variants copy the channel into a zero-padded scratch plane first, so their inner
// loop has no bounds checks: an output row is 16 (AVX-512) or 8 (AVX2) outputs at a time,
// one FMA per kernel tap, stride-2 inputs de-interleaved in registers. The scalar variant is
// the reference the tests compare them against. Dilation is not supported here (the
// executor's direct loop handles it).
#pragma once

#include <cstdint>

#include "kernels/ternary.h"

namespace triton_rt::kernels {

struct DepthwiseShape {
  std::int64_t height = 0, width = 0, kernel_h = 0, kernel_w = 0;
  std::int64_t stride = 1, pad_h = 0, pad_w = 0, out_h = 0, out_w = 0;
  // The padded scratch plane: rows and row length (with slack for whole-vector reads).
  std::int64_t scratch_rows() const { return height + 2 * pad_h; }
  std::int64_t scratch_cols() const { return (out_w + 15) / 16 * 16 * stride + kernel_w + 16; }
  std::int64_t scratch_floats() const { return scratch_rows() * scratch_cols(); }
};

// out[oy, ox] = clamp(bias + sum_ij taps[i * kernel_w + j] * in[oy * s - pad_h + i,
// ox * s - pad_w + j]), zero outside the input. `scratch` holds scratch_floats() floats.
using DepthwiseFn = void (*)(const float* in, const DepthwiseShape& shape, const float* taps,
                             float bias, Clamp clamp, float* out, float* scratch);

struct DepthwiseKernel {
  Isa isa;
  const char* name;
  DepthwiseFn run;
};

// The kernel of one ISA level (levels the CPU lacks fall back to the best it has; AMX adds
// nothing here and uses the AVX-512 kernel). Strides other than 1 and 2 use the reference.
const DepthwiseKernel& depthwise_kernel(Isa isa);

void depthwise_f32f32__scalar_1x1(const float* in, const DepthwiseShape& shape, const float* taps,
                               float bias, Clamp clamp, float* out, float* scratch);
const DepthwiseKernel* depthwise_avx2();
const DepthwiseKernel* depthwise_avx512();

// The body of the SIMD variants: strides 1 and 2 copy the input into the zero-padded scratch
// plane and run `stride1` / `stride2` over it; other strides use the reference.
using DepthwiseRowsFn = void (*)(const DepthwiseShape& shape, const float* padded,
                                 const float* taps, float bias, Clamp clamp, float* out);
void depthwise_padded(const float* in, const DepthwiseShape& shape, const float* taps, float bias,
                      Clamp clamp, float* out, float* scratch, DepthwiseRowsFn stride1,
                      DepthwiseRowsFn stride2);

}  // namespace triton_rt::kernels

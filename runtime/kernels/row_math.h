// Row kernels of the float ops that normalize along a contiguous row: softmax (attention
// scores) and layer norm (transformer blocks). In ViT-B/16 these ran as scalar loops with one
// std::exp per element and serial double sums, and took a quarter of the model's time at
// batch 1 beside its ternary matrix products.
//
// Each ISA level has a variant; the scalar one is the reference the tests compare the SIMD
// ones against (tests/runtime/test_row_math.cpp). All of them compute
//   softmax:    e_j = exp_poly(x_j - max(x)), y_j = e_j * (1 / sum_j e_j), the sum in double;
//   layer norm: mean and variance in double (two passes), y = float((x - mean) * inv_std),
//               then y * weight + bias in float;
// so SIMD results differ from the reference only by the order of the double sums and by
// fused multiply-adds inside the exp polynomial (a few float ulps). exp_poly is exp_poly.h.
#pragma once

#include <cstdint>

#include "kernels/ternary.h"

namespace triton_rt::kernels {

// Softmax of `row` (n >= 1 floats, contiguous) in place. A row whose entries are all -inf
// gives NaN (0 / 0, as PyTorch does).
using SoftmaxRowFn = void (*)(float* row, std::int64_t n);
// Layer norm of `x` (n >= 1 floats) into `y` (may be x); weight and bias may be null.
using LayerNormRowFn = void (*)(const float* x, std::int64_t n, float eps, const float* weight,
                                const float* bias, float* y);

struct RowMathKernels {
  Isa isa;
  const char* name;  // rowmath_f32__<isa>_<lanes>
  SoftmaxRowFn softmax;
  LayerNormRowFn layer_norm;
};

// The kernels of one ISA level (levels the CPU lacks fall back to the best it has; AMX adds
// nothing here and uses AVX-512's).
const RowMathKernels& row_math_kernels(Isa isa);

const RowMathKernels* row_math_avx2();
const RowMathKernels* row_math_avx512();

}  // namespace triton_rt::kernels

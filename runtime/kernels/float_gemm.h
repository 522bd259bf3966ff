// Float32 matrix product kernels for the ops whose weights are float (float linear and conv
// layers) and for MatMul between activations (attention): C = A * B with row-major
// A [m, k], B [k, n], C [m, n] and leading dimensions. Each variant blocks 4 rows of A
// against a strip of B columns held in registers, one FMA per (row, vector, k); the scalar
// variant is the reference the tests compare them against.
#pragma once

#include <cstdint>

#include "kernels/ternary.h"

namespace triton_rt::kernels {

struct FloatGemmArgs {
  const float* a;
  std::int64_t lda;
  const float* b;
  std::int64_t ldb;
  float* c;
  std::int64_t ldc;
  std::int64_t m, k, n;
};

// Overwrites C with A * B.
using FloatGemmFn = void (*)(const FloatGemmArgs& args);

struct FloatGemmKernel {
  Isa isa;
  const char* name;
  FloatGemmFn run;
  // Rows of A per pass over B: a call whose row count is not a multiple of it pays a whole
  // pass for the remainder, so callers split rows in multiples of it.
  std::int64_t rows;
};

// The kernel of one ISA level (levels the CPU lacks fall back to the best it has; AMX uses
// the AVX-512 kernel).
const FloatGemmKernel& float_gemm_kernel(Isa isa);

void gemm_f32f32__scalar_1x1(const FloatGemmArgs& args);
const FloatGemmKernel* float_gemm_avx2();
const FloatGemmKernel* float_gemm_avx512();

}  // namespace triton_rt::kernels

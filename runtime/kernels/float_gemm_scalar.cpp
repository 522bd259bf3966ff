// The scalar reference float32 matrix product and the run-time choice of variant (see
// float_gemm.h).
#include <algorithm>

#include "kernels/float_gemm.h"

namespace triton_rt::kernels {

void gemm_f32f32__scalar_1x1(const FloatGemmArgs& g) {
  for (std::int64_t i = 0; i < g.m; ++i) {
    float* c = g.c + i * g.ldc;
    std::fill(c, c + g.n, 0.0f);
    for (std::int64_t p = 0; p < g.k; ++p) {
      const float a = g.a[i * g.lda + p];
      const float* b = g.b + p * g.ldb;
      for (std::int64_t j = 0; j < g.n; ++j) c[j] += a * b[j];
    }
  }
}

namespace {
const FloatGemmKernel kScalar = {Isa::kScalar, "gemm_f32f32__scalar_1x1", gemm_f32f32__scalar_1x1, 1};
}  // namespace

const FloatGemmKernel& float_gemm_kernel(Isa isa) {
  const Isa best = detected_isa();
  if (static_cast<int>(isa) > static_cast<int>(best)) isa = best;
  if (isa == Isa::kAvx512 || isa == Isa::kAmx) return *float_gemm_avx512();
  if (isa == Isa::kAvx2) return *float_gemm_avx2();
  return kScalar;
}

}  // namespace triton_rt::kernels

// The scalar row kernels (row_math.h): the reference of the SIMD variants, and the kernels
// of CPUs without AVX2. Also the per-ISA dispatch.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/exp_poly.h"
#include "kernels/row_math.h"

namespace triton_rt::kernels {
namespace {

void softmax_row_scalar(float* row, std::int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < n; ++j) mx = std::max(mx, row[j]);
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    const float e = exp_poly(row[j] - mx);
    row[j] = e;
    sum += e;
  }
  const auto scale = static_cast<float>(1.0 / sum);
  for (std::int64_t j = 0; j < n; ++j) row[j] *= scale;
}

void layer_norm_row_scalar(const float* x, std::int64_t n, float eps, const float* weight,
                           const float* bias, float* y) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(n);
  double sq = 0.0;
  for (std::int64_t i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
  for (std::int64_t i = 0; i < n; ++i) {
    float v = static_cast<float>((x[i] - mean) * inv);
    if (weight != nullptr) v *= weight[i];
    if (bias != nullptr) v += bias[i];
    y[i] = v;
  }
}

const RowMathKernels kScalar = {Isa::kScalar, "rowmath_f32__scalar_1", softmax_row_scalar,
                                layer_norm_row_scalar};

}  // namespace

const RowMathKernels& row_math_kernels(Isa isa) {
  const Isa best = detected_isa();
  if (static_cast<int>(isa) > static_cast<int>(best)) isa = best;
  if (isa == Isa::kAvx512 || isa == Isa::kAmx) return *row_math_avx512();
  if (isa == Isa::kAvx2) return *row_math_avx2();
  return kScalar;
}

}  // namespace triton_rt::kernels

// Scalar reference kernels for 8-bit activations (see ternary_int8.h): the ground truth
// every SIMD variant is tested against, and the kernels of CPUs without AVX2. They sum the
// signed products directly, without the +128 shift the SIMD variants use.
#include <cmath>

#include "kernels/ternary_int8.h"

namespace triton_rt::kernels {
namespace {

void quantize_i8__scalar(const float* x, std::int64_t n, float scale, std::int8_t* q) {
  for (std::int64_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    // Written as the SIMD max/min instructions behave: a NaN compares false and becomes
    // the bound, and the cast below only ever sees a value in [-127, 127].
    v = v > -kInt8Max ? v : -kInt8Max;
    v = v < kInt8Max ? v : kInt8Max;
    q[i] = static_cast<std::int8_t>(std::nearbyint(v));  // ties to even (default mode)
  }
}

std::int32_t dot_row(const PreparedTernaryInt8& w, std::int64_t r, const std::int8_t* x) {
  const std::int8_t* codes = w.codes.data() + r * w.padded_cols;
  std::int32_t sum = 0;
  for (std::int64_t k = 0; k < w.cols; ++k) sum += std::int32_t{codes[k]} * x[k];
  return sum;
}

void gemv_t2i8__scalar(const PreparedTernaryInt8& w, const std::int8_t* x, std::int32_t* acc,
                       std::int64_t row_begin, std::int64_t row_end) {
  for (std::int64_t r = row_begin; r < row_end; ++r) acc[r] = dot_row(w, r, x);
}

void gemm_t2i8__scalar(const PreparedTernaryInt8& w, const std::int8_t* x, std::int64_t p,
                       std::int32_t* acc, std::int64_t row_stride, std::int64_t col_stride,
                       std::int64_t row_begin, std::int64_t row_end) {
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    for (std::int64_t j = 0; j < p; ++j) {
      acc[r * row_stride + j * col_stride] = dot_row(w, r, x + j * w.padded_cols);
    }
  }
}

const Int8KernelSet kScalarInt8{Isa::kScalar,          "scalar",
                                "quantize_i8__scalar", quantize_i8__scalar,
                                "gemv_t2i8__scalar",   gemv_t2i8__scalar,
                                "gemm_t2i8__scalar",   gemm_t2i8__scalar};

}  // namespace

const Int8KernelSet* scalar_int8_kernels() { return &kScalarInt8; }

}  // namespace triton_rt::kernels

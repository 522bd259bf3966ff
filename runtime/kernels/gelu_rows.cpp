// The GELU run's dispatch and its scalar reference (gelu_rows.h).
#include "kernels/gelu_rows.h"

#include "kernels/gelu.h"
#include "kernels/ternary.h"

namespace triton_rt::kernels {

void gelu_inplace__scalar(float* d, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) d[i] = gelu_erf(d[i]);
}

void gelu_inplace(float* d, std::int64_t n) {
  static const GeluFn fn = [] {
    const GeluFn avx2 = gelu_inplace_avx2();
    return selected_isa() >= Isa::kAvx2 && avx2 != nullptr ? avx2 : gelu_inplace__scalar;
  }();
  fn(d, n);
}

}  // namespace triton_rt::kernels

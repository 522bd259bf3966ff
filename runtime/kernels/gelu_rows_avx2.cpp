// AVX2 GELU run (gelu_rows.h): 8 lanes of gelu8 per step, the tail through a zero-padded
// vector (compiled with -mavx2 -ffp-contract=off: no fused multiply-adds, so every lane
// matches the scalar gelu_erf bit for bit).
#include <immintrin.h>

#include <cstring>

#include "kernels/gelu_avx2.h"
#include "kernels/gelu_rows.h"

namespace triton_rt::kernels {
namespace {

void gelu_inplace__avx2(float* d, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, gelu8(_mm256_loadu_ps(d + i)));
  if (i < n) {
    alignas(32) float tail[8] = {};
    const auto left = static_cast<std::size_t>(n - i);
    std::memcpy(tail, d + i, left * sizeof(float));
    _mm256_store_ps(tail, gelu8(_mm256_load_ps(tail)));
    std::memcpy(d + i, tail, left * sizeof(float));
  }
}

}  // namespace

GeluFn gelu_inplace_avx2() { return gelu_inplace__avx2; }

}  // namespace triton_rt::kernels

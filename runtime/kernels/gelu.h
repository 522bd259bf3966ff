// GELU in its erf form, as the runtime computes it everywhere: the float activation op
// (executor/ops_elementwise.cpp) and the 8-bit kernels' fused write-back, which must agree
// bit for bit (a value handed on in 8 bits is quantized from this result).
//
// erf(x) is x * P(x^2) / Q(x^2) on [-4, 4] (erf is 1 to float precision beyond): a rational
// least-squares fit with at most 3e-7 absolute error over the whole line, branch-free so
// loops over it vectorize (std::erf does not, and dominated ViT's MLP layers). SIMD copies
// evaluate the same operations in the same order (no fused multiply-adds). Everything here
// has internal linkage: files compiled with different ISA flags include it.
#pragma once

#include <algorithm>

namespace triton_rt::kernels {
namespace {

// Coefficients of z^5 .. z^0 in P and Q.
constexpr float kErfP[] = {2.0446464e-06f, 2.8374447e-04f, 3.7414160e-03f,
                           5.2666465e-02f, 1.8991401e-01f, 1.1283792f};
constexpr float kErfQ[] = {3.7979510e-05f, 1.1557013e-03f, 1.4919187e-02f,
                           1.1389036e-01f, 5.0163974e-01f, 1.0f};
constexpr float kErfBound = 4.0f;
constexpr float kInvSqrt2 = 0.70710678118654752f;

[[maybe_unused]] inline float erf_rational(float x) {
  const float c = std::min(kErfBound, std::max(-kErfBound, x));
  const float z = c * c;
  float p = 0.0f, q = 0.0f;
  for (int i = 0; i < 6; ++i) {
    p = p * z + kErfP[i];
    q = q * z + kErfQ[i];
  }
  return c * p / q;
}

// 0.5 * x * (1 + erf(x / sqrt(2))).
[[maybe_unused]] inline float gelu_erf(float x) {
  return 0.5f * x * (1.0f + erf_rational(x * kInvSqrt2));
}

}  // namespace
}  // namespace triton_rt::kernels

// exp(x) for float32 as the row kernels compute it (row_math.h), in every ISA variant.
//
// Range reduction x = n ln2 + r with n = floor(x log2(e) + 1/2) and |r| <= ln2 / 2 (ln2 split
// in two constants so n ln2 is exact enough), a degree-5 polynomial for (e^r - 1 - r) / r^2
// (the classic single-precision minimax fit, within 2 ulps of exp over the whole float
// range), then 2^n built in the exponent bits. Inputs below kExpMin (where exp is below the
// smallest normal float) give 0, inputs above kExpMax give +inf; NaN stays NaN. The SIMD
// variants evaluate the same steps lane by lane. Internal linkage: files compiled with
// different ISA flags include it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace triton_rt::kernels {
namespace {

constexpr float kExpMax = 88.3762626647949f;   // log(FLT_MAX)
constexpr float kExpMin = -87.3365447504019f;  // log(FLT_MIN)
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;          // ln 2 in 9 bits: n * kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;       // ln 2 - kLn2Hi
// p(r) with e^r = 1 + r + r^2 p(r), coefficients from r^5 down to r^0.
constexpr float kExpP[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                           4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

[[maybe_unused]] inline float exp_poly(float x) {
  if (std::isnan(x)) return x;
  if (x < kExpMin) return 0.0f;
  if (x > kExpMax) return std::numeric_limits<float>::infinity();
  const float n = std::floor(x * kLog2e + 0.5f);
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = kExpP[0];
  for (int i = 1; i < 6; ++i) p = p * r + kExpP[i];
  const float y = p * (r * r) + r + 1.0f;
  // n is in [-126, 128]: 2^n as float bits, split in two factors so n = 128 (x just below
  // kExpMax) does not overflow the exponent field.
  const auto half = static_cast<std::int32_t>(n) / 2;
  const std::int32_t bits_a = (half + 127) << 23, bits_b = (static_cast<std::int32_t>(n) - half + 127) << 23;
  float a, b;
  std::memcpy(&a, &bits_a, 4);
  std::memcpy(&b, &bits_b, 4);
  return y * a * b;
}

}  // namespace
}  // namespace triton_rt::kernels

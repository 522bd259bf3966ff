// The row kernels (kernels/row_math.h): exp_poly against std::exp over the float range, and
// every softmax / layer-norm variant the CPU runs against the scalar reference on ragged row
// lengths (1 to 1000, whole and partial vectors), with large, -inf and constant entries.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/exp_poly.h"
#include "kernels/gelu_rows.h"
#include "kernels/row_math.h"

using namespace triton_rt::kernels;

namespace {

const std::int64_t kLengths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 197, 768, 1000};

std::vector<Isa> isas_here() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
    if (static_cast<int>(isa) <= static_cast<int>(detected_isa())) isas.push_back(isa);
  }
  return isas;
}

}  // namespace

TEST(RowMath, ExpPolyIsWithinTwoUlpsOfExp) {
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    const float got = exp_poly(x);
    const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
    ASSERT_LE(std::fabs(got - want), 2.0 * ulp) << "x = " << x;
  }
  EXPECT_EQ(exp_poly(0.0f), 1.0f);
  EXPECT_EQ(exp_poly(-100.0f), 0.0f);
  EXPECT_EQ(exp_poly(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_TRUE(std::isinf(exp_poly(89.0f)));
  EXPECT_TRUE(std::isnan(exp_poly(std::nanf(""))));
  EXPECT_GT(exp_poly(88.3f), 1e38f);  // 2^n near the top of the exponent range
}

TEST(RowMath, SoftmaxVariantsMatchScalarReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (std::int64_t n : kLengths) {
    for (int pattern = 0; pattern < 3; ++pattern) {
      std::vector<float> x(n);
      for (auto& v : x) v = dist(rng);
      if (pattern == 1) x[n / 2] = 80.0f;  // one dominant entry: the others underflow
      if (pattern == 2) {                  // masked entries, as attention masks write them
        for (std::int64_t i = 0; i < n; i += 3) x[i] = -std::numeric_limits<float>::infinity();
        if (n == 1) x[0] = 1.0f;
      }
      std::vector<float> want = x;
      row_math_kernels(Isa::kScalar).softmax(want.data(), n);
      double total = 0.0;
      for (float v : want) total += v;
      ASSERT_NEAR(total, 1.0, 1e-5) << "n=" << n;
      for (Isa isa : isas_here()) {
        const RowMathKernels& k = row_math_kernels(isa);
        std::vector<float> got = x;
        got.push_back(-7.0f);  // a guard element past the row
        k.softmax(got.data(), n);
        for (std::int64_t i = 0; i < n; ++i) {
          ASSERT_NEAR(got[i], want[i], 1e-6f * (1.0f + want[i])) << k.name << " n=" << n << " at " << i;
        }
        EXPECT_EQ(got.back(), -7.0f) << k.name << " wrote past the row";
      }
    }
  }
}

TEST(RowMath, LayerNormVariantsMatchScalarReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(3.0f, 2.0f);
  for (std::int64_t n : kLengths) {
    for (int affine = 0; affine < 3; ++affine) {
      std::vector<float> x(n), w(n), b(n);
      for (auto& v : x) v = dist(rng);
      for (auto& v : w) v = dist(rng);
      for (auto& v : b) v = dist(rng);
      if (affine == 2) std::fill(x.begin(), x.end(), 5.0f);  // zero variance: y = bias
      const float* wp = affine ? w.data() : nullptr;
      const float* bp = affine ? b.data() : nullptr;
      std::vector<float> want(n);
      row_math_kernels(Isa::kScalar).layer_norm(x.data(), n, 1e-5f, wp, bp, want.data());
      for (Isa isa : isas_here()) {
        const RowMathKernels& k = row_math_kernels(isa);
        std::vector<float> got(n + 1, -7.0f);
        k.layer_norm(x.data(), n, 1e-5f, wp, bp, got.data());
        for (std::int64_t i = 0; i < n; ++i) {
          ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i]))) << k.name << " n=" << n << " at " << i;
        }
        EXPECT_EQ(got.back(), -7.0f) << k.name << " wrote past the row";
        // In place (y == x), as the executor may run it.
        std::vector<float> in_place = x;
        k.layer_norm(in_place.data(), n, 1e-5f, wp, bp, in_place.data());
        for (std::int64_t i = 0; i < n; ++i) ASSERT_NEAR(in_place[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])));
      }
    }
  }
}

TEST(RowMath, NamesFollowTheConvention) {
  for (Isa isa : isas_here()) {
    const RowMathKernels& k = row_math_kernels(isa);
    const Isa expect = isa == Isa::kAmx ? Isa::kAvx512 : isa;
    EXPECT_EQ(k.isa, expect);
    EXPECT_EQ(std::string(k.name).rfind(std::string("rowmath_f32__") + isa_name(expect) + "_", 0), 0u);
  }
}

// The AVX2 GELU run equals the scalar gelu_erf bit for bit (the float op and the 8-bit
// write-back rely on it): ragged lengths (a tail inside one vector), the clamp of erf at
// +-4, zeros of both signs, infinities and NaN.
TEST(RowMath, GeluAvx2MatchesScalarBitForBit) {
  const GeluFn avx2 = gelu_inplace_avx2();
  if (avx2 == nullptr || detected_isa() < Isa::kAvx2) GTEST_SKIP() << "this CPU has no avx2";
  std::mt19937 rng(23);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (std::int64_t n : {1, 7, 8, 9, 31, 3072}) {
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    if (n > 8) {
      x[0] = 0.0f, x[1] = -0.0f, x[2] = std::numeric_limits<float>::infinity();
      x[3] = -std::numeric_limits<float>::infinity(), x[4] = std::nanf(""), x[5] = 40.0f;
      x[6] = -5.657f, x[7] = 1e-30f;
    }
    std::vector<float> want = x, got = x;
    gelu_inplace__scalar(want.data(), n);
    avx2(got.data(), n);
    for (std::int64_t i = 0; i < n; ++i) {
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << n << " at " << i;
      } else {
        EXPECT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want[i]))
            << n << " at " << i << " x=" << x[i];
      }
    }
  }
}

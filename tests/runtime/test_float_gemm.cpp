// Every float32 matrix-product variant the CPU runs against the scalar reference, on shapes
// with ragged rows (not a multiple of 4) and columns (not a multiple of the vector strip),
// with leading dimensions wider than the matrices, and empty products (k = 0 writes zeros).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/float_gemm.h"

using namespace triton_rt::kernels;

TEST(FloatGemm, VariantsMatchScalarReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist;
  struct Shape {
    std::int64_t m, k, n;
  };
  const Shape shapes[] = {{1, 1, 1},     {3, 5, 7},       {4, 16, 64}, {5, 33, 65}, {17, 64, 197},
                          {197, 64, 197}, {9, 3, 130},     {4, 0, 20},  {0, 8, 8},   {8, 9, 33},
                          {2, 7, 48},     {6, 2, 33},      {7, 10, 31}, {15, 5, 32}};
  for (const Shape& s : shapes) {
    const std::int64_t lda = s.k + 3, ldb = s.n + 5, ldc = s.n + 2;
    std::vector<float> a(s.m * lda), b(s.k * ldb);
    for (auto& v : a) v = dist(rng);
    for (auto& v : b) v = dist(rng);
    std::vector<float> want(s.m * ldc, 0.0f);
    gemm_f32f32__scalar_1x1({a.data(), lda, b.data(), ldb, want.data(), ldc, s.m, s.k, s.n});
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
      if (static_cast<int>(isa) > static_cast<int>(detected_isa())) continue;
      const FloatGemmKernel& kernel = float_gemm_kernel(isa);
      std::vector<float> got(s.m * ldc, -3.0f);
      kernel.run({a.data(), lda, b.data(), ldb, got.data(), ldc, s.m, s.k, s.n});
      for (std::int64_t i = 0; i < s.m; ++i) {
        for (std::int64_t j = 0; j < ldc; ++j) {
          if (j >= s.n) {
            ASSERT_EQ(got[i * ldc + j], -3.0f) << kernel.name << " wrote past column " << s.n;
            continue;
          }
          ASSERT_NEAR(got[i * ldc + j], want[i * ldc + j], 1e-4f * (1.0f + std::sqrt(float(s.k))))
              << kernel.name << " m=" << s.m << " k=" << s.k << " n=" << s.n << " at " << i << "," << j;
        }
      }
    }
  }
}

TEST(FloatGemm, NamesFollowTheConvention) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(detected_isa())) continue;
    const FloatGemmKernel& kernel = float_gemm_kernel(isa);
    EXPECT_EQ(kernel.isa, isa);
    EXPECT_EQ(std::string(kernel.name).rfind(std::string("gemm_f32f32__") + isa_name(isa) + "_", 0), 0u);
  }
}

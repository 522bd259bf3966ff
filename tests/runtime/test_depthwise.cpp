// Every depthwise kernel variant the CPU runs against the scalar reference: odd image sizes,
// stride 1 and 2, padding 0..2 (different per axis), square and 3x1 / 1x5 kernels, every
// fused clamp, output rows of whole and partial 32-output steps (64, 70, 65 wide), with a
// guard element past the output.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/depthwise.h"

using namespace triton_rt::kernels;

TEST(Depthwise, VariantsMatchScalarReference) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  struct Case {
    std::int64_t h, w, kh, kw, stride, ph, pw;
  };
  const Case cases[] = {{7, 7, 3, 3, 1, 1, 1},   {112, 112, 3, 3, 2, 1, 1}, {5, 9, 3, 3, 2, 0, 0},
                        {17, 31, 5, 5, 1, 2, 2}, {3, 3, 3, 3, 1, 1, 1},     {14, 14, 1, 1, 1, 0, 0},
                        {9, 20, 5, 5, 2, 2, 2},  {1, 1, 3, 3, 1, 1, 1},     {33, 18, 3, 3, 2, 1, 1},
                        {6, 40, 3, 3, 1, 0, 0},  {10, 12, 3, 1, 1, 1, 0},   {8, 21, 1, 5, 2, 0, 2},
                        {5, 64, 3, 3, 1, 1, 1},  {4, 70, 3, 3, 1, 1, 1},    {7, 129, 3, 3, 2, 1, 1},
                        {3, 130, 3, 3, 1, 1, 1}, {9, 60, 5, 5, 2, 2, 2}, {11, 17, 3, 3, 1, 1, 1}};
  int clamp_index = 0;
  for (const Case& c : cases) {
    DepthwiseShape s;
    s.height = c.h, s.width = c.w, s.kernel_h = c.kh, s.kernel_w = c.kw, s.stride = c.stride;
    s.pad_h = c.ph, s.pad_w = c.pw;
    s.out_h = (c.h + 2 * c.ph - c.kh) / c.stride + 1;
    s.out_w = (c.w + 2 * c.pw - c.kw) / c.stride + 1;
    std::vector<float> in(c.h * c.w), taps(c.kh * c.kw);
    for (auto& v : in) v = dist(rng);
    for (auto& v : taps) v = dist(rng);
    const float bias = dist(rng);
    const Clamp clamp = static_cast<Clamp>(clamp_index++ % 3);
    std::vector<float> want(s.out_h * s.out_w);
    depthwise_f32f32__scalar_1x1(in.data(), s, taps.data(), bias, clamp, want.data(), nullptr);
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
      if (static_cast<int>(isa) > static_cast<int>(detected_isa())) continue;
      const DepthwiseKernel& kernel = depthwise_kernel(isa);
      std::vector<float> scratch(s.scratch_floats());
      std::vector<float> got(want.size() + 1, -7.0f);  // one guard element past the end
      kernel.run(in.data(), s, taps.data(), bias, clamp, got.data(), scratch.data());
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])))
            << kernel.name << " h=" << c.h << " w=" << c.w << " k=" << c.kh << "x" << c.kw
            << " s=" << c.stride << " at " << i;
      }
      EXPECT_EQ(got.back(), -7.0f) << kernel.name << " wrote past the output";
    }
  }
}

TEST(Depthwise, NamesFollowTheConvention) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(detected_isa())) continue;
    const DepthwiseKernel& kernel = depthwise_kernel(isa);
    EXPECT_EQ(kernel.isa, isa);
    EXPECT_EQ(std::string(kernel.name).rfind(std::string("depthwise_f32f32__") + isa_name(isa) + "_", 0), 0u);
  }
}

// The executor's ops against naive reference loops: ternary and float convolutions
// (general, strided, dilated, grouped, depthwise, 1x1, the implicit-column paths), linear through both the GEMV and the
// GEMM path, pooling, and the shape and normalization ops. Every kernel level the CPU has
// is exercised via TRITON_RT_FORCE_ISA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "executor/engine.h"
#include "executor/ops.h"
#include "test_support.h"
#include "tpk_builder.h"

using namespace triton_rt;
using namespace triton_rt::test_support;

namespace {

void expect_all_near(const Tensor& got, const std::vector<std::int64_t>& shape,
                     const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.shape, shape) << what;
  ASSERT_EQ(got.data.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got.data[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << what << " at " << i;
  }
}

struct ConvCase {
  int n, c, h, w, o, k, stride, pad, dil, groups;
};

// Runs every case under each ISA the CPU has.
class EachIsa : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { setenv("TRITON_RT_FORCE_ISA", GetParam(), 1); }
  void TearDown() override { unsetenv("TRITON_RT_FORCE_ISA"); }
};

}  // namespace

TEST_P(EachIsa, Conv2dMatchesNaiveLoops) {
  std::mt19937 rng(11);
  const std::vector<ConvCase> cases = {
      {1, 3, 9, 7, 5, 3, 1, 1, 1, 1},  {2, 4, 8, 8, 6, 3, 2, 1, 1, 1}, {1, 5, 6, 6, 7, 1, 1, 0, 1, 1},
      {1, 8, 7, 9, 8, 3, 1, 1, 1, 8},  {2, 6, 9, 9, 6, 3, 2, 1, 1, 6}, {1, 4, 9, 9, 6, 3, 1, 2, 2, 2},
      {1, 3, 17, 17, 33, 3, 1, 1, 1, 1}, {1, 4, 5, 5, 8, 1, 2, 0, 1, 1},
      // Stride-1 convolutions that the dense kernel runs on implicit columns (AVX2): 1x1 read
      // in place (64 positions), 1x1 with padding, dilated, K past one 256-deep block, and a
      // batch split into whole images per worker; from 1024 positions, few channels split
      // over chunks of positions (3x3 padded, 1x1 in place, a batch).
      {1, 6, 8, 8, 7, 1, 1, 0, 1, 1},  {1, 3, 4, 4, 5, 1, 1, 1, 1, 1}, {1, 4, 9, 9, 6, 3, 1, 2, 2, 1},
      {1, 32, 6, 6, 7, 3, 1, 1, 1, 1}, {3, 5, 8, 8, 6, 3, 1, 1, 1, 1}, {1, 4, 32, 34, 6, 3, 1, 1, 1, 1},
      {1, 5, 32, 32, 7, 1, 1, 0, 1, 1}, {2, 3, 33, 33, 5, 3, 1, 1, 1, 1},
      // The table GEMM (AVX2: 96 outputs, 36 inputs) over shifted-plane im2col columns.
      {1, 4, 6, 5, 96, 3, 1, 1, 1, 1}, {1, 4, 7, 7, 100, 3, 1, 2, 2, 1},
      // 100 outputs over 3 inputs (no table GEMM) and 1024 positions: a position split.
      {1, 3, 32, 32, 100, 1, 1, 0, 1, 1},
      // AVX-512: reductions past kDecodedMaxCols (ternary.h) stay on gemm_oc, the shorter ones
      // above run as a float GEMM over the decoded weights; 33 outputs cross two 16-row blocks.
      {1, 40, 5, 5, 33, 3, 1, 1, 1, 1}, {2, 30, 6, 6, 17, 3, 2, 1, 1, 1},
      // AVX-512: stride-1 3x3 layers with rows of at least 16 outputs and more than 256
      // inputs run gemm_oc over the shifted planes (no im2col): 33 outputs (a partial
      // 16-row block), and a batch of two 16 x 16 images.
      {1, 32, 7, 18, 33, 3, 1, 1, 1, 1}, {2, 30, 16, 16, 20, 3, 1, 1, 1, 1}};
  for (const ConvCase& t : cases) {
    for (bool ternary : {true, false}) {
      const int cg = t.c / t.groups, og = t.o / t.groups, kk = cg * t.k * t.k;
      const int oh = (t.h + 2 * t.pad - t.dil * (t.k - 1) - 1) / t.stride + 1;
      const int ow = (t.w + 2 * t.pad - t.dil * (t.k - 1) - 1) / t.stride + 1;
      std::vector<float> weights(t.o * kk), scales(t.o);
      TpkBuilder b;
      const auto x = b.value({t.n, t.c, t.h, t.w}), y = b.value({t.n, t.o, oh, ow});
      std::uint32_t wt;
      if (ternary) {
        const auto codes = random_codes(t.o * kk, rng);
        for (int r = 0; r < t.o; ++r) scales[r] = 0.5f + 0.1f * r;
        for (int i = 0; i < t.o * kk; ++i) weights[i] = codes[i] * scales[i / kk];
        wt = b.ternary_tensor(codes, t.o, kk, scales, false);
      } else {
        weights = random_vector(t.o * kk, rng);
        wt = b.float_tensor({t.o, cg, t.k, t.k}, weights);
      }
      const auto bias = random_vector(t.o, rng);
      const auto bt = b.float_tensor({t.o}, bias);
      b.op(OpKind::kConv2d, {x}, y, {t.k, t.k, t.stride, t.stride, t.pad, t.pad, t.dil, t.dil, t.groups},
           {}, {wt, bt}, Activation::kRelu6);
      b.input(x);
      b.output(y);
      Tensor in({t.n, t.c, t.h, t.w});
      in.data = random_vector(in.data.size(), rng);
      std::vector<float> want;
      for (int n = 0; n < t.n; ++n) {
        for (int o = 0; o < t.o; ++o) {
          const int g = o / og;
          for (int yy = 0; yy < oh; ++yy) {
            for (int xx = 0; xx < ow; ++xx) {
              double acc = bias[o];
              for (int c = 0; c < cg; ++c) {
                for (int i = 0; i < t.k; ++i) {
                  for (int j = 0; j < t.k; ++j) {
                    const int iy = yy * t.stride - t.pad + i * t.dil, ix = xx * t.stride - t.pad + j * t.dil;
                    if (iy < 0 || iy >= t.h || ix < 0 || ix >= t.w) continue;
                    acc += weights[o * kk + (c * t.k + i) * t.k + j] *
                           in.data[((n * t.c + g * cg + c) * t.h + iy) * t.w + ix];
                  }
                }
              }
              want.push_back(std::min(6.0f, std::max(0.0f, static_cast<float>(acc))));
            }
          }
        }
      }
      expect_all_near(run_engine(b.bytes(), in, 2), {t.n, t.o, oh, ow}, want,
                      std::string("conv ") + (ternary ? "ternary" : "float") + " c=" +
                          std::to_string(t.c) + " groups=" + std::to_string(t.groups));
    }
  }
}

TEST_P(EachIsa, LinearGemvAndGemmPathsMatchNaive) {
  std::mt19937 rng(12);
  for (int rows : {1, 3, 4, 9, 70}) {
    for (auto [o, k] : std::vector<std::pair<int, int>>{{5, 17}, {33, 64}, {10, 784}}) {
      const auto codes = random_codes(o * k, rng);
      std::vector<float> scales(o);
      for (int r = 0; r < o; ++r) scales[r] = 0.25f + 0.05f * r;
      TpkBuilder b;
      const auto x = b.value({rows, k}), y = b.value({rows, o});
      const auto wt = b.ternary_tensor(codes, o, k, scales, rows % 2 == 1);
      b.op(OpKind::kLinear, {x}, y, {}, {}, {wt, format::kAbsent});
      b.input(x);
      b.output(y);
      Tensor in({rows, k});
      in.data = random_vector(in.data.size(), rng);
      std::vector<float> want;
      for (int n = 0; n < rows; ++n) {
        for (int r = 0; r < o; ++r) {
          double acc = 0;
          for (int i = 0; i < k; ++i) acc += codes[r * k + i] * in.data[n * k + i];
          want.push_back(static_cast<float>(acc * scales[r]));
        }
      }
      expect_all_near(run_engine(b.bytes(), in, 3), {rows, o}, want,
                      "linear rows=" + std::to_string(rows) + " " + std::to_string(o) + "x" + std::to_string(k));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, EachIsa, ::testing::Values("scalar", "avx2", "avx512", "amx"));

TEST(Executor, Pooling) {
  TpkBuilder b;
  const auto x = b.value({1, 1, 4, 4}), m = b.value({1, 1, 2, 2}), a = b.value({1, 1, 2, 2}),
             g = b.value({1, 1, 3, 3});
  b.op(OpKind::kMaxPool2d, {x}, m, {3, 3, 2, 2, 1, 1});
  b.op(OpKind::kAvgPool2d, {x}, a, {2, 2, 2, 2, 0, 0, 1});
  b.op(OpKind::kAdaptiveAvgPool2d, {x}, g, {3, 3});
  b.input(x);
  b.output(m);
  b.output(a);
  b.output(g);
  Tensor in({1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) in.data[i] = static_cast<float>(i);
  auto engine = Engine::from_bytes(b.bytes(), {1});
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto out = engine.value()->run({in});
  ASSERT_TRUE(out.ok()) << out.message();
  expect_all_near(out.value()[0], {1, 1, 2, 2}, {5, 7, 13, 15}, "max pool");
  expect_all_near(out.value()[1], {1, 1, 2, 2}, {2.5f, 4.5f, 10.5f, 12.5f}, "avg pool");
  // adaptive 4 -> 3: windows [0,2), [1,3), [2,4) in each direction
  expect_all_near(out.value()[2], {1, 1, 3, 3}, {2.5f, 3.5f, 4.5f, 6.5f, 7.5f, 8.5f, 10.5f, 11.5f, 12.5f},
                  "adaptive avg pool");
}

TEST(Executor, ShapeOpsFollowTheBatch) {
  // x[B, 2, 3] -> permute(0,2,1) -> reshape(-2, 6) -> concat(dim 1) with itself -> slice 1..12:3
  TpkBuilder b;
  const auto x = b.value({2, 2, 3}), p = b.value({2, 3, 2}), r = b.value({2, 6}), c = b.value({2, 12}),
             s = b.value({2, 4}), e = b.value({1, 4}), cat2 = b.value({3, 4});
  b.op(OpKind::kPermute, {x}, p, {0, 2, 1});
  b.op(OpKind::kReshape, {p}, r, {-2, 6});
  b.op(OpKind::kConcat, {r, r}, c, {1});
  b.op(OpKind::kSlice, {c}, s, {1, 1, 12, 3});
  const auto k = b.float_tensor({1, 4}, {9, 8, 7, 6});
  const auto kv = b.value({1, 4});
  b.op(OpKind::kConstant, {}, kv, {}, {}, {k});
  b.op(OpKind::kExpand, {kv}, e, {-2, -1});
  b.op(OpKind::kConcat, {s, e}, cat2, {0});
  b.input(x);
  b.output(cat2);
  for (int batch : {1, 3}) {
    Tensor in({batch, 2, 3});
    for (int i = 0; i < batch * 6; ++i) in.data[i] = static_cast<float>(i);
    std::vector<float> want;
    for (int n = 0; n < batch; ++n) {
      std::vector<float> row;
      for (int j = 0; j < 3; ++j) for (int i = 0; i < 2; ++i) row.push_back(in.data[n * 6 + i * 3 + j]);
      std::vector<float> twice = row;
      twice.insert(twice.end(), row.begin(), row.end());
      for (int q = 1; q < 12; q += 3) want.push_back(twice[q]);
    }
    for (int n = 0; n < batch; ++n) want.insert(want.end(), {9, 8, 7, 6});
    expect_all_near(run_engine(b.bytes(), in, 2), {2 * batch, 4}, want, "shape ops, batch " + std::to_string(batch));
  }
}

TEST(Executor, GraphInputsAndDyingValuesAreReshapedCorrectly) {
  // x is read in place (and is also an output); x + x dies at its reshape, which takes its
  // data; a reshape of the graph input itself copies.
  TpkBuilder b;
  const auto x = b.value({2, 3}), sum = b.value({2, 3}), flat = b.value({6}), flat_x = b.value({3, 2});
  b.op(OpKind::kAdd, {x, x}, sum);
  b.op(OpKind::kReshape, {sum}, flat, {6});
  b.op(OpKind::kReshape, {x}, flat_x, {3, 2});
  b.input(x);
  b.output(flat);
  b.output(flat_x);
  b.output(x);
  auto engine = Engine::from_bytes(b.bytes(), {1});
  ASSERT_TRUE(engine.ok()) << engine.message();
  Tensor in({2, 3});
  in.data = {1, 2, 3, 4, 5, 6};
  const std::vector<Tensor> borrowed{in};
  for (int run = 0; run < 4; ++run) {
    // Borrowed inputs (even runs) stay the caller's; handed-over ones (odd runs) are used
    // three times here, so the reshape still copies.
    auto out = run % 2 == 0 ? engine.value()->run(borrowed) : engine.value()->run(std::vector<Tensor>{in});
    ASSERT_TRUE(out.ok()) << out.message();
    expect_all_near(out.value()[0], {6}, {2, 4, 6, 8, 10, 12}, "reshaped sum");
    expect_all_near(out.value()[1], {3, 2}, in.data, "reshaped input");
    expect_all_near(out.value()[2], {2, 3}, in.data, "input as output");
  }
  EXPECT_EQ(borrowed[0].data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Executor, HandedOverInputsAreTakenByTheirLastReshape) {
  // flatten(relu(x)) of a handed-over input: the reshape, x's only use, takes its buffer
  // (the result is the input's own memory), applies its activation and copies nothing.
  TpkBuilder b;
  const auto x = b.value({2, 3}), flat = b.value({6});
  b.op(OpKind::kReshape, {x}, flat, {6}, {}, {}, Activation::kRelu);
  b.input(x);
  b.output(flat);
  auto engine = Engine::from_bytes(b.bytes(), {1});
  ASSERT_TRUE(engine.ok()) << engine.message();
  for (int run = 0; run < 2; ++run) {
    std::vector<Tensor> inputs;
    inputs.emplace_back(std::vector<std::int64_t>{2, 3});
    inputs[0].data = {1, -2, 3, -4, 5, -6};
    const float* buffer = inputs[0].data.data();
    auto out = engine.value()->run(std::move(inputs));
    ASSERT_TRUE(out.ok()) << out.message();
    expect_all_near(out.value()[0], {6}, {1, 0, 3, 0, 5, 0}, "relu(reshape(x))");
    EXPECT_EQ(out.value()[0].data.data(), buffer) << "the reshape copied a handed-over input";
  }
}

TEST(Executor, NormalizationSoftmaxMatmulMean) {
  TpkBuilder b;
  const auto x = b.value({1, 2, 3});
  const auto ln = b.value({1, 2, 3}), sm = b.value({1, 2, 3}), mm = b.value({1, 2, 2}),
             tr = b.value({1, 3, 2}), mean = b.value({1, 3});
  const auto gamma = b.float_tensor({3}, {1, 2, 3}), beta = b.float_tensor({3}, {0, 1, 0});
  b.op(OpKind::kLayerNorm, {x}, ln, {1}, {1e-5f}, {gamma, beta});
  b.op(OpKind::kSoftmax, {x}, sm, {-1});
  b.op(OpKind::kPermute, {x}, tr, {0, 2, 1});
  b.op(OpKind::kMatMul, {x, tr}, mm);
  b.op(OpKind::kMean, {x}, mean, {0, 1});
  b.input(x);
  for (auto v : {ln, sm, mm, mean}) b.output(v);
  Tensor in({1, 2, 3});
  in.data = {1, 2, 3, 0, 0, 3};
  auto engine = Engine::from_bytes(b.bytes(), {1});
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto out = engine.value()->run({in});
  ASSERT_TRUE(out.ok()) << out.message();
  const float s = std::sqrt(2.0f / 3.0f + 1e-5f);
  expect_all_near(out.value()[0], {1, 2, 3},
                  {-1 / s, 1.0f, 3 / s, -1 / std::sqrt(2.0f + 1e-5f), 2 * -1 / std::sqrt(2.0f + 1e-5f) + 1,
                   3 * 2 / std::sqrt(2.0f + 1e-5f)},
                  "layer norm");
  const float e1 = std::exp(1.0f), e2 = std::exp(2.0f), e3 = std::exp(3.0f);
  expect_all_near(out.value()[1], {1, 2, 3},
                  {e1 / (e1 + e2 + e3), e2 / (e1 + e2 + e3), e3 / (e1 + e2 + e3), 1 / (2 + e3),
                   1 / (2 + e3), e3 / (2 + e3)},
                  "softmax");
  expect_all_near(out.value()[2], {1, 2, 2}, {14, 9, 9, 9}, "matmul");
  expect_all_near(out.value()[3], {1, 3}, {0.5f, 1.0f, 3.0f}, "mean");
}

TEST(Executor, OversizedResultsAreRunErrors) {
  TpkBuilder b;
  const auto x = b.value({1, 1}), y = b.value({1, 1}), z = b.value({1, 1});
  b.op(OpKind::kExpand, {x}, y, {1 << 20, 1 << 20});
  b.op(OpKind::kReshape, {x}, z, {1 << 30, 1 << 30, 0});
  b.input(x);
  b.output(y);
  b.output(z);
  auto engine = Engine::from_bytes(b.bytes(), {1});
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto out = engine.value()->run({Tensor({1, 1})});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.message().find("exceeds the limit"), std::string::npos) << out.message();
}

TEST(Executor, InfoDescribesTheModel) {
  TpkBuilder b;
  const auto x = b.value({1, 16}), y = b.value({1, 2});
  const auto wt = b.ternary_tensor(std::vector<std::int8_t>(32, 1), 2, 16, {1, 1}, false);
  b.op(OpKind::kLinear, {x}, y, {}, {}, {wt, format::kAbsent});
  b.input(x);
  b.output(y);
  auto engine = Engine::from_bytes(b.bytes(), {3});
  ASSERT_TRUE(engine.ok());
  const EngineInfo info = engine.value()->info();
  EXPECT_EQ(info.threads, std::min(3, hardware_threads()));  // capped on smaller machines
  EXPECT_EQ(info.ternary_weights, 32);
  EXPECT_EQ(info.ternary_nonzeros, 32);
  EXPECT_EQ(info.op_kinds, std::vector<std::string>{"Linear"});
  EXPECT_EQ(info.input_shapes[0], (std::vector<std::int64_t>{1, 16}));
}

TEST(Executor, GeluFollowsTheErfDefinition) {
  // The vectorizable erf behind GELU against std::erf in double, over the whole line.
  std::vector<float> x;
  for (int i = -4000; i <= 4000; ++i) x.push_back(static_cast<float>(i) * 0.0025f);
  for (float v : {-30.0f, -8.0f, 8.0f, 30.0f, 1e-6f, -1e-6f}) x.push_back(v);
  std::vector<float> y = x;
  apply_activation(Activation::kGelu, y.data(), static_cast<std::int64_t>(y.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i], want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    ASSERT_NEAR(y[i], want, 2e-7 * std::fabs(v) + 1e-7 * std::fabs(want)) << "x = " << v;
  }
}

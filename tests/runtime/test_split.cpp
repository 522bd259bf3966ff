// Splitting an op over threads never changes its result: a graph with every op kind whose
// loop the executor splits (convolutions of each form, linear through the GEMV and the GEMM
// path, matmul, broadcasting and same-shape binary ops, every unary op, pooling, softmax
// along an inner and the last axis, layer norm, permute, expand, reshape by copy and by
// taking its dying input) runs once on one thread and once on a pool told to split every
// loop as finely as its grain allows (EngineOptions::min_thread_work_ns = 0), at batch 1
// and at a batch larger than the pool (whole images per thread). The outputs must be
// identical bit for bit, under every kernel level the CPU has. A chain of 8-bit layers with
// 8-bit handoffs (pixel-major outputs, split by positions or whole lines) is checked the same
// way.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <utility>

#include "executor/engine.h"
#include "test_support.h"
#include "tpk_builder.h"

using namespace triton_rt;
using namespace triton_rt::test_support;

namespace {

constexpr std::int64_t kC = 20, kH = 10, kW = 12;

std::vector<std::uint8_t> every_split_model(std::mt19937& rng) {
  TpkBuilder b;
  auto scales = [](int rows) {
    std::vector<float> s(rows);
    for (int r = 0; r < rows; ++r) s[r] = 0.05f + 0.01f * (r % 7);
    return s;
  };
  auto image = [&](std::int64_t c, std::int64_t h, std::int64_t w) { return b.value({1, c, h, w}); };
  const auto x = image(6, kH, kW);
  // Convolutions: im2col + ternary GEMM, float depthwise (kernel, then GELU after), dilated
  // depthwise (direct loop), grouped ternary, float 1x1.
  const auto c1 = image(kC, kH, kW), d1 = image(kC, kH, kW), d2 = image(kC, kH, kW),
             g1 = image(kC, kH, kW), f1 = image(kC, kH, kW);
  b.op(OpKind::kConv2d, {x}, c1, {3, 3, 1, 1, 1, 1, 1, 1, 1}, {},
       {b.ternary_tensor(random_codes(kC * 54, rng), kC, 54, scales(kC), false), format::kAbsent},
       Activation::kRelu);
  b.op(OpKind::kConv2d, {c1}, d1, {3, 3, 1, 1, 1, 1, 1, 1, kC}, {},
       {b.float_tensor({kC, 1, 3, 3}, random_vector(kC * 9, rng)), format::kAbsent}, Activation::kGelu);
  b.op(OpKind::kConv2d, {d1}, d2, {3, 3, 1, 1, 2, 2, 2, 2, kC}, {},
       {b.float_tensor({kC, 1, 3, 3}, random_vector(kC * 9, rng)),
        b.float_tensor({kC}, random_vector(kC, rng))});
  b.op(OpKind::kConv2d, {d2}, g1, {3, 3, 1, 1, 1, 1, 1, 1, 4}, {},
       {b.ternary_tensor(random_codes(kC * 45, rng), kC, 45, scales(kC), true), format::kAbsent});
  b.op(OpKind::kConv2d, {g1}, f1, {1, 1, 1, 1, 0, 0, 1, 1, 1}, {},
       {b.float_tensor({kC, kC, 1, 1}, random_vector(kC * kC, rng)), format::kAbsent}, Activation::kTanh);
  // Elementwise: same-shape add with SiLU, channel affine, broadcast multiply, unary ops.
  const auto a1 = image(kC, kH, kW), ca = image(kC, kH, kW), k = b.value({kC, 1, kW}),
             bm = image(kC, kH, kW), sa = image(kC, kH, kW), ac = image(kC, kH, kW),
             ta = image(kC, kH, kW);
  b.op(OpKind::kAdd, {c1, f1}, a1, {}, {}, {}, Activation::kSilu);
  b.op(OpKind::kChannelAffine, {a1}, ca, {}, {},
       {b.float_tensor({kC}, random_vector(kC, rng)), b.float_tensor({kC}, random_vector(kC, rng))});
  b.op(OpKind::kConstant, {}, k, {}, {}, {b.float_tensor({kC, 1, kW}, random_vector(kC * kW, rng))});
  b.op(OpKind::kMul, {ca, k}, bm, {}, {}, {}, Activation::kSigmoid);
  b.op(OpKind::kScalarAffine, {bm}, sa, {}, {1.5f, -0.25f});
  b.op(OpKind::kActivation, {sa}, ac, {static_cast<std::int32_t>(Activation::kGeluTanh)});
  b.op(OpKind::kTernaryActivation, {ac}, ta, {1}, {0.8f, 0.3f});
  // Pooling and softmax across channels (an inner axis).
  const auto mp = image(kC, 5, 6), ap = image(kC, 9, 11), aa = image(kC, 3, 3), sm = image(kC, kH, kW);
  b.op(OpKind::kMaxPool2d, {ca}, mp, {3, 3, 2, 2, 1, 1});
  b.op(OpKind::kAvgPool2d, {ca}, ap, {2, 2, 1, 1, 0, 0, 1});
  b.op(OpKind::kAdaptiveAvgPool2d, {ca}, aa, {3, 3});
  b.op(OpKind::kSoftmax, {bm}, sm, {1});
  // A reshape that copies (its input lives on) next to the ones that take their input.
  const auto rs = b.value({1, kC, kH * kW});
  b.op(OpKind::kReshape, {ca}, rs, {-2, kC, kH * kW});
  // Tokens: permute to [B, H*W, C], layer norm, attention-like matmul, softmax, linear
  // layers through the GEMM (many rows) and GEMV (batch rows) paths, expand.
  const auto pt = b.value({1, kH, kW, kC}), tok = b.value({1, kH * kW, kC}), ln = b.value({1, kH * kW, kC}),
             tr = b.value({1, kC, kH * kW}), att = b.value({1, kH * kW, kH * kW}),
             as = b.value({1, kH * kW, kH * kW}), lin = b.value({1, kH * kW, 33}),
             flat = b.value({1, kC * 30}), head = b.value({1, 70}), h3 = b.value({1, 1, 70}),
             ex = b.value({1, 4, 70});
  b.op(OpKind::kPermute, {ta}, pt, {0, 2, 3, 1});
  b.op(OpKind::kReshape, {pt}, tok, {-2, kH * kW, kC});
  b.op(OpKind::kLayerNorm, {tok}, ln, {1}, {1e-5f},
       {b.float_tensor({kC}, random_vector(kC, rng)), b.float_tensor({kC}, random_vector(kC, rng))});
  b.op(OpKind::kPermute, {ln}, tr, {0, 2, 1});
  b.op(OpKind::kMatMul, {ln, tr}, att, {}, {}, {}, Activation::kRelu);
  b.op(OpKind::kSoftmax, {att}, as, {-1});
  b.op(OpKind::kLinear, {ln}, lin, {}, {},
       {b.ternary_tensor(random_codes(33 * kC, rng), 33, kC, scales(33), false),
        b.float_tensor({33}, random_vector(33, rng))},
       Activation::kRelu6);
  b.op(OpKind::kReshape, {mp}, flat, {-2, kC * 30});
  b.op(OpKind::kLinear, {flat}, head, {}, {},
       {b.ternary_tensor(random_codes(70 * kC * 30, rng), 70, kC * 30, scales(70), false), format::kAbsent},
       Activation::kGelu);
  b.op(OpKind::kReshape, {head}, h3, {-2, 1, 70});
  b.op(OpKind::kExpand, {h3}, ex, {-2, 4, 70});
  b.input(x);
  for (auto v : {d2, ap, aa, sm, rs, as, lin, ex}) b.output(v);
  return b.bytes();
}

// Consecutive 8-bit layers that hand their outputs over as 8-bit images (pixel-major:
// the split cuts them by positions, or by whole cache lines of channels when the positions
// are few): a 3x3 convolution to 136 channels, a depthwise one, a 1x1 one to 24, the last
// written as float32.
std::vector<std::uint8_t> int8_chain_model(std::mt19937& rng, std::int64_t h, std::int64_t w) {
  TpkBuilder b;
  auto scales = [](int rows) {
    std::vector<float> s(rows);
    for (int r = 0; r < rows; ++r) s[r] = 0.05f + 0.01f * (r % 7);
    return s;
  };
  constexpr std::int64_t kWide = 136, kOut = 24;
  const auto x = b.value({1, 6, h, w}), a = b.value({1, kWide, h, w}), d = b.value({1, kWide, h, w}),
             y = b.value({1, kOut, h, w});
  b.op(OpKind::kConv2d, {x}, a, {3, 3, 1, 1, 1, 1, 1, 1, 1}, {0.05f},
       {b.ternary_tensor(random_codes(kWide * 54, rng), kWide, 54, scales(kWide), false),
        b.float_tensor({kWide}, random_vector(kWide, rng))},
       Activation::kRelu6);
  b.op(OpKind::kConv2d, {a}, d, {3, 3, 1, 1, 1, 1, 1, 1, kWide}, {0.04f},
       {b.ternary_tensor(random_codes(kWide * 9, rng), kWide, 9, scales(kWide), false),
        b.float_tensor({kWide}, random_vector(kWide, rng))},
       Activation::kRelu6);
  b.op(OpKind::kConv2d, {d}, y, {1, 1, 1, 1, 0, 0, 1, 1, 1}, {0.03f},
       {b.ternary_tensor(random_codes(kOut * kWide, rng), kOut, kWide, scales(kOut), false),
        format::kAbsent});
  b.input(x);
  b.output(y);
  return b.bytes();
}

class SplitEachIsa : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { setenv("TRITON_RT_FORCE_ISA", GetParam(), 1); }
  void TearDown() override { unsetenv("TRITON_RT_FORCE_ISA"); }
};

}  // namespace

TEST_P(SplitEachIsa, EverySplitGivesTheBitsOfOneThread) {
  std::mt19937 rng(31);
  const auto bytes = every_split_model(rng);
  auto one = Engine::from_bytes(bytes, {1});
  EngineOptions split_all;
  split_all.threads = 4;  // capped to the hardware; 2 threads still split every loop
  split_all.min_thread_work_ns = 0;
  auto many = Engine::from_bytes(bytes, split_all);
  ASSERT_TRUE(one.ok()) << one.message();
  ASSERT_TRUE(many.ok()) << many.message();
  if (many.value()->info().threads < 2) GTEST_SKIP() << "one hardware thread: nothing splits";
  for (int batch : {1, 5}) {
    Tensor in({batch, 6, kH, kW});
    in.data = random_vector(in.data.size(), rng);
    auto want = one.value()->run({in});
    auto got = many.value()->run({in});
    ASSERT_TRUE(want.ok()) << want.message();
    ASSERT_TRUE(got.ok()) << got.message();
    ASSERT_EQ(got.value().size(), want.value().size());
    for (std::size_t i = 0; i < want.value().size(); ++i) {
      EXPECT_EQ(got.value()[i].shape, want.value()[i].shape) << "output " << i;
      EXPECT_TRUE(got.value()[i].data == want.value()[i].data)
          << "output " << i << " at batch " << batch << " differs when split";
    }
  }
}

TEST_P(SplitEachIsa, Int8HandoffsSplitGiveTheBitsOfOneThread) {
  std::mt19937 rng(37);
  // 16 x 16: positions enough for position ranges alone; 5 x 6: channel ranges.
  for (const auto& [h, w] : {std::pair<std::int64_t, std::int64_t>{16, 16}, {5, 6}}) {
    const auto bytes = int8_chain_model(rng, h, w);
    auto one = Engine::from_bytes(bytes, {1});
    EngineOptions split_all;
    split_all.threads = 4;
    split_all.min_thread_work_ns = 0;
    auto many = Engine::from_bytes(bytes, split_all);
    ASSERT_TRUE(one.ok()) << one.message();
    ASSERT_TRUE(many.ok()) << many.message();
    if (many.value()->info().threads < 2) GTEST_SKIP() << "one hardware thread: nothing splits";
    Tensor in({1, 6, h, w});
    in.data = random_vector(in.data.size(), rng);
    auto want = one.value()->run({in});
    auto got = many.value()->run({in});
    ASSERT_TRUE(want.ok()) << want.message();
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_TRUE(got.value()[0].data == want.value()[0].data) << h << "x" << w << " differs when split";
  }
}

TEST(SplitOptions, NegativeWorkPerThreadIsRefused) {
  EngineOptions options;
  options.min_thread_work_ns = -1;
  EXPECT_FALSE(Engine::check_options(options).ok());
  options.min_thread_work_ns = 0;
  EXPECT_TRUE(Engine::check_options(options).ok());
}

INSTANTIATE_TEST_SUITE_P(Isa, SplitEachIsa, ::testing::Values("scalar", "avx2", "avx512", "amx"));

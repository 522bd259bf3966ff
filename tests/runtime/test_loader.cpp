// The loader's promise: a valid file loads; a truncated, corrupted or wrong-version file
// gives an error Status with a message, never a crash (run under ASan/UBSan in CI).
#include <gtest/gtest.h>

#include <cstring>

#include "executor/engine.h"
#include "tpk_builder.h"

using namespace triton_rt;
using triton_rt::test_support::TpkBuilder;

namespace {

// x[B, 20] -> ternary linear 5x20 (+bias, fused relu) -> + constant[5] -> y[B, 5]
std::vector<std::uint8_t> small_model(bool base3, std::vector<std::int8_t>* codes_out = nullptr) {
  TpkBuilder b;
  const auto x = b.value({1, 20});
  const auto h = b.value({1, 5});
  const auto c = b.value({5});
  const auto y = b.value({1, 5});
  std::vector<std::int8_t> codes(100);
  for (int i = 0; i < 100; ++i) codes[i] = static_cast<std::int8_t>(i * 7 % 3 - 1);
  if (codes_out) *codes_out = codes;
  const auto w = b.ternary_tensor(codes, 5, 20, {0.5f, 1.0f, 1.5f, 2.0f, 2.5f}, base3);
  const auto bias = b.float_tensor({5}, {0.1f, -0.2f, 0.3f, -0.4f, 0.5f});
  const auto k = b.float_tensor({5}, {1, 2, 3, 4, 5});
  b.op(OpKind::kLinear, {x}, h, {}, {}, {w, bias}, Activation::kRelu);
  b.op(OpKind::kConstant, {}, c, {}, {}, {k});
  b.op(OpKind::kAdd, {h, c}, y);
  b.input(x);
  b.output(y);
  return b.bytes();
}

std::vector<float> expected_small(const std::vector<std::int8_t>& codes, const std::vector<float>& x,
                                  int batch) {
  const float scales[5] = {0.5f, 1.0f, 1.5f, 2.0f, 2.5f}, bias[5] = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f};
  std::vector<float> y;
  for (int n = 0; n < batch; ++n) {
    for (int o = 0; o < 5; ++o) {
      float acc = 0;
      for (int i = 0; i < 20; ++i) acc += codes[o * 20 + i] * x[n * 20 + i];
      y.push_back(std::max(0.0f, scales[o] * acc + bias[o]) + static_cast<float>(o + 1));
    }
  }
  return y;
}

}  // namespace

TEST(Loader, ValidFileLoadsAndRuns) {
  for (bool base3 : {false, true}) {
    std::vector<std::int8_t> codes;
    const auto bytes = small_model(base3, &codes);
    auto engine = Engine::from_bytes(bytes, {1});
    ASSERT_TRUE(engine.ok()) << engine.message();
    EXPECT_EQ(engine.value()->info().base3, base3);
    for (int batch : {1, 6}) {
      Tensor x({batch, 20});
      for (int i = 0; i < batch * 20; ++i) x.data[i] = static_cast<float>(i % 11) - 5.0f;
      auto out = engine.value()->run({x});
      ASSERT_TRUE(out.ok()) << out.message();
      const auto want = expected_small(codes, x.data, batch);
      ASSERT_EQ(out.value()[0].data.size(), want.size());
      for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out.value()[0].data[i], want[i], 1e-4);
    }
  }
}

TEST(Loader, EveryTruncationIsAnError) {
  const auto bytes = small_model(false);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto model = parse_model(std::span(bytes.data(), n));
    ASSERT_FALSE(model.ok()) << "prefix of " << n << " bytes loaded";
    EXPECT_FALSE(model.message().empty());
  }
}

TEST(Loader, CorruptedBytesNeverCrash) {
  const auto good = small_model(true);
  int rejected = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (std::uint8_t flip : {0xFF, 0x01, 0x80}) {
      auto bytes = good;
      bytes[i] ^= flip;
      auto engine = Engine::from_bytes(bytes, {1});
      if (!engine.ok()) {
        ++rejected;
        EXPECT_FALSE(engine.message().empty());
        continue;
      }
      Tensor x({2, 20});
      (void)engine.value()->run({x});  // may fail with a status; must not crash
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(Loader, ClearMessages) {
  auto bytes = small_model(false);
  auto version = bytes;
  version[8] = 99;
  auto m = parse_model(version);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("version 99"), std::string::npos) << m.message();

  auto magic = bytes;
  magic[0] = 'X';
  EXPECT_NE(parse_model(magic).message().find("not a .tpk"), std::string::npos);

  auto truncated = std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 1);
  EXPECT_NE(parse_model(truncated).message().find("truncated"), std::string::npos);

  EXPECT_FALSE(load_model_file("/nonexistent/model.tpk").ok());
}

TEST(Loader, RejectsInvalidTernaryCodes) {
  auto bytes = small_model(false);
  format::FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  bytes[h.data.offset] = 0xFF;  // the first packed byte: four codes 11
  auto m = parse_model(bytes);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("invalid 2-bit"), std::string::npos) << m.message();
}

TEST(Loader, RejectsBadGraphs) {
  {  // an op reading a value nobody produced yet
    TpkBuilder b;
    const auto x = b.value({1, 4}), y = b.value({1, 4}), z = b.value({1, 4});
    b.op(OpKind::kAdd, {x, z}, y);
    b.op(OpKind::kAdd, {x, x}, z);
    b.input(x);
    b.output(y);
    auto m = parse_model(b.bytes());
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("not defined"), std::string::npos) << m.message();
  }
  {  // wrong attribute count for the op kind
    TpkBuilder b;
    const auto x = b.value({1, 4}), y = b.value({1, 4});
    b.op(OpKind::kActivation, {x}, y, {1, 2});
    b.input(x);
    b.output(y);
    EXPECT_FALSE(parse_model(b.bytes()).ok());
  }
  {  // a conv weight that does not match its kernel size
    TpkBuilder b;
    const auto x = b.value({1, 2, 5, 5}), y = b.value({1, 3, 3, 3});
    const auto w = b.float_tensor({3, 2, 2, 2}, std::vector<float>(24, 1.0f));
    b.op(OpKind::kConv2d, {x}, y, {3, 3, 1, 1, 0, 0, 1, 1, 1}, {}, {w, format::kAbsent});
    b.input(x);
    b.output(y);
    EXPECT_FALSE(parse_model(b.bytes()).ok());
  }
}

TEST(Loader, WrongInputShapeIsARunError) {
  auto engine = Engine::from_bytes(small_model(false), {1});
  ASSERT_TRUE(engine.ok());
  auto out = engine.value()->run({Tensor({1, 21})});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.message().find("expects"), std::string::npos) << out.message();
  EXPECT_FALSE(engine.value()->run({}).ok());
}

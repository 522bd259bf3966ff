// 8-bit activations: every int8 kernel variant the CPU can run against the scalar reference
// (bit-exact accumulators and quantized values, random shapes with ragged edges), the
// executor's int8 linear and conv2d against naive loops under every ISA level, and the
// loader's checks of the activation scale (format version 2).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>

#include "executor/engine.h"
#include "format/packing.h"
#include "kernels/ternary_int8.h"
#include "test_support.h"
#include "tpk_builder.h"

using namespace triton_rt;
using namespace triton_rt::kernels;
using namespace triton_rt::test_support;

namespace {

std::vector<float> random_floats(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<const Int8KernelSet*> simd_sets() {
  std::vector<const Int8KernelSet*> sets;
  for (const Int8KernelSet* s : {avx2_int8_kernels(), avx512bw_int8_kernels(), avx512vnni_int8_kernels()}) {
    if (s != nullptr) sets.push_back(s);
  }
  return sets;
}

// The definition, written independently of the kernels.
std::int8_t quantize_one(float x, float scale) {
  const float v = x / scale;
  if (std::isnan(v) || v <= -127.0f) return -127;
  if (v >= 127.0f) return 127;
  return static_cast<std::int8_t>(std::nearbyint(v));
}

}  // namespace

TEST(Int8Kernels, PrepareExpandsCodesAndRowSums) {
  std::mt19937 rng(3);
  const std::int64_t rows = 5, cols = 70;
  const auto codes = random_codes(rows * cols, rng);
  const PreparedTernaryInt8 w = prepare_ternary_int8(ternary_matrix(codes, rows, cols, rng));
  ASSERT_EQ(w.padded_cols, 128);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int32_t sum = 0;
    for (std::int64_t k = 0; k < w.padded_cols; ++k) {
      const std::int8_t want = k < cols ? codes[r * cols + k] : 0;
      ASSERT_EQ(w.codes[r * w.padded_cols + k], want) << r << "," << k;
      sum += want;
    }
    EXPECT_EQ(w.row_sums[r], sum);
  }
}

TEST(Int8Kernels, QuantizeMatchesTheDefinitionInEveryVariant) {
  std::mt19937 rng(11);
  const float scale = 0.0371f;
  std::vector<float> x = random_floats(1000, rng);
  for (float& v : x) v *= 3.0f;  // some beyond +-127 steps
  // Exact ties k + 0.5 (round half to even), the clamp bounds, zeros, NaN and infinities.
  for (int k = -130; k <= 130; ++k) x.push_back((static_cast<float>(k) + 0.5f) * scale);
  x.insert(x.end(), {0.0f, -0.0f, 127.0f * scale, -127.0f * scale, 1e30f, -1e30f,
                     std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                     std::numeric_limits<float>::quiet_NaN()});
  std::vector<std::int8_t> want(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = quantize_one(x[i], scale);
  std::vector<const Int8KernelSet*> sets = simd_sets();
  sets.push_back(scalar_int8_kernels());
  for (const Int8KernelSet* set : sets) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15},
                          std::size_t{17}, std::size_t{33}, x.size()}) {
      std::vector<std::int8_t> got(n + 1, 99);
      set->quantize(x.data() + (x.size() - n), static_cast<std::int64_t>(n), scale, got.data());
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], want[x.size() - n + i]) << set->quantize_name << " n=" << n << " at " << i;
      }
      EXPECT_EQ(got[n], 99) << set->quantize_name << " wrote past n=" << n;
    }
  }
}

TEST(Int8Kernels, EveryVariantMatchesTheReferenceOnRaggedShapes) {
  std::mt19937 rng(7);
  const Int8KernelSet& ref = *scalar_int8_kernels();
  ASSERT_FALSE(simd_sets().empty() && detected_isa() != Isa::kScalar);
  for (std::int64_t rows : {1, 3, 4, 5, 17, 64}) {
    for (std::int64_t cols : {1, 7, 63, 64, 65, 130, 700}) {
      const auto codes = random_codes(rows * cols, rng);
      const PreparedTernaryInt8 w = prepare_ternary_int8(ternary_matrix(codes, rows, cols, rng));
      for (std::int64_t p : {1, 2, 3, 4, 5, 9}) {
        std::vector<std::int8_t> x(p * w.padded_cols, 0);
        for (std::int64_t j = 0; j < p; ++j) {
          for (std::int64_t k = 0; k < cols; ++k) {
            x[j * w.padded_cols + k] = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
          }
        }
        // Extremes: a line of +127 and one of -127 stress the shift and the pair sums.
        for (std::int64_t k = 0; k < cols; ++k) x[k] = 127;
        if (p > 1) {
          for (std::int64_t k = 0; k < cols; ++k) x[w.padded_cols + k] = -127;
        }
        const std::int64_t begin = rows > 2 ? 1 : 0;  // a row range not starting at 0
        std::vector<std::int32_t> want_rows(rows * p, -1), want_cols(rows * p, -1);
        ref.gemm(w, x.data(), p, want_rows.data(), p, 1, begin, rows);
        ref.gemm(w, x.data(), p, want_cols.data(), 1, rows, begin, rows);
        std::vector<std::int32_t> want_gemv(rows, -1);
        ref.gemv(w, x.data(), want_gemv.data(), begin, rows);
        for (std::int64_t r = begin; r < rows; ++r) {
          std::int32_t naive = 0;
          for (std::int64_t k = 0; k < cols; ++k) naive += codes[r * cols + k] * x[k];
          ASSERT_EQ(want_gemv[r], naive);
          ASSERT_EQ(want_rows[r * p], naive);
        }
        for (const Int8KernelSet* set : simd_sets()) {
          std::vector<std::int32_t> got_rows(rows * p, -1), got_cols(rows * p, -1), got_gemv(rows, -1);
          set->gemm(w, x.data(), p, got_rows.data(), p, 1, begin, rows);
          set->gemm(w, x.data(), p, got_cols.data(), 1, rows, begin, rows);
          set->gemv(w, x.data(), got_gemv.data(), begin, rows);
          const std::string what = std::string(set->gemm_name) + " rows=" + std::to_string(rows) +
                                   " cols=" + std::to_string(cols) + " p=" + std::to_string(p);
          ASSERT_EQ(got_rows, want_rows) << what;
          ASSERT_EQ(got_cols, want_cols) << what;
          ASSERT_EQ(got_gemv, want_gemv) << set->gemv_name << " " << what;
        }
      }
    }
  }
}

TEST(Int8Kernels, DispatchFollowsForcedIsa) {
  setenv("TRITON_RT_FORCE_ISA", "scalar", 1);
  EXPECT_STREQ(selected_int8_kernels().variant, "scalar");
  if (avx2_int8_kernels() != nullptr) {
    setenv("TRITON_RT_FORCE_ISA", "avx2", 1);
    EXPECT_STREQ(selected_int8_kernels().variant, "avx2");
  }
  if (avx512bw_int8_kernels() != nullptr) {
    setenv("TRITON_RT_FORCE_ISA", "avx512bw", 1);
    EXPECT_STREQ(selected_int8_kernels().variant, "avx512bw");
    unsetenv("TRITON_RT_FORCE_ISA");
    EXPECT_STREQ(selected_int8_kernels().variant,
                 avx512vnni_int8_kernels() != nullptr ? "avx512vnni" : "avx512bw");
  }
  unsetenv("TRITON_RT_FORCE_ISA");
}

namespace {

// Naive 8-bit conv2d/linear: quantize, integer dot, y = acc * (s * scale[o]) + bias.
struct Int8Conv {
  int n, c, h, w, o, k, stride, pad, dil, groups;
};

std::vector<float> naive_conv_int8(const Int8Conv& cs, const std::vector<float>& x,
                                   const std::vector<std::int8_t>& codes,
                                   const std::vector<float>& scales, const std::vector<float>& bias,
                                   float s, std::int64_t& oh, std::int64_t& ow) {
  oh = (cs.h + 2 * cs.pad - cs.dil * (cs.k - 1) - 1) / cs.stride + 1;
  ow = (cs.w + 2 * cs.pad - cs.dil * (cs.k - 1) - 1) / cs.stride + 1;
  const int cg = cs.c / cs.groups, og = cs.o / cs.groups, kk = cg * cs.k * cs.k;
  std::vector<float> y(static_cast<std::size_t>(cs.n * cs.o * oh * ow));
  for (int n = 0; n < cs.n; ++n) {
    for (int o = 0; o < cs.o; ++o) {
      const int g = o / og;
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          std::int32_t acc = 0;
          for (int ci = 0; ci < cg; ++ci) {
            for (int i = 0; i < cs.k; ++i) {
              for (int j = 0; j < cs.k; ++j) {
                const std::int64_t iy = oy * cs.stride - cs.pad + i * cs.dil;
                const std::int64_t ix = ox * cs.stride - cs.pad + j * cs.dil;
                if (iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w) continue;
                const float v = x[((n * cs.c + g * cg + ci) * cs.h + iy) * cs.w + ix];
                acc += codes[o * kk + (ci * cs.k + i) * cs.k + j] * quantize_one(v, s);
              }
            }
          }
          y[((n * cs.o + o) * oh + oy) * ow + ox] =
              static_cast<float>(acc) * (s * scales[o]) + bias[o];
        }
      }
    }
  }
  return y;
}

class Int8EachIsa : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { setenv("TRITON_RT_FORCE_ISA", GetParam(), 1); }
  void TearDown() override { unsetenv("TRITON_RT_FORCE_ISA"); }
};

void expect_near_all(const Tensor& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.data.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got.data[i], want[i], 1e-5f * (1.0f + std::fabs(want[i]))) << what << " at " << i;
  }
}

}  // namespace

TEST_P(Int8EachIsa, LinearGemvAndGemmMatchNaive) {
  std::mt19937 rng(5);
  for (std::int64_t batch : {1, 3, 4, 9}) {
    for (std::int64_t in : {5, 64, 200}) {
      const std::int64_t out = 37;
      const auto codes = random_codes(out * in, rng);
      std::vector<float> scales = random_floats(out, rng), bias = random_floats(out, rng);
      for (float& s : scales) s = std::fabs(s) + 0.1f;
      const float s_in = 0.02f;
      TpkBuilder b;
      const auto vx = b.value({batch, in}), vy = b.value({batch, out});
      b.op(OpKind::kLinear, {vx}, vy, {}, {s_in},
           {b.ternary_tensor(codes, out, in, scales, false), b.float_tensor({out}, bias)},
           Activation::kRelu);
      b.input(vx);
      b.output(vy);
      Tensor x({batch, in});
      x.data = random_floats(batch * in, rng);
      for (float& v : x.data) v *= 1.5f;
      std::vector<float> want(batch * out);
      for (std::int64_t r = 0; r < batch; ++r) {
        for (std::int64_t o = 0; o < out; ++o) {
          std::int32_t acc = 0;
          for (std::int64_t k = 0; k < in; ++k) acc += codes[o * in + k] * quantize_one(x.data[r * in + k], s_in);
          want[r * out + o] = std::max(0.0f, static_cast<float>(acc) * (s_in * scales[o]) + bias[o]);
        }
      }
      for (int threads : {1, 2}) {
        expect_near_all(run_engine(b.bytes(), x, threads), want,
                        "batch=" + std::to_string(batch) + " in=" + std::to_string(in));
      }
    }
  }
}

TEST_P(Int8EachIsa, Conv2dMatchesNaive) {
  std::mt19937 rng(9);
  const Int8Conv cases[] = {
      {1, 3, 8, 8, 8, 3, 1, 1, 1, 1},   {2, 4, 7, 9, 6, 3, 2, 1, 1, 1},
      {1, 8, 6, 6, 8, 3, 1, 2, 2, 2},   {2, 6, 5, 5, 6, 3, 1, 1, 1, 6},
      {1, 16, 4, 4, 5, 1, 1, 0, 1, 1},  {3, 2, 9, 7, 4, 5, 2, 2, 1, 1},
  };
  for (const Int8Conv& cs : cases) {
    const int kk = cs.c / cs.groups * cs.k * cs.k;
    const auto codes = random_codes(cs.o * kk, rng);
    std::vector<float> scales = random_floats(cs.o, rng), bias = random_floats(cs.o, rng);
    for (float& s : scales) s = std::fabs(s) + 0.1f;
    const float s_in = 0.03f;
    Tensor x({cs.n, cs.c, cs.h, cs.w});
    x.data = random_floats(x.numel(), rng);
    std::int64_t oh = 0, ow = 0;
    const auto want = naive_conv_int8(cs, x.data, codes, scales, bias, s_in, oh, ow);
    TpkBuilder b;
    const auto vx = b.value({cs.n, cs.c, cs.h, cs.w}), vy = b.value({cs.n, cs.o, oh, ow});
    b.op(OpKind::kConv2d, {vx}, vy,
         {cs.k, cs.k, cs.stride, cs.stride, cs.pad, cs.pad, cs.dil, cs.dil, cs.groups}, {s_in},
         {b.ternary_tensor(codes, cs.o, kk, scales, true), b.float_tensor({cs.o}, bias)});
    b.input(vx);
    b.output(vy);
    for (int threads : {1, 2}) {
      const Tensor got = run_engine(b.bytes(), x, threads);
      EXPECT_EQ(got.shape, (std::vector<std::int64_t>{cs.n, cs.o, oh, ow}));
      expect_near_all(got, want, "conv c=" + std::to_string(cs.c) + " groups=" + std::to_string(cs.groups));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, Int8EachIsa, ::testing::Values("scalar", "avx2", "avx512bw", "avx512"));

TEST(Int8Executor, FloatWeightsFakeQuantizeTheirInput) {
  // A layer with float weights and an activation scale computes on x_hat = q * s.
  const float s_in = 0.5f;
  TpkBuilder b;
  const auto vx = b.value({1, 2}), vy = b.value({1, 1});
  b.op(OpKind::kLinear, {vx}, vy, {}, {s_in}, {b.float_tensor({1, 2}, {1.0f, 2.0f}), format::kAbsent});
  b.input(vx);
  b.output(vy);
  Tensor x({1, 2});
  x.data = {0.74f, 0.26f};  // q = 1 (1.48 rounds to 1), 1 (0.52 rounds to 1): 0.5 + 2 * 0.5
  const Tensor got = run_engine(b.bytes(), x, 1);
  ASSERT_EQ(got.data.size(), 1u);
  EXPECT_FLOAT_EQ(got.data[0], 1.5f);
}

namespace {

std::vector<std::uint8_t> int8_linear_file(std::vector<float> floats, std::uint32_t version = 0) {
  TpkBuilder b;
  const auto vx = b.value({1, 4}), vy = b.value({1, 2});
  b.op(OpKind::kLinear, {vx}, vy, {}, std::move(floats),
       {b.ternary_tensor({1, 0, -1, 1, 0, 0, 1, -1}, 2, 4, {1.0f, 2.0f}, false), format::kAbsent});
  b.input(vx);
  b.output(vy);
  if (version != 0) b.version(version);
  return b.bytes();
}

std::string load_error(const std::vector<std::uint8_t>& bytes) {
  auto m = parse_model(bytes);
  return m.ok() ? std::string() : m.message();
}

}  // namespace

TEST(Int8Loader, AcceptsAnActivationScaleInVersion2) {
  const auto bytes = int8_linear_file({0.25f});
  EXPECT_EQ(bytes[8], 2);
  auto m = parse_model(bytes);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m.value().version, 2u);
  ASSERT_EQ(m.value().ops[0].floats.size(), 1u);
  EXPECT_EQ(m.value().ops[0].floats[0], 0.25f);
  // Files without 8-bit layers stay version 1, and version 1 files still load.
  const auto plain = int8_linear_file({});
  EXPECT_EQ(plain[8], 1);
  EXPECT_TRUE(parse_model(plain).ok());
}

TEST(Int8Loader, RejectsBadActivationScales) {
  EXPECT_NE(load_error(int8_linear_file({0.25f}, 1)).find("needs format version 2"), std::string::npos)
      << load_error(int8_linear_file({0.25f}, 1));
  EXPECT_NE(load_error(int8_linear_file({0.25f, 0.5f})).find("wrong number of inputs or attributes"),
            std::string::npos);
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    EXPECT_NE(load_error(int8_linear_file({bad})).find("activation scale must be positive and finite"),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(load_error(int8_linear_file({0.25f}, 3)).find("version 3"), std::string::npos);
}

TEST(Int8Loader, TruncatedOrMiscountedRecordsAreRejected) {
  const auto good = int8_linear_file({0.25f});
  for (std::size_t cut = 1; cut < good.size(); cut += 7) {
    std::vector<std::uint8_t> bytes(good.begin(), good.end() - static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(load_error(bytes).empty()) << "cut " << cut;
  }
  // Claim 0 floats in the op header while the record still holds the scale: the record
  // size no longer matches its counts.
  auto bytes = good;
  std::uint64_t ops_offset = 0;
  std::memcpy(&ops_offset, bytes.data() + 80, 8);
  const std::uint32_t zero = 0;
  std::memcpy(bytes.data() + ops_offset + 20, &zero, 4);  // OpHeader.float_count
  EXPECT_NE(load_error(bytes).find("record size"), std::string::npos) << load_error(bytes);
}

// The AMX tile convolution against a direct double-precision convolution of the same ternary
// codes, on ragged geometries: channels and output channels off the 32 multiples, odd image
// sizes, stride 1 and 2, padding 0..2, 1x1 to 5x5 kernels, every fused clamp. Skipped where
// the CPU or OS has no AMX. Each case runs in both layouts: taps as tile reads, and unrolled.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "format/packing.h"
#include "kernels/ternary_tiles.h"

using namespace triton_rt;
using namespace triton_rt::kernels;

namespace {

struct Case {
  std::int64_t c, h, w, o, k, stride, pad;
};

const Case kCases[] = {
    {16, 5, 7, 16, 3, 1, 1},   {32, 8, 8, 32, 3, 1, 1},   {48, 9, 6, 40, 3, 2, 1},
    {64, 4, 4, 64, 3, 1, 1},   {33, 11, 13, 17, 1, 1, 0}, {64, 16, 16, 96, 1, 2, 0},
    {40, 7, 9, 24, 5, 1, 2},   {32, 10, 10, 32, 3, 2, 0}, {96, 3, 3, 128, 3, 1, 1},
    {24, 32, 32, 8, 3, 1, 1},  {3, 17, 15, 32, 3, 2, 1},  {3, 8, 8, 16, 3, 1, 1},
    {64, 4, 4, 48, 3, 1, 1},   {16, 9, 9, 16, 3, 2, 1},
};

}  // namespace

TEST(TileConv, MatchesDirectConvolution) {
  if (!tile_conv_available()) GTEST_SKIP() << "no AMX bf16 tiles on this CPU/OS";
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  int clamp_index = 0;
  for (const Case& cs : kCases) {
    for (bool unrolled : {false, true}) {
      TileConvGeometry g;
      g.unrolled = unrolled;
      g.channels = cs.c, g.height = cs.h, g.width = cs.w, g.out_channels = cs.o;
      g.kernel_h = g.kernel_w = cs.k, g.stride = cs.stride, g.pad_h = g.pad_w = cs.pad;
      g.out_h = (cs.h + 2 * cs.pad - cs.k) / cs.stride + 1;
      g.out_w = (cs.w + 2 * cs.pad - cs.k) / cs.stride + 1;
      g.finish();
      const std::int64_t cols = cs.c * cs.k * cs.k;
      std::vector<std::int8_t> codes(cs.o * cols);
      for (auto& v : codes) v = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
      TernaryMatrix m;
      m.rows = cs.o, m.cols = cols, m.row_bytes = static_cast<std::int64_t>(format::t2_row_bytes(cols));
      m.packed = format::encode_t2(codes, cs.o, cols);
      std::vector<float> bias(cs.o);
      for (std::int64_t o = 0; o < cs.o; ++o) {
        m.scales.push_back(0.5f + 0.01f * static_cast<float>(o));
        bias[o] = dist(rng);
      }
      const TileConvWeights w = prepare_tile_conv(prepare_ternary(m), cs.k, cs.k, unrolled);
      // Values spanning many binades, so all three bf16 slices matter.
      std::vector<float> x(cs.c * cs.h * cs.w);
      for (auto& v : x) v = dist(rng) * std::exp2(static_cast<float>(static_cast<int>(rng() % 9)) - 4.0f);
      std::vector<std::uint32_t> packed(g.packed_words(), 0xFFFFFFFFu);
      // Packed in two uneven calls, as two threads would (a split inside a channel's taps
      // when unrolled).
      const std::int64_t split = std::min<std::int64_t>(3, g.pairs());
      std::vector<float> scratch;
      tile_conv_pack(x.data(), g, packed.data(), 0, split, scratch);
      tile_conv_pack(x.data(), g, packed.data(), split, g.pairs(), scratch);
      const Clamp clamp = static_cast<Clamp>(clamp_index++ % 3);
      // Guard elements on both sides of the output catch a stray write without ASan.
      constexpr std::int64_t kGuard = 64;
      std::vector<float> guarded(cs.o * g.out_h * g.out_w + 2 * kGuard, -12345.0f);
      float* y = guarded.data() + kGuard;
      // Two calls over split unit ranges, as two threads would make.
      const std::int64_t units = g.out_blocks() * g.position_blocks();
      tile_conv_run(w, g, packed.data(), bias.data(), clamp, y, 0, units / 2);
      tile_conv_run(w, g, packed.data(), bias.data(), clamp, y, units / 2, units);
      for (std::int64_t i = 0; i < kGuard; ++i) {
        ASSERT_EQ(guarded[i], -12345.0f) << "write before the output";
        ASSERT_EQ(guarded[guarded.size() - 1 - i], -12345.0f) << "write past the output";
      }
      for (std::int64_t o = 0; o < cs.o; ++o) {
        for (std::int64_t oy = 0; oy < g.out_h; ++oy) {
          for (std::int64_t ox = 0; ox < g.out_w; ++ox) {
            double sum = 0.0, magnitude = 0.0;
            for (std::int64_t c = 0; c < cs.c; ++c) {
              for (std::int64_t i = 0; i < cs.k; ++i) {
                for (std::int64_t j = 0; j < cs.k; ++j) {
                  const std::int64_t iy = oy * cs.stride - cs.pad + i, ix = ox * cs.stride - cs.pad + j;
                  if (iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w) continue;
                  const double v = x[(c * cs.h + iy) * cs.w + ix];
                  sum += codes[o * cols + (c * cs.k + i) * cs.k + j] * v;
                  magnitude += std::fabs(v);
                }
              }
            }
            double want = m.scales[o] * sum + bias[o];
            if (clamp != Clamp::kNone) want = std::max(want, 0.0);
            if (clamp == Clamp::kRelu6) want = std::min(want, 6.0);
            const double got = y[(o * g.out_h + oy) * g.out_w + ox];
            // float32 accumulation of |terms| summing to `magnitude`.
            ASSERT_NEAR(got, want, 1e-6 * (m.scales[o] * magnitude + std::fabs(bias[o])) + 1e-6)
                << "case c=" << cs.c << " h=" << cs.h << " w=" << cs.w << " o=" << cs.o
                << " k=" << cs.k << " s=" << cs.stride << " p=" << cs.pad
                << (unrolled ? " unrolled" : "") << " at " << o << ","
                << oy << "," << ox;
          }
        }
      }
    }
  }
}

TEST(TileConv, FitsOnlyUngroupedDenseStrides) {
  EXPECT_TRUE(tile_conv_fits(64, 9, 1, 1, 1, 1, 1));
  EXPECT_TRUE(tile_conv_fits(16, 1, 1, 2, 2, 1, 1));
  EXPECT_TRUE(tile_conv_fits(3, 9, 1, 2, 2, 1, 1));    // an RGB stem, unrolled
  EXPECT_FALSE(tile_conv_fits(8, 1, 1, 1, 1, 1, 1));   // too few products to pay
  EXPECT_FALSE(tile_conv_fits(64, 9, 2, 1, 1, 1, 1));  // grouped
  EXPECT_FALSE(tile_conv_fits(64, 9, 1, 2, 1, 1, 1));  // uneven strides
  EXPECT_FALSE(tile_conv_fits(64, 9, 1, 3, 3, 1, 1));
  EXPECT_FALSE(tile_conv_fits(64, 9, 1, 1, 1, 2, 2));  // dilated
  auto conv3x3 = [](std::int64_t channels, std::int64_t size) {
    TileConvGeometry g;
    g.channels = channels, g.height = g.width = size, g.out_channels = 64;
    g.kernel_h = g.kernel_w = 3, g.pad_h = g.pad_w = 1, g.out_h = g.out_w = size;
    return g;
  };
  EXPECT_TRUE(tile_conv_unrolls(conv3x3(3, 224)));    // RGB stem
  EXPECT_FALSE(tile_conv_unrolls(conv3x3(256, 8)));   // 80 positions taps-mode, 64 unrolled
  EXPECT_TRUE(tile_conv_unrolls(conv3x3(512, 4)));    // 32 positions taps-mode, 16 unrolled
  EXPECT_FALSE(tile_conv_unrolls(conv3x3(128, 16)));  // 288 against 256: not worth the copy
  EXPECT_FALSE(tile_conv_unrolls(conv3x3(64, 32)));
}

// 8-bit activations: weight preparation, the scalar reference against naive sums, every
// int8 kernel variant the CPU can run against the scalar reference (bit-exact float and
// quantized outputs, ragged shapes and sub-ranges), the executor's int8 linear and conv2d
// against naive loops under every ISA level, and the loader's checks of the activation
// scale (format version 2).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>

#include "executor/engine.h"
#include "format/packing.h"
#include "kernels/gelu.h"
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
  for (const Int8KernelSet* s : {avx2_int8_kernels(), avx512vnni_int8_kernels(), amx_int8_kernels()}) {
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

std::uint8_t stored(std::int8_t q) { return static_cast<std::uint8_t>(q + 128); }

std::vector<std::uint8_t> random_bytes(std::size_t n, std::mt19937& rng) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(1 + rng() % 255);  // q in [-127, 127]
  return v;
}

// A convolution case for the kernel tests: one image of h x w (border pad) with `groups`
// groups of cg input and og output channels.
struct KernelCase {
  std::int64_t groups, cg, og, kh, kw, stride, dil, h, w, pad;
};

// Images of the kernel tests give every group a whole number of 64-byte chunks, so weights
// padded to 4 (AVX2, VNNI, scalar) and to 64 channels (AMX) both read them.
std::int64_t image_group_pitch(std::int64_t cg) { return round_up(cg, 64); }

struct ConvSetup {
  KernelCase k;
  std::vector<std::int8_t> codes;  // [groups * og][cg * taps], PyTorch's column order
  TernaryMatrix matrix;
  std::vector<float> bias;
  Int8ImageLayout layout;
  std::int64_t oh = 0, ow = 0;
  std::vector<std::uint8_t> image;
  std::vector<std::int64_t> taps;

  ConvSetup(const KernelCase& kc, std::int64_t group_pitch, std::mt19937& rng) : k(kc) {
    const std::int64_t t = k.kh * k.kw, o = k.groups * k.og;
    codes = random_codes(static_cast<std::size_t>(o * k.cg * t), rng);
    matrix = ternary_matrix(codes, o, k.cg * t, rng);
    bias = random_floats(static_cast<std::size_t>(o), rng);
    layout.height = k.h, layout.width = k.w, layout.pad_h = k.pad, layout.pad_w = k.pad;
    layout.pitch = k.groups * group_pitch;
    oh = (k.h + 2 * k.pad - k.dil * (k.kh - 1) - 1) / k.stride + 1;
    ow = (k.w + 2 * k.pad - k.dil * (k.kw - 1) - 1) / k.stride + 1;
    image = random_bytes(static_cast<std::size_t>(layout.bytes() + int8_image_slack(layout.pitch)), rng);
    for (std::int64_t i = 0; i < k.kh; ++i) {
      for (std::int64_t j = 0; j < k.kw; ++j) {
        taps.push_back((i * k.dil * layout.padded_width() + j * k.dil) * layout.pitch);
      }
    }
  }
  // The exact sum of output channel o (of all groups) at (oy, ox), from the original codes.
  std::int32_t naive(std::int64_t o, std::int64_t oy, std::int64_t ox, std::int64_t group_pitch) const {
    const std::int64_t g = o / k.og, t = k.kh * k.kw;
    std::int32_t acc = 0;
    for (std::int64_t c = 0; c < k.cg; ++c) {
      for (std::int64_t i = 0; i < k.kh; ++i) {
        for (std::int64_t j = 0; j < k.kw; ++j) {
          const std::int64_t y = oy * k.stride + i * k.dil, x = ox * k.stride + j * k.dil;
          const std::uint8_t b = image[static_cast<std::size_t>((y * layout.padded_width() + x) * layout.pitch + g * group_pitch + c)];
          acc += codes[static_cast<std::size_t>(o * k.cg * t + c * t + i * k.kw + j)] * (b - 128);
        }
      }
    }
    return acc;
  }
};

const KernelCase kKernelCases[] = {
    {1, 3, 5, 3, 3, 1, 1, 6, 7, 1},     // RGB stem shape, ragged output channels
    {1, 16, 16, 1, 1, 1, 1, 5, 5, 0},   // pointwise
    {1, 24, 40, 3, 3, 2, 1, 9, 8, 1},   // strided, 24 channels (ragged sub-blocks of 16)
    {1, 64, 17, 3, 3, 1, 1, 4, 4, 1},   // 144 steps: the int16 sums are widened twice
    {1, 300, 9, 1, 1, 1, 1, 3, 3, 0},   // 75 steps within one tap
    {1, 5, 33, 3, 3, 1, 2, 7, 7, 2},    // dilation
    {2, 6, 7, 3, 3, 1, 1, 5, 6, 1},     // groups
    {1, 7, 8, 5, 5, 2, 1, 11, 10, 2},   // 5x5 stride 2, odd channels
    {1, 1000, 3, 1, 1, 1, 1, 1, 13, 0}, // a linear layer of 13 rows, long reduction
    {1, 8, 24, 3, 3, 1, 1, 12, 12, 1},  // 144 positions: several staged chunks
    // Whole 64-byte channel chunks at stride 1, which AMX runs on tiles: a linear layer of
    // 37 rows, a dilated 3x3, 64-channel groups, two chunks over a 4x4 output.
    {1, 128, 20, 1, 1, 1, 1, 1, 37, 0},
    {1, 64, 40, 3, 3, 1, 2, 9, 7, 2},
    {2, 64, 8, 3, 3, 1, 1, 5, 6, 1},
    {1, 128, 33, 3, 3, 1, 1, 4, 4, 1},
};

}  // namespace

TEST(Int8Kernels, PrepareConvLaysOutCodesByTapAndChannel) {
  std::mt19937 rng(3);
  for (const KernelCase& kc : kKernelCases) {
    for (const auto& [lanes, align] : {std::pair<std::int64_t, std::int64_t>{8, 4}, {16, 4}, {16, 64}}) {
      const ConvSetup s(kc, image_group_pitch(kc.cg), rng);
      const float s_in = 0.25f;
      const Int8ConvWeights w =
          prepare_int8_conv(s.matrix, kc.groups, kc.kh * kc.kw, s_in, s.bias.data(), lanes, align);
      const std::int64_t t = kc.kh * kc.kw;
      ASSERT_EQ(w.group_in_padded, round_up(kc.cg, align));
      ASSERT_EQ(w.group_out_padded, round_up(kc.og, lanes));
      ASSERT_EQ(static_cast<std::int64_t>(w.codes.size()),
                kc.groups * w.group_out_padded * t * w.group_in_padded);
      for (std::int64_t g = 0; g < kc.groups; ++g) {
        for (std::int64_t o = 0; o < w.group_out_padded; ++o) {
          std::int32_t sum = 0;
          for (std::int64_t tap = 0; tap < t; ++tap) {
            for (std::int64_t c = 0; c < w.group_in_padded; ++c) {
              const bool real = o < kc.og && c < kc.cg;
              const std::int8_t want = real ? s.codes[static_cast<std::size_t>((g * kc.og + o) * kc.cg * t + c * t + tap)] : 0;
              ASSERT_EQ(w.code(g, o, tap, c), want) << g << "," << o << "," << tap << "," << c;
              sum += want;
            }
          }
          const std::size_t slot = static_cast<std::size_t>(g * w.group_out_padded + o);
          EXPECT_EQ(w.shift[slot], 128 * sum);
          const std::size_t row = static_cast<std::size_t>(g * kc.og + o);
          EXPECT_EQ(w.factor[slot], o < kc.og ? s_in * s.matrix.scales[row] : 0.0f);
          EXPECT_EQ(w.bias[slot], o < kc.og ? s.bias[row] : 0.0f);
        }
      }
    }
  }
}

TEST(Int8Kernels, PrepareDepthwisePadsChannels) {
  std::mt19937 rng(4);
  const std::int64_t channels = 37, taps = 9;
  const auto codes = random_codes(channels * taps, rng);
  const TernaryMatrix m = ternary_matrix(codes, channels, taps, rng);
  const Int8DepthwiseWeights w = prepare_int8_depthwise(m, 0.5f, nullptr);
  ASSERT_EQ(w.padded, 64);
  for (std::int64_t c = 0; c < w.padded; ++c) {
    std::int32_t sum = 0;
    for (std::int64_t t = 0; t < taps; ++t) {
      const std::int16_t want = c < channels ? codes[static_cast<std::size_t>(c * taps + t)] : 0;
      ASSERT_EQ(w.codes[static_cast<std::size_t>(t * w.padded + c)], want);
      sum += want;
    }
    EXPECT_EQ(w.shift[static_cast<std::size_t>(c)], 128 * sum);
    EXPECT_EQ(w.bias[static_cast<std::size_t>(c)], 0.0f);
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
  std::vector<std::uint8_t> want(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = stored(quantize_one(x[i], scale));
  std::vector<const Int8KernelSet*> sets = simd_sets();
  sets.push_back(scalar_int8_kernels());
  for (const Int8KernelSet* set : sets) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15},
                          std::size_t{17}, std::size_t{33}, x.size()}) {
      std::vector<std::uint8_t> got(n + 1, 99);
      set->quantize(x.data() + (x.size() - n), static_cast<std::int64_t>(n), scale, got.data());
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], want[x.size() - n + i]) << set->quantize_name << " n=" << n << " at " << i;
      }
      EXPECT_EQ(got[n], 99) << set->quantize_name << " wrote past n=" << n;
    }
  }
}

TEST(Int8Kernels, QuantizeImagePlacesGroupsAndBorderInEveryVariant) {
  std::mt19937 rng(12);
  struct Case {
    std::int64_t channels, groups, group_pitch, h, w, pad_h, pad_w;
  };
  // Whole 8 x 8 transpose blocks with ragged edges, groups, and no border.
  const Case cases[] = {{6, 2, 4, 3, 5, 1, 2}, {20, 2, 12, 3, 19, 1, 1}, {16, 1, 16, 2, 17, 0, 0},
                        {3, 1, 4, 4, 9, 2, 1}, {3, 1, 4, 3, 37, 1, 1}, {1, 1, 4, 2, 33, 0, 0}};
  std::vector<const Int8KernelSet*> sets = simd_sets();
  sets.push_back(scalar_int8_kernels());
  for (const Case& cs : cases) {
    const std::int64_t cg = cs.channels / cs.groups;
    Int8ImageLayout layout;
    layout.height = cs.h, layout.width = cs.w, layout.pad_h = cs.pad_h, layout.pad_w = cs.pad_w;
    layout.pitch = cs.groups * cs.group_pitch;
    const std::vector<float> x = random_floats(static_cast<std::size_t>(cs.channels * cs.h * cs.w), rng);
    const float scale = 0.02f;
    for (const Int8KernelSet* set : sets) {
      std::vector<std::uint8_t> image(static_cast<std::size_t>(layout.bytes()), 7), rows(cs.channels * cs.w);
      quantize_image(*set, x.data(), cs.channels, cg, cs.group_pitch, layout, scale, image.data(), rows.data());
      for (std::int64_t y = -cs.pad_h; y < cs.h + cs.pad_h; ++y) {
        for (std::int64_t ix = -cs.pad_w; ix < cs.w + cs.pad_w; ++ix) {
          for (std::int64_t b = 0; b < layout.pitch; ++b) {
            const std::int64_t g = b / cs.group_pitch, c = b % cs.group_pitch;
            const bool border = y < 0 || y >= cs.h || ix < 0 || ix >= cs.w;
            if (!border && c >= cg) continue;  // between groups: unspecified
            const std::uint8_t want =
                border ? 128
                       : stored(quantize_one(x[static_cast<std::size_t>(((g * cg + c) * cs.h + y) * cs.w + ix)], scale));
            ASSERT_EQ(image[static_cast<std::size_t>(layout.offset(y, ix) + b)], want)
                << set->variant << " channels=" << cs.channels << " at " << y << "," << ix << "," << b;
          }
        }
      }
    }
  }
}

namespace {

enum class OutputKind { kChannelMajor, kPositionMajor, kQuantized };

// Runs `set`'s convolution on every group of `s` over sub-blocks [b0, b1) and positions
// [p0, p1), into outputs that start as sentinels.
struct ConvRun {
  std::vector<float> y;
  std::vector<std::uint8_t> q;
};

// With `residual` (float kinds only: laid out as the output), a folded residual Add clamped
// for `residual_act` (none, ReLU or ReLU6).
ConvRun run_conv(const Int8KernelSet& set, const ConvSetup& s, OutputKind kind, Activation act,
                 std::int64_t b0, std::int64_t b1, std::int64_t p0, std::int64_t p1,
                 const std::vector<float>* residual = nullptr,
                 Activation residual_act = Activation::kNone) {
  const KernelCase& k = s.k;
  const std::int64_t group_pitch = image_group_pitch(k.cg), o = k.groups * k.og, p = s.oh * s.ow;
  const Int8ConvWeights w = prepare_int8_conv(s.matrix, k.groups, k.kh * k.kw, 0.03f, s.bias.data(),
                                              set.lanes, int8_channel_align(set, k.cg));
  ConvRun r;
  r.y.assign(static_cast<std::size_t>(o * p), -1234.0f);
  Int8ImageLayout next;
  next.height = s.oh, next.width = s.ow, next.pad_h = 1, next.pad_w = 2, next.pitch = o + 3;
  r.q.assign(static_cast<std::size_t>(next.bytes()), 7);
  for (std::int64_t g = 0; g < k.groups; ++g) {
    Int8ConvJob job;
    job.weights = &w;
    job.group = g;
    job.origin = s.image.data() + g * group_pitch;
    job.padded_width = s.layout.padded_width();
    job.pitch = s.layout.pitch;
    job.stride_h = job.stride_w = k.stride;
    job.tap_offsets = s.taps.data();
    job.out_w = s.ow;
    job.out.channels = k.og;
    if (act == Activation::kGelu) {
      job.out.gelu = true;
    } else if (act != Activation::kNone) {
      job.out.clamp = true;
      job.out.lo = 0.0f;
      if (act == Activation::kRelu6) job.out.hi = 6.0f;
    }
    if (kind == OutputKind::kQuantized) {
      job.out.q = r.q.data() + g * k.og;
      job.out.q_scale = 0.05f;
      job.out.q_layout = next;
    } else if (kind == OutputKind::kChannelMajor) {
      job.out.y = r.y.data() + g * k.og * p;
      job.out.channel_stride = p;
      job.out.position_stride = 1;
    } else {
      job.out.y = r.y.data() + g * k.og;
      job.out.channel_stride = 1;
      job.out.position_stride = o;
    }
    if (residual != nullptr) {
      job.out.residual = residual->data() + (job.out.y - r.y.data());
      job.out.residual_clamp = residual_act != Activation::kNone;
      if (job.out.residual_clamp) job.out.residual_lo = 0.0f;
      if (residual_act == Activation::kRelu6) job.out.residual_hi = 6.0f;
    }
    set.conv(job, b0, std::min(b1, w.sub_blocks()), p0, p1);
  }
  return r;
}

}  // namespace

TEST(Int8Kernels, ReferenceConvMatchesNaiveSums) {
  std::mt19937 rng(21);
  const Int8KernelSet& ref = *scalar_int8_kernels();
  for (const KernelCase& kc : kKernelCases) {
    const std::int64_t group_pitch = image_group_pitch(kc.cg);
    const ConvSetup s(kc, group_pitch, rng);
    const std::int64_t o = kc.groups * kc.og, p = s.oh * s.ow;
    const ConvRun r = run_conv(ref, s, OutputKind::kChannelMajor, Activation::kNone, 0, 1 << 20, 0, p);
    const Int8ConvWeights w = prepare_int8_conv(s.matrix, kc.groups, kc.kh * kc.kw, 0.03f, s.bias.data(), ref.lanes);
    for (std::int64_t oc = 0; oc < o; ++oc) {
      const std::size_t slot = static_cast<std::size_t>(oc / kc.og * w.group_out_padded + oc % kc.og);
      for (std::int64_t pos = 0; pos < p; ++pos) {
        const float want = static_cast<float>(s.naive(oc, pos / s.ow, pos % s.ow, group_pitch)) * w.factor[slot] + w.bias[slot];
        ASSERT_EQ(r.y[static_cast<std::size_t>(oc * p + pos)], want) << "o=" << oc << " pos=" << pos;
      }
    }
  }
}

TEST(Int8Kernels, EveryConvVariantMatchesTheReferenceOnRaggedShapes) {
  std::mt19937 rng(7);
  const Int8KernelSet& ref = *scalar_int8_kernels();
  ASSERT_FALSE(simd_sets().empty() && detected_isa() != Isa::kScalar);
  for (const KernelCase& kc : kKernelCases) {
    const ConvSetup s(kc, image_group_pitch(kc.cg), rng);
    const std::int64_t p = s.oh * s.ow;
    for (const Int8KernelSet* set : simd_sets()) {
      const std::int64_t blocks = round_up(kc.og, set->lanes) / set->lanes;
      // Whole ranges, and a range of sub-blocks and positions that starts and ends inside.
      const std::int64_t ranges[][4] = {{0, blocks, 0, p}, {blocks > 1 ? 1 : 0, blocks, p > 3 ? 1 : 0, p > 3 ? p - 2 : p}};
      for (const auto& range : ranges) {
        for (OutputKind kind : {OutputKind::kChannelMajor, OutputKind::kPositionMajor, OutputKind::kQuantized}) {
          for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kRelu6, Activation::kGelu}) {
            // The scalar set's sub-blocks are 8 channels: cover the same channels.
            const std::int64_t scale = set->lanes / ref.lanes;
            const ConvRun want = run_conv(ref, s, kind, act, range[0] * scale, range[1] * scale, range[2], range[3]);
            const ConvRun got = run_conv(*set, s, kind, act, range[0], range[1], range[2], range[3]);
            const std::string what = std::string(set->conv_name) + " cg=" + std::to_string(kc.cg) +
                                     " og=" + std::to_string(kc.og) + " k=" + std::to_string(kc.kh) +
                                     " kind=" + std::to_string(static_cast<int>(kind)) +
                                     " act=" + std::to_string(static_cast<int>(act));
            ASSERT_EQ(got.y, want.y) << what;
            ASSERT_EQ(got.q, want.q) << what;
          }
        }
      }
    }
  }
}

TEST(Int8Kernels, ResidualWriteBackAddsThenClamps) {
  // The reference with a residual is the reference without one, plus the residual, then
  // the Add's clamp (NaN residuals become the lower bound, as the SIMD max does).
  std::mt19937 rng(31);
  const Int8KernelSet& ref = *scalar_int8_kernels();
  const KernelCase kc = kKernelCases[2];
  const ConvSetup s(kc, image_group_pitch(kc.cg), rng);
  const std::int64_t p = s.oh * s.ow;
  std::vector<float> residual = random_floats(static_cast<std::size_t>(kc.groups * kc.og * p), rng);
  residual[3] = std::numeric_limits<float>::quiet_NaN();
  for (OutputKind kind : {OutputKind::kChannelMajor, OutputKind::kPositionMajor}) {
    const ConvRun plain = run_conv(ref, s, kind, Activation::kRelu, 0, 1 << 20, 0, p);
    for (Activation add_act : {Activation::kNone, Activation::kRelu, Activation::kRelu6}) {
      const ConvRun got = run_conv(ref, s, kind, Activation::kRelu, 0, 1 << 20, 0, p, &residual, add_act);
      for (std::size_t i = 0; i < residual.size(); ++i) {
        float want = plain.y[i] + residual[i];
        if (add_act != Activation::kNone) want = std::isnan(want) ? 0.0f : std::min(add_act == Activation::kRelu6 ? 6.0f : INFINITY, std::max(0.0f, want));
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got.y[i])) << i;
        } else {
          EXPECT_EQ(got.y[i], want) << "kind=" << static_cast<int>(kind) << " act=" << static_cast<int>(add_act) << " at " << i;
        }
      }
    }
  }
}

TEST(Int8Kernels, EveryConvVariantAddsTheResidualAsTheReference) {
  std::mt19937 rng(37);
  const Int8KernelSet& ref = *scalar_int8_kernels();
  for (const KernelCase& kc : kKernelCases) {
    const ConvSetup s(kc, image_group_pitch(kc.cg), rng);
    const std::int64_t p = s.oh * s.ow;
    std::vector<float> residual = random_floats(static_cast<std::size_t>(kc.groups * kc.og * p), rng);
    for (float& v : residual) v *= 20.0f;  // around the clamps' bounds
    for (const Int8KernelSet* set : simd_sets()) {
      const std::int64_t blocks = round_up(kc.og, set->lanes) / set->lanes;
      const std::int64_t scale = set->lanes / ref.lanes;
      const std::int64_t ranges[][4] = {{0, blocks, 0, p}, {blocks > 1 ? 1 : 0, blocks, p > 3 ? 1 : 0, p > 3 ? p - 2 : p}};
      for (const auto& range : ranges) {
        for (OutputKind kind : {OutputKind::kChannelMajor, OutputKind::kPositionMajor}) {
          for (Activation add_act : {Activation::kNone, Activation::kRelu, Activation::kRelu6}) {
            const ConvRun want = run_conv(ref, s, kind, Activation::kRelu, range[0] * scale, range[1] * scale,
                                          range[2], range[3], &residual, add_act);
            const ConvRun got = run_conv(*set, s, kind, Activation::kRelu, range[0], range[1], range[2],
                                         range[3], &residual, add_act);
            ASSERT_EQ(got.y, want.y) << set->conv_name << " cg=" << kc.cg << " og=" << kc.og
                                     << " kind=" << static_cast<int>(kind) << " add act=" << static_cast<int>(add_act);
          }
        }
      }
    }
  }
}

TEST(Int8Kernels, ExtremeActivationsStayExact) {
  // All activations at +127 or -127 with all-+1 and all--1 codes: the largest sums the
  // int16 pairs and the +128 shift meet.
  for (std::int8_t code : {std::int8_t{1}, std::int8_t{-1}}) {
    for (std::uint8_t byte : {std::uint8_t{255}, std::uint8_t{1}}) {
      const KernelCase kc{1, 520, 16, 3, 3, 1, 1, 3, 3, 1};
      std::mt19937 rng(5);
      ConvSetup s(kc, image_group_pitch(520), rng);
      std::fill(s.codes.begin(), s.codes.end(), code);
      s.matrix = ternary_matrix(s.codes, 16, 520 * 9, rng);
      std::fill(s.image.begin(), s.image.end(), byte);
      const std::int64_t p = s.oh * s.ow;
      const ConvRun want = run_conv(*scalar_int8_kernels(), s, OutputKind::kChannelMajor, Activation::kNone, 0, 2, 0, p);
      EXPECT_EQ(want.y[0], static_cast<float>(code * (byte - 128) * 520 * 9) *
                               (0.03f * s.matrix.scales[0]) + s.bias[0]);
      for (const Int8KernelSet* set : simd_sets()) {
        EXPECT_EQ(run_conv(*set, s, OutputKind::kChannelMajor, Activation::kNone, 0, 2, 0, p).y, want.y)
            << set->conv_name << " code=" << int{code} << " byte=" << int{byte};
      }
    }
  }
}

TEST(Int8Kernels, EveryDepthwiseVariantMatchesTheReference) {
  std::mt19937 rng(8);
  struct Case {
    std::int64_t channels, k, stride, dil, h, w, pad;
  };
  // Ragged channel counts, strides, dilation, and 144 taps (int16 sums widened once).
  const Case cases[] = {{5, 3, 1, 1, 6, 6, 1},   {37, 3, 2, 1, 9, 8, 1}, {64, 3, 1, 2, 7, 7, 2},
                        {96, 5, 2, 1, 10, 9, 2}, {16, 12, 1, 1, 13, 12, 0}};
  for (const Case& cs : cases) {
    const std::int64_t taps = cs.k * cs.k;
    const auto codes = random_codes(static_cast<std::size_t>(cs.channels * taps), rng);
    const TernaryMatrix m = ternary_matrix(codes, cs.channels, taps, rng);
    const std::vector<float> bias = random_floats(static_cast<std::size_t>(cs.channels), rng);
    const Int8DepthwiseWeights w = prepare_int8_depthwise(m, 0.04f, bias.data());
    Int8ImageLayout layout;
    layout.height = cs.h, layout.width = cs.w, layout.pad_h = cs.pad, layout.pad_w = cs.pad;
    layout.pitch = round_up(cs.channels, 4);
    const std::vector<std::uint8_t> image = random_bytes(static_cast<std::size_t>(layout.bytes() + int8_image_slack(layout.pitch)), rng);
    std::vector<std::int64_t> offsets;
    for (std::int64_t i = 0; i < cs.k; ++i) {
      for (std::int64_t j = 0; j < cs.k; ++j) offsets.push_back((i * cs.dil * layout.padded_width() + j * cs.dil) * layout.pitch);
    }
    const std::int64_t oh = (cs.h + 2 * cs.pad - cs.dil * (cs.k - 1) - 1) / cs.stride + 1;
    const std::int64_t ow = (cs.w + 2 * cs.pad - cs.dil * (cs.k - 1) - 1) / cs.stride + 1;
    const std::int64_t p = oh * ow;
    // kind: channel-major floats, quantized, or position-major floats.
    auto run = [&](const Int8KernelSet& set, OutputKind kind, std::int64_t c0, std::int64_t c1,
                   std::int64_t p0, std::int64_t p1) {
      ConvRun r;
      r.y.assign(static_cast<std::size_t>(cs.channels * p), -1234.0f);
      Int8ImageLayout next;
      next.height = oh, next.width = ow, next.pad_h = 1, next.pad_w = 1, next.pitch = cs.channels + 1;
      r.q.assign(static_cast<std::size_t>(next.bytes()), 7);
      Int8DepthwiseJob job;
      job.weights = &w;
      job.origin = image.data();
      job.padded_width = layout.padded_width();
      job.pitch = layout.pitch;
      job.stride_h = job.stride_w = cs.stride;
      job.tap_offsets = offsets.data();
      job.out_w = ow;
      job.out.channels = cs.channels;
      job.out.clamp = true;
      job.out.lo = 0.0f;
      job.out.hi = 6.0f;
      if (kind == OutputKind::kQuantized) {
        job.out.q = r.q.data();
        job.out.q_scale = 0.05f;
        job.out.q_layout = next;
      } else if (kind == OutputKind::kChannelMajor) {
        job.out.y = r.y.data();
        job.out.channel_stride = p;
        job.out.position_stride = 1;
      } else {
        job.out.y = r.y.data();
        job.out.channel_stride = 1;
        job.out.position_stride = cs.channels;
      }
      set.depthwise(job, c0, c1, p0, p1);
      return r;
    };
    // The reference against the definition.
    const ConvRun ref = run(*scalar_int8_kernels(), OutputKind::kChannelMajor, 0, w.padded, 0, p);
    for (std::int64_t c = 0; c < cs.channels; ++c) {
      for (std::int64_t pos = 0; pos < p; ++pos) {
        std::int32_t acc = 0;
        for (std::int64_t t = 0; t < taps; ++t) {
          const std::int64_t y = pos / ow * cs.stride + t / cs.k * cs.dil, x = pos % ow * cs.stride + t % cs.k * cs.dil;
          acc += codes[static_cast<std::size_t>(c * taps + t)] *
                 (image[static_cast<std::size_t>((y * layout.padded_width() + x) * layout.pitch + c)] - 128);
        }
        const float want = std::min(6.0f, std::max(0.0f, static_cast<float>(acc) * w.factor[c] + w.bias[c]));
        ASSERT_EQ(ref.y[static_cast<std::size_t>(c * p + pos)], want) << c << " " << pos;
      }
    }
    for (const Int8KernelSet* set : simd_sets()) {
      for (OutputKind kind : {OutputKind::kChannelMajor, OutputKind::kQuantized, OutputKind::kPositionMajor}) {
        // Whole ranges, from the second block of 32 channels, and only the first block (a
        // task that ends inside a 64-channel step of the AVX-512 kernel).
        const std::int64_t c0 = w.padded > 32 ? 32 : 0, p0 = p > 2 ? 1 : 0;
        for (const auto& [b, e] : {std::pair{std::int64_t{0}, w.padded}, std::pair{c0, w.padded},
                                   std::pair{std::int64_t{0}, std::min<std::int64_t>(32, w.padded)}}) {
          const std::int64_t p1 = b == 0 ? p : p - 1;
          const ConvRun want = run(*scalar_int8_kernels(), kind, b, e, b == 0 ? 0 : p0, p1);
          const ConvRun got = run(*set, kind, b, e, b == 0 ? 0 : p0, p1);
          ASSERT_EQ(got.y, want.y) << set->depthwise_name << " channels=" << cs.channels
                                   << " kind=" << static_cast<int>(kind) << " range " << b << ".." << e;
          ASSERT_EQ(got.q, want.q) << set->depthwise_name << " channels=" << cs.channels
                                   << " kind=" << static_cast<int>(kind) << " range " << b << ".." << e;
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
  if (detected_isa() >= Isa::kAvx512) {
    setenv("TRITON_RT_FORCE_ISA", "avx512bw", 1);
    EXPECT_STREQ(selected_int8_kernels().variant, "avx2");
    setenv("TRITON_RT_FORCE_ISA", "avx512", 1);
    EXPECT_STREQ(selected_int8_kernels().variant,
                 avx512vnni_int8_kernels() != nullptr ? "avx512vnni" : "avx2");
    unsetenv("TRITON_RT_FORCE_ISA");
    EXPECT_STREQ(selected_int8_kernels().variant,
                 amx_int8_kernels() != nullptr          ? "amx"
                 : avx512vnni_int8_kernels() != nullptr ? "avx512vnni"
                                                        : "avx2");
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

namespace {

std::vector<float> relu6(std::vector<float> v) {
  for (float& x : v) x = std::min(6.0f, std::max(0.0f, x));
  return v;
}

// One 8-bit conv layer of a chain: its shape, weights and the naive result.
struct ChainConv {
  Int8Conv shape;
  std::vector<std::int8_t> codes;
  std::vector<float> scales, bias;
  float s_in;
};

ChainConv chain_conv(const Int8Conv& cs, float s_in, std::mt19937& rng) {
  ChainConv l{cs, random_codes(static_cast<std::size_t>(cs.o * (cs.c / cs.groups) * cs.k * cs.k), rng),
              random_floats(cs.o, rng), random_floats(cs.o, rng), s_in};
  for (float& v : l.scales) v = std::fabs(v) * 0.3f + 0.05f;
  return l;
}

}  // namespace

TEST_P(Int8EachIsa, HandoffChainsMatchTheFloatPipeline) {
  std::mt19937 rng(17);
  // MobileNet-like: pointwise (ReLU6) -> depthwise stride 2 (ReLU6) -> pointwise, then a
  // ResNet-like 3x3 (ReLU) -> 3x3 pair whose first output also feeds the graph output (so
  // it stays float).
  const int n = 2;
  std::vector<ChainConv> layers = {
      chain_conv({n, 8, 9, 9, 24, 1, 1, 0, 1, 1}, 0.03f, rng),
      chain_conv({n, 24, 9, 9, 24, 3, 2, 1, 1, 24}, 0.05f, rng),
      chain_conv({n, 24, 5, 5, 12, 1, 1, 0, 1, 1}, 0.07f, rng),
      chain_conv({n, 12, 5, 5, 16, 3, 1, 1, 1, 1}, 0.1f, rng),
      chain_conv({n, 16, 5, 5, 8, 3, 1, 1, 1, 1}, 0.08f, rng)};
  const Activation acts[] = {Activation::kRelu6, Activation::kRelu6, Activation::kNone,
                             Activation::kRelu, Activation::kNone};
  Tensor x({n, 8, 9, 9});
  x.data = random_floats(x.numel(), rng);
  TpkBuilder b;
  std::vector<std::uint32_t> values = {b.value({n, 8, 9, 9})};
  std::vector<float> want = x.data;
  std::vector<float> third;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const ChainConv& l = layers[i];
    std::int64_t oh = 0, ow = 0;
    want = naive_conv_int8(l.shape, want, l.codes, l.scales, l.bias, l.s_in, oh, ow);
    if (acts[i] == Activation::kRelu6) want = relu6(want);
    if (acts[i] == Activation::kRelu) {
      for (float& v : want) v = std::max(0.0f, v);
    }
    values.push_back(b.value({n, l.shape.o, oh, ow}));
    const int kk = l.shape.c / l.shape.groups * l.shape.k * l.shape.k;
    b.op(OpKind::kConv2d, {values[i]}, values[i + 1],
         {l.shape.k, l.shape.k, l.shape.stride, l.shape.stride, l.shape.pad, l.shape.pad, l.shape.dil,
          l.shape.dil, l.shape.groups},
         {l.s_in},
         {b.ternary_tensor(l.codes, l.shape.o, kk, l.scales, true), b.float_tensor({l.shape.o}, l.bias)},
         acts[i]);
    if (i == 3) third = want;
  }
  b.input(values[0]);
  b.output(values[5]);
  b.output(values[4]);
  const auto bytes = b.bytes();
  for (int threads : {1, 2}) {
    auto engine = Engine::from_bytes(bytes, {threads});
    ASSERT_TRUE(engine.ok()) << engine.message();
    EXPECT_EQ(engine.value()->info().int8_handoffs, 3u);  // all but the last two layers
    auto out = engine.value()->run({x});
    ASSERT_TRUE(out.ok()) << out.message();
    expect_near_all(out.value()[0], want, "chain output, threads=" + std::to_string(threads));
    expect_near_all(out.value()[1], third, "fourth layer, threads=" + std::to_string(threads));
  }
}

// GELU (fused into the write-back, then handed on in 8 bits), ReLU6, none.
TEST_P(Int8EachIsa, LinearHandoffsMatchTheFloatPipeline) {
  std::mt19937 rng(19);
  const std::int64_t batch = 7;
  const std::int64_t sizes[] = {70, 40, 33, 5};
  const Activation acts[] = {Activation::kGelu, Activation::kRelu6, Activation::kNone};
  const float scales_in[] = {0.02f, 0.04f, 0.05f};
  Tensor x({batch, sizes[0]});
  x.data = random_floats(x.numel(), rng);
  TpkBuilder b;
  std::vector<std::uint32_t> values = {b.value({batch, sizes[0]})};
  std::vector<float> want = x.data;
  for (int i = 0; i < 3; ++i) {
    const std::int64_t in = sizes[i], out = sizes[i + 1];
    const auto codes = random_codes(static_cast<std::size_t>(out * in), rng);
    std::vector<float> scales = random_floats(out, rng), bias = random_floats(out, rng);
    for (float& s : scales) s = std::fabs(s) * 0.3f + 0.05f;
    std::vector<float> next(static_cast<std::size_t>(batch * out));
    for (std::int64_t r = 0; r < batch; ++r) {
      for (std::int64_t o = 0; o < out; ++o) {
        std::int32_t acc = 0;
        for (std::int64_t k = 0; k < in; ++k) {
          acc += codes[static_cast<std::size_t>(o * in + k)] * quantize_one(want[static_cast<std::size_t>(r * in + k)], scales_in[i]);
        }
        float v = static_cast<float>(acc) * (scales_in[i] * scales[o]) + bias[o];
        if (acts[i] == Activation::kGelu) v = gelu_erf(v);
        if (acts[i] == Activation::kRelu6) v = std::min(6.0f, std::max(0.0f, v));
        next[static_cast<std::size_t>(r * out + o)] = v;
      }
    }
    want = next;
    values.push_back(b.value({batch, out}));
    b.op(OpKind::kLinear, {values[i]}, values[i + 1], {}, {scales_in[i]},
         {b.ternary_tensor(codes, out, in, scales, false), b.float_tensor({out}, bias)}, acts[i]);
  }
  b.input(values[0]);
  b.output(values[3]);
  const auto bytes = b.bytes();
  for (int threads : {1, 2}) {
    auto engine = Engine::from_bytes(bytes, {threads});
    ASSERT_TRUE(engine.ok()) << engine.message();
    EXPECT_EQ(engine.value()->info().int8_handoffs, 2u);
    auto out = engine.value()->run({x});
    ASSERT_TRUE(out.ok()) << out.message();
    expect_near_all(out.value()[0], want, "linear chain, threads=" + std::to_string(threads));
    // A second run reuses the handoff buffers.
    auto again = engine.value()->run({x});
    ASSERT_TRUE(again.ok()) << again.message();
    EXPECT_EQ(again.value()[0].data, out.value()[0].data);
  }
}

TEST_P(Int8EachIsa, LayersLargeEnoughToSplitMatchNaive) {
  // Above the inline threshold (2M multiply-adds), so two threads split them: by output
  // channels and positions, finer channel tasks for few positions (4x4), whole images for a
  // batch of 3; a depthwise layer and a linear layer too.
  std::mt19937 rng(29);
  const Int8Conv cases[] = {{1, 64, 16, 16, 64, 3, 1, 1, 1, 1}, {1, 1024, 4, 4, 16, 3, 1, 1, 1, 1},
                            {3, 32, 12, 12, 48, 3, 1, 1, 1, 1}, {1, 64, 66, 66, 64, 3, 1, 1, 1, 64}};
  for (const Int8Conv& cs : cases) {
    const int kk = cs.c / cs.groups * cs.k * cs.k;
    const auto codes = random_codes(static_cast<std::size_t>(cs.o * kk), rng);
    std::vector<float> scales = random_floats(cs.o, rng), bias = random_floats(cs.o, rng);
    for (float& v : scales) v = std::fabs(v) * 0.1f + 0.01f;
    Tensor x({cs.n, cs.c, cs.h, cs.w});
    x.data = random_floats(x.numel(), rng);
    std::int64_t oh = 0, ow = 0;
    const auto want = relu6(naive_conv_int8(cs, x.data, codes, scales, bias, 0.04f, oh, ow));
    TpkBuilder b;
    const auto vx = b.value({cs.n, cs.c, cs.h, cs.w}), vy = b.value({cs.n, cs.o, oh, ow});
    b.op(OpKind::kConv2d, {vx}, vy, {cs.k, cs.k, 1, 1, cs.pad, cs.pad, 1, 1, cs.groups}, {0.04f},
         {b.ternary_tensor(codes, cs.o, kk, scales, true), b.float_tensor({cs.o}, bias)},
         Activation::kRelu6);
    b.input(vx);
    b.output(vy);
    expect_near_all(run_engine(b.bytes(), x, 2), want, "split conv c=" + std::to_string(cs.c));
  }
  const std::int64_t rows = 20, in = 512, out = 256;
  const auto codes = random_codes(static_cast<std::size_t>(out * in), rng);
  std::vector<float> scales = random_floats(out, rng), bias = random_floats(out, rng);
  for (float& v : scales) v = std::fabs(v) * 0.1f + 0.01f;
  Tensor x({rows, in});
  x.data = random_floats(x.numel(), rng);
  std::vector<float> want(static_cast<std::size_t>(rows * out));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t o = 0; o < out; ++o) {
      std::int32_t acc = 0;
      for (std::int64_t k = 0; k < in; ++k) acc += codes[static_cast<std::size_t>(o * in + k)] * quantize_one(x.data[static_cast<std::size_t>(r * in + k)], 0.03f);
      want[static_cast<std::size_t>(r * out + o)] = static_cast<float>(acc) * (0.03f * scales[o]) + bias[o];
    }
  }
  TpkBuilder b;
  const auto vx = b.value({rows, in}), vy = b.value({rows, out});
  b.op(OpKind::kLinear, {vx}, vy, {}, {0.03f},
       {b.ternary_tensor(codes, out, in, scales, false), b.float_tensor({out}, bias)});
  b.input(vx);
  b.output(vy);
  expect_near_all(run_engine(b.bytes(), x, 2), want, "split linear");
}

namespace {

// act(a + b) elementwise, as the executor's Add computes it.
std::vector<float> add_then(std::vector<float> a, const std::vector<float>& b, Activation act) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = a[i] + b[i];
    if (act == Activation::kRelu) a[i] = a[i] > 0.0f ? a[i] : 0.0f;
    if (act == Activation::kRelu6) a[i] = std::min(6.0f, std::max(0.0f, a[i]));
  }
  return a;
}

}  // namespace

TEST_P(Int8EachIsa, ResidualAddsFoldIntoTheLayerBeforeThem) {
  // ResNet's two block kinds: conv -> conv, + the block input (identity), ReLU; and conv ->
  // conv, + a 1x1 stride-2 shortcut conv that the graph computes after the second conv (so
  // the Add folds into the shortcut, with the second conv's output as the residual). Then
  // a transformer's linear projection + its input without activation, and an Add that
  // broadcasts at run time (a bias-like [1, C, 1, 1] second input), which stays an Add.
  std::mt19937 rng(41);
  const int n = 3;
  const ChainConv a = chain_conv({n, 16, 8, 8, 16, 3, 1, 1, 1, 1}, 0.03f, rng);
  const ChainConv b2 = chain_conv({n, 16, 8, 8, 16, 3, 1, 1, 1, 1}, 0.05f, rng);
  const ChainConv c = chain_conv({n, 16, 8, 8, 24, 3, 2, 1, 1, 1}, 0.04f, rng);
  const ChainConv d = chain_conv({n, 24, 4, 4, 24, 3, 1, 1, 1, 1}, 0.06f, rng);
  const ChainConv e = chain_conv({n, 16, 8, 8, 24, 1, 2, 0, 1, 1}, 0.05f, rng);
  const ChainConv f = chain_conv({n, 24, 4, 4, 24, 1, 1, 0, 1, 1}, 0.07f, rng);
  Tensor x({n, 16, 8, 8});
  x.data = random_floats(x.numel(), rng);
  Tensor bias_like({1, 24, 1, 1});
  bias_like.data = random_floats(24, rng);
  TpkBuilder bld;
  auto conv = [&](const ChainConv& l, std::uint32_t in, std::uint32_t out, Activation act) {
    const int kk = l.shape.c / l.shape.groups * l.shape.k * l.shape.k;
    bld.op(OpKind::kConv2d, {in}, out,
           {l.shape.k, l.shape.k, l.shape.stride, l.shape.stride, l.shape.pad, l.shape.pad, 1, 1, 1},
           {l.s_in},
           {bld.ternary_tensor(l.codes, l.shape.o, kk, l.scales, true), bld.float_tensor({l.shape.o}, l.bias)},
           act);
  };
  const auto v0 = bld.value({n, 16, 8, 8}), v1 = bld.value({n, 16, 8, 8}), v2 = bld.value({n, 16, 8, 8}),
             v3 = bld.value({n, 16, 8, 8}), v4 = bld.value({n, 24, 4, 4}), v5 = bld.value({n, 24, 4, 4}),
             v6 = bld.value({n, 24, 4, 4}), v7 = bld.value({n, 24, 4, 4}), v8 = bld.value({n, 24, 4, 4}),
             vb = bld.value({1, 24, 1, 1}), v9 = bld.value({n, 24, 4, 4});
  conv(a, v0, v1, Activation::kRelu);
  conv(b2, v1, v2, Activation::kNone);
  bld.op(OpKind::kAdd, {v2, v0}, v3, {}, {}, {}, Activation::kRelu);  // identity block
  conv(c, v3, v4, Activation::kRelu);
  conv(d, v4, v5, Activation::kNone);
  conv(e, v3, v6, Activation::kNone);                                   // shortcut, after d
  bld.op(OpKind::kAdd, {v5, v6}, v7, {}, {}, {}, Activation::kRelu6);
  conv(f, v7, v8, Activation::kNone);
  bld.op(OpKind::kAdd, {v8, vb}, v9, {}, {}, {}, Activation::kNone);  // broadcasts: not folded
  bld.input(v0);
  bld.input(vb);
  bld.output(v9);
  bld.output(v3);
  std::int64_t oh = 0, ow = 0;
  const auto y1 = naive_conv_int8(a.shape, x.data, a.codes, a.scales, a.bias, a.s_in, oh, ow);
  std::vector<float> r1 = y1;
  for (float& v : r1) v = std::max(0.0f, v);
  const auto y3 = add_then(naive_conv_int8(b2.shape, r1, b2.codes, b2.scales, b2.bias, b2.s_in, oh, ow), x.data,
                           Activation::kRelu);
  std::vector<float> y4 = naive_conv_int8(c.shape, y3, c.codes, c.scales, c.bias, c.s_in, oh, ow);
  for (float& v : y4) v = std::max(0.0f, v);
  const auto y5 = naive_conv_int8(d.shape, y4, d.codes, d.scales, d.bias, d.s_in, oh, ow);
  const auto y6 = naive_conv_int8(e.shape, y3, e.codes, e.scales, e.bias, e.s_in, oh, ow);
  const auto y7 = add_then(y5, y6, Activation::kRelu6);
  std::vector<float> y9 = naive_conv_int8(f.shape, y7, f.codes, f.scales, f.bias, f.s_in, oh, ow);
  for (std::size_t i = 0; i < y9.size(); ++i) y9[i] += bias_like.data[i / 16 % 24];
  const auto bytes = bld.bytes();
  for (int threads : {1, 2}) {
    auto engine = Engine::from_bytes(bytes, {threads});
    ASSERT_TRUE(engine.ok()) << engine.message();
    EXPECT_EQ(engine.value()->info().residual_adds, 3u);
    for (int run = 0; run < 2; ++run) {  // the second run reuses buffers
      auto out = engine.value()->run({x, bias_like});
      ASSERT_TRUE(out.ok()) << out.message();
      expect_near_all(out.value()[0], y9, "after the broadcast Add, threads=" + std::to_string(threads));
      expect_near_all(out.value()[1], y3, "identity block, threads=" + std::to_string(threads));
    }
  }
}

TEST_P(Int8EachIsa, ResidualAddFoldsIntoALinearLayer) {
  std::mt19937 rng(43);
  const std::int64_t rows = 13, k = 40;
  const auto codes = random_codes(static_cast<std::size_t>(k * k), rng);
  std::vector<float> scales = random_floats(k, rng), bias = random_floats(k, rng);
  for (float& s : scales) s = std::fabs(s) * 0.3f + 0.05f;
  Tensor x({rows, k});
  x.data = random_floats(x.numel(), rng);
  TpkBuilder b;
  const auto vx = b.value({rows, k}), vy = b.value({rows, k}), vz = b.value({rows, k});
  b.op(OpKind::kLinear, {vx}, vy, {}, {0.03f},
       {b.ternary_tensor(codes, k, k, scales, false), b.float_tensor({k}, bias)}, Activation::kGelu);
  b.op(OpKind::kAdd, {vx, vy}, vz, {}, {}, {}, Activation::kNone);
  b.input(vx);
  b.output(vz);
  std::vector<float> want(static_cast<std::size_t>(rows * k));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t o = 0; o < k; ++o) {
      std::int32_t acc = 0;
      for (std::int64_t i = 0; i < k; ++i) {
        acc += codes[static_cast<std::size_t>(o * k + i)] * quantize_one(x.data[static_cast<std::size_t>(r * k + i)], 0.03f);
      }
      const float y = gelu_erf(static_cast<float>(acc) * (0.03f * scales[o]) + bias[o]);
      want[static_cast<std::size_t>(r * k + o)] = x.data[static_cast<std::size_t>(r * k + o)] + y;
    }
  }
  for (int threads : {1, 2}) {
    auto engine = Engine::from_bytes(b.bytes(), {threads});
    ASSERT_TRUE(engine.ok()) << engine.message();
    EXPECT_EQ(engine.value()->info().residual_adds, 1u);
    auto out = engine.value()->run({x});
    ASSERT_TRUE(out.ok()) << out.message();
    expect_near_all(out.value()[0], want, "linear + residual, threads=" + std::to_string(threads));
  }
}

TEST_P(Int8EachIsa, LargeBatchesRunInPassesOfOneImagePerThread) {
  // A small 8-bit CNN (conv, conv + identity, global pooling, flatten, 8-bit classifier):
  // every op works entry by entry, so a batch larger than the threads goes through the graph
  // a thread's worth of images at a time (Engine::batch_chunk_), with the same results, and
  // a profile sums each op over the passes.
  std::mt19937 rng(47);
  const int n = 5;
  const ChainConv a = chain_conv({n, 8, 6, 6, 8, 3, 1, 1, 1, 1}, 0.03f, rng);
  const ChainConv b2 = chain_conv({n, 8, 6, 6, 8, 3, 1, 1, 1, 1}, 0.05f, rng);
  const auto fc_codes = random_codes(4 * 8, rng);
  std::vector<float> fc_scales = random_floats(4, rng), fc_bias = random_floats(4, rng);
  for (float& v : fc_scales) v = std::fabs(v) * 0.3f + 0.05f;
  TpkBuilder bld;
  const auto v0 = bld.value({n, 8, 6, 6}), v1 = bld.value({n, 8, 6, 6}), v2 = bld.value({n, 8, 6, 6}),
             v3 = bld.value({n, 8, 6, 6}), v4 = bld.value({n, 8, 1, 1}), v5 = bld.value({n, 8}),
             v6 = bld.value({n, 4});
  for (const auto& [l, in, out, act] : {std::tuple{&a, v0, v1, Activation::kRelu}, std::tuple{&b2, v1, v2, Activation::kNone}}) {
    bld.op(OpKind::kConv2d, {in}, out, {3, 3, 1, 1, 1, 1, 1, 1, 1}, {l->s_in},
           {bld.ternary_tensor(l->codes, 8, 72, l->scales, true), bld.float_tensor({8}, l->bias)}, act);
  }
  bld.op(OpKind::kAdd, {v2, v0}, v3, {}, {}, {}, Activation::kRelu);
  bld.op(OpKind::kAdaptiveAvgPool2d, {v3}, v4, {1, 1});
  bld.op(OpKind::kReshape, {v4}, v5, {-1, 8});
  bld.op(OpKind::kLinear, {v5}, v6, {}, {0.02f},
         {bld.ternary_tensor(fc_codes, 4, 8, fc_scales, false), bld.float_tensor({4}, fc_bias)});
  bld.input(v0);
  bld.output(v6);
  bld.output(v3);
  Tensor x({n, 8, 6, 6});
  x.data = random_floats(x.numel(), rng);
  std::int64_t oh = 0, ow = 0;
  std::vector<float> y1 = naive_conv_int8(a.shape, x.data, a.codes, a.scales, a.bias, a.s_in, oh, ow);
  for (float& v : y1) v = std::max(0.0f, v);
  const auto y3 = add_then(naive_conv_int8(b2.shape, y1, b2.codes, b2.scales, b2.bias, b2.s_in, oh, ow), x.data,
                           Activation::kRelu);
  std::vector<float> logits(n * 4);
  for (int i = 0; i < n; ++i) {
    std::vector<float> pooled(8);
    for (int c = 0; c < 8; ++c) {
      float sum = 0.0f;
      for (int j = 0; j < 36; ++j) sum += y3[static_cast<std::size_t>((i * 8 + c) * 36 + j)];
      pooled[c] = sum / 36.0f;
    }
    for (int o = 0; o < 4; ++o) {
      std::int32_t acc = 0;
      for (int k = 0; k < 8; ++k) acc += fc_codes[static_cast<std::size_t>(o * 8 + k)] * quantize_one(pooled[k], 0.02f);
      logits[static_cast<std::size_t>(i * 4 + o)] = static_cast<float>(acc) * (0.02f * fc_scales[o]) + fc_bias[o];
    }
  }
  for (int threads : {1, 2}) {
    auto engine = Engine::from_bytes(bld.bytes(), {threads});
    ASSERT_TRUE(engine.ok()) << engine.message();
    EXPECT_EQ(engine.value()->info().batch_chunk, engine.value()->info().threads);
    for (bool profiled : {false, true}) {
      std::vector<double> ms;
      auto out = engine.value()->run({x}, profiled ? &ms : nullptr);
      ASSERT_TRUE(out.ok()) << out.message();
      ASSERT_EQ(out.value()[0].shape, (std::vector<std::int64_t>{n, 4}));
      ASSERT_EQ(out.value()[1].shape, (std::vector<std::int64_t>{n, 8, 6, 6}));
      expect_near_all(out.value()[1], y3, "block output, threads=" + std::to_string(threads));
      // The pooled mean is summed in another order than here: a quantization step can move.
      for (std::size_t i = 0; i < logits.size(); ++i) {
        EXPECT_NEAR(out.value()[0].data[i], logits[i], 0.02f * fc_scales[i % 4] + 1e-4f) << i;
      }
      if (profiled) {
        EXPECT_EQ(ms.size(), 6u);
      }
    }
  }
}

TEST(Int8Engine, GraphsThatMixBatchEntriesRunWhole) {
  // A MatMul (its operands' batch dimensions may be anything) or only float layers: no
  // passes.
  std::mt19937 rng(53);
  const auto codes = random_codes(8 * 72, rng);
  std::vector<float> scales(8, 0.5f), bias(8, 0.1f);
  for (bool matmul : {true, false}) {
    TpkBuilder b;
    const auto v0 = b.value({4, 8, 6, 6}), v1 = b.value({4, 8, 6, 6}), v2 = b.value({4, 8, 6, 6});
    b.op(OpKind::kConv2d, {v0}, v1, {3, 3, 1, 1, 1, 1, 1, 1, 1}, matmul ? std::vector<float>{0.05f} : std::vector<float>{},
         {b.ternary_tensor(codes, 8, 72, scales, false), b.float_tensor({8}, bias)});
    if (matmul) {
      b.op(OpKind::kMatMul, {v1, v1}, v2);
    } else {
      b.op(OpKind::kActivation, {v1}, v2, {1});
    }
    b.input(v0);
    b.output(v2);
    auto engine = Engine::from_bytes(b.bytes(), {2});
    ASSERT_TRUE(engine.ok()) << engine.message();
    EXPECT_EQ(engine.value()->info().batch_chunk, 0) << (matmul ? "matmul" : "float conv");
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, Int8EachIsa,
                         ::testing::Values("scalar", "avx2", "avx512bw", "avx512", "amx"));

TEST(Int8Executor, PaddedImagesObeyTheTensorLimit) {
  // A 6x6 output (36 elements) is within a limit of 100, its 8x8x4-byte padded input image
  // is not: an error, like an oversized result.
  std::mt19937 rng(23);
  TpkBuilder b;
  const auto vx = b.value({1, 1, 6, 6}), vy = b.value({1, 1, 6, 6});
  b.op(OpKind::kConv2d, {vx}, vy, {3, 3, 1, 1, 1, 1, 1, 1, 1}, {0.1f},
       {b.ternary_tensor(random_codes(9, rng), 1, 9, {1.0f}, true), format::kAbsent});
  b.input(vx);
  b.output(vy);
  EngineOptions options;
  options.threads = 1;
  options.max_tensor_elements = 100;
  auto engine = Engine::from_bytes(b.bytes(), options);
  ASSERT_TRUE(engine.ok()) << engine.message();
  Tensor x({1, 1, 6, 6});
  x.data = random_floats(36, rng);
  auto out = engine.value()->run({x});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.message().find("padded by 1x1 exceeds the limit of 100 elements"), std::string::npos)
      << out.message();
}

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

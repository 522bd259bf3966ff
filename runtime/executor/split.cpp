// The executor's cost table (see split.h) and its split helpers for whole-tensor loops.
//
// Figures are single-thread nanoseconds per unit of work, per ISA level:
//  - avx2: measured on a 2-core AMD EPYC (Zen 3 VM): every split loop of the seed models
//    (MLP b128, ResNet-18 b1, MobileNetV2 b1, ViT-B/16 b1) timed at one thread, best of
//    several runs, against its estimate; the figures below put each kind within a factor
//    of two of what was measured (depthwise and transposes vary most with the shape);
//  - avx512 and amx: derived from the 1-thread timings on Sapphire Rapids in
//    benchmarks/results (ResNet-18 b1 runs about 0.56 G multiply-accumulates in 6 ms on
//    tiles, 15 ms with the AVX-512 kernels), the rest scaled from avx2 by vector width;
//  - scalar: the reference kernels, several times slower than avx2 (the 8-bit reference,
//    which reads every code through the blocked layout, about 50 times).
#include "executor/split.h"

#include <algorithm>

namespace triton_rt {
namespace {

constexpr int kWorkKinds = 11;
// [work][isa]: scalar, avx2, avx512, amx.
constexpr double kNsPerUnit[kWorkKinds][4] = {
    {0.4, 0.08, 0.02, 0.02},   // kTernaryGemv: per weight
    {0.3, 0.05, 0.02, 0.02},   // kTernaryGemm: per multiply-accumulate
    {0.3, 0.05, 0.02, 0.008},  // kTileConv: per multiply-accumulate (tiles on amx only)
    {0.5, 0.05, 0.03, 0.03},   // kFloatGemm: per multiply-accumulate
    {1.0, 0.2, 0.1, 0.1},      // kDepthwise: per tap
    {0.3, 0.1, 0.08, 0.08},    // kMove: per float read or written
    {2.0, 1.5, 1.2, 1.2},      // kGather: per float moved
    {6.0, 3.5, 2.5, 2.5},      // kMath: per transcendental
    // 8-bit layers (kernels/ternary_int8.h; avx2 measured as above, about 140 G products/s
    // in large layers; avx512 is the VNNI kernel, amx the tiles where the layer fits them).
    {0.5, 0.007, 0.005, 0.002},  // kInt8Mac: per multiply-accumulate
    {1.0, 0.06, 0.05, 0.05},     // kInt8Tap: per depthwise tap
    {3.0, 0.6, 0.4, 0.4},        // kInt8Output: per output written back
};

}  // namespace

double work_ns(const OpContext& ctx, Work work, double count) {
  const int isa = std::clamp(static_cast<int>(ctx.kernels.isa), 0, 3);
  return kNsPerUnit[static_cast<int>(work)][isa] * count;
}

double activation_ns(const OpContext& ctx, Activation act) {
  switch (act) {
    case Activation::kNone:
      return 0.0;
    case Activation::kRelu:
    case Activation::kRelu6:
      return work_ns(ctx, Work::kMove, 2);
    default:
      return work_ns(ctx, Work::kMove, 2) + work_ns(ctx, Work::kMath, 1);
  }
}

void apply_activation_split(const OpContext& ctx, Activation act, float* data, std::int64_t n) {
  if (act == Activation::kNone) return;
  split(ctx, n, kFloatsPerLine, activation_ns(ctx, act), [&](std::int64_t b, std::int64_t e) {
    apply_activation(act, data + b, e - b);
  });
}

void copy_split(const OpContext& ctx, const float* src, float* dst, std::int64_t n) {
  split(ctx, n, kFloatsPerLine, work_ns(ctx, Work::kMove, 2), [&](std::int64_t b, std::int64_t e) {
    std::copy(src + b, src + e, dst + b);
  });
}

}  // namespace triton_rt

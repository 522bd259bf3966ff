// How the executor splits an op over the engine's thread pool: what its work costs.
//
// ThreadPool::parallel_for_cost uses a thread per min_thread_work_ns (20 us by default) of
// estimated single-thread time, so every parallel loop of an op states what it does: so many
// ternary multiply-accumulates, float FMAs, depthwise taps, floats moved or gathered, or
// transcendental functions evaluated. work_ns() turns that into nanoseconds with a per-ISA
// table (split.cpp, with how its figures were measured). The figures only need to be right within
// a factor of about two: a loop estimated too cheap runs on fewer threads than it could,
// one estimated too dear gives each thread a few microseconds less than the pool asks for.
//
// Grains: a loop that writes per-item outputs splits at multiples of 16 floats (64 bytes)
// where it can, so two threads never write one cache line (kFloatsPerLine).
#pragma once

#include <cstdint>

#include "executor/ops.h"

namespace triton_rt {

enum class Work {
  kTernaryGemv,  // one weight of a batch-1 ternary linear layer (table lookup or masks)
  kTernaryGemm,  // one multiply-accumulate of the ternary GEMM kernels (sparse, gemm_oc)
  kTileConv,     // one multiply-accumulate of the AMX tile convolution (three bf16 products)
  kFloatGemm,    // one multiply-accumulate of the float32 GEMM kernels
  kDepthwise,    // one tap of one depthwise output
  kMove,         // one float read or written by a copy or an elementwise loop
  kGather,       // one float moved by a strided gather (transpose, panel packing, im2col)
  kMath,         // one exp, tanh or erf (softmax, GELU, SiLU, sigmoid, tanh)
  kInt8Mac,      // one multiply-accumulate of the 8-bit convolution kernels
  kInt8Tap,      // one tap of one 8-bit depthwise output
  kInt8Output,   // one output of an 8-bit layer's write-back (scale, bias, activation, quantize)
};

inline constexpr std::int64_t kFloatsPerLine = 16;

// Estimated single-thread nanoseconds of `count` units of `work` with the context's kernels.
double work_ns(const OpContext& ctx, Work work, double count);

// The same for applying `act` in place to one float (0 for kNone).
double activation_ns(const OpContext& ctx, Activation act);

// fn(begin, end) over [0, n) items of `item_ns` each, split by cost over the pool in chunks
// of multiples of `grain` items.
template <typename Fn>
void split(const OpContext& ctx, std::int64_t n, std::int64_t grain, double item_ns, const Fn& fn) {
  ctx.pool.parallel_for_cost(n, grain, item_ns * static_cast<double>(n),
                             [&fn](std::int64_t b, std::int64_t e, int) { fn(b, e); });
}

// The same with the pool's worker index, for chunks that use per-worker scratch.
template <typename Fn>
void split_workers(const OpContext& ctx, std::int64_t n, std::int64_t grain, double item_ns,
                   const Fn& fn) {
  ctx.pool.parallel_for_cost(n, grain, item_ns * static_cast<double>(n), fn);
}

// apply_activation over n floats, split by cost (GELU over a ViT MLP's 600k outputs is a
// millisecond of one thread).
void apply_activation_split(const OpContext& ctx, Activation act, float* data, std::int64_t n);

// dst[0, n) = src[0, n), split by cost.
void copy_split(const OpContext& ctx, const float* src, float* dst, std::int64_t n);

}  // namespace triton_rt

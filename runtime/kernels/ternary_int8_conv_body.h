// The register-blocked convolution micro-kernel for 8-bit activations, written once for
// every SIMD flavour (ternary_int8.h describes the layouts).
//
// Included (only) by the variant files, each of which first defines a traits struct `T`:
//   Acc           a register of partial sums (int16 pairs for vpmaddubsw, int32 for vpdpbusd)
//   Sum           a register of T::kLanes int32 sums, one per output channel
//   kLanes        output channels per weight sub-block (prepare_int8_conv's `lanes`)
//   kBlocks       sub-blocks per tile (weight registers), kPositions positions per tile
//   kFlushSteps   steps after which Acc must be widened into Sum (0: Acc is the Sum)
//   zero(), zero_sum(), codes(p) (a sub-block's 4 x kLanes codes of one step),
//   broadcast(p) (4 activation bytes in every int32 lane), step(acc, act, codes),
//   widen(sum, acc), Epilogue (the write-back's constants, built from an Int8Output, with
//   `quantized`), Channels and channels(valid, shift, factor, bias) (a sub-block's
//   write-back constants, of which the first `valid` channels exist, loaded once per tile),
//   finish_float(ep, channels, sum, y, r) and finish_q(ep, channels, sum, q) (the write-back
//   of one sub-block at one position: float to y with channels contiguous, plus the residual
//   at r where r is not null (Int8Output::residual), or 8-bit to q; every pointer at the
//   sub-block's first channel), store_channel_major (see kStagePositions).
// A tile is kPositions output positions x kBlocks sub-blocks: kPositions * kBlocks
// accumulators, kBlocks code registers and one broadcast fill the register file; each code
// register serves every position and each broadcast every sub-block. Positions are
// independent (each has its own pointer), so any stride, dilation or row wrap is free.
// One call of conv_positions runs a range of positions for one group of sub-blocks with the
// tile inlined, so layers with short reductions (pointwise convolutions over 16 channels)
// do not pay a call and a setup per tile.
// Everything here has internal linkage, so the variants, compiled with different ISA flags,
// never share a definition.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/ternary_int8.h"
#include "kernels/ternary_int8_transpose.h"

namespace triton_rt::kernels {
namespace {

// What every tile of one conv_positions call reads, in locals: the write-back's byte
// stores could alias anything read through a pointer and force reloads.
template <class T>
struct TileContext {
  const std::int8_t* codes;  // the first sub-block's codes
  std::int64_t block_bytes;  // between sub-blocks
  std::int64_t taps, channel_steps, steps;
  const std::int64_t* tap_offsets;
  const std::int32_t* shift;  // at the first sub-block's first channel
  const float* factor;
  const float* bias;
  std::int64_t valid;  // channels from the first one that exist
  typename T::Epilogue ep;
};

// One tile: P positions (tap (0, 0) at at[p]) x B sub-blocks, written to y[p] (float,
// channels contiguous, with the residual at r[p] where that is not null) or q[p] (8-bit),
// all at the first sub-block's first channel.
template <class T, int P, int B>
inline __attribute__((always_inline)) void conv_tile(const TileContext<T>& cx,
                                                     const std::uint8_t* const* at,
                                                     float* const* y, const float* const* r,
                                                     std::uint8_t* const* q) {
  typename T::Acc acc[P][B];
  typename T::Sum sums[P][B];
  for (int p = 0; p < P; ++p) {
    for (int b = 0; b < B; ++b) acc[p][b] = T::zero();
  }
  const std::int8_t* codes = cx.codes;
  auto run_steps = [&](const std::uint8_t* const* src, std::int64_t c, std::int64_t end) {
    for (; c < end; ++c) {
      typename T::Acc wv[B];
      for (int b = 0; b < B; ++b) wv[b] = T::codes(codes + b * cx.block_bytes);
      codes += T::kLanes * kInt8StepBytes;
      for (int p = 0; p < P; ++p) {
        const typename T::Acc a = T::broadcast(src[p] + c * kInt8StepBytes);
        for (int b = 0; b < B; ++b) acc[p][b] = T::step(acc[p][b], a, wv[b]);
      }
    }
  };
  if (T::kFlushSteps == 0 || cx.steps <= T::kFlushSteps) {
    // Short reductions (and vpdpbusd): the accumulators never need widening on the way.
    for (std::int64_t t = 0; t < cx.taps; ++t) {
      const std::uint8_t* src[P];
      for (int p = 0; p < P; ++p) src[p] = at[p] + cx.tap_offsets[t];
      run_steps(src, 0, cx.channel_steps);
    }
    for (int p = 0; p < P; ++p) {
      for (int b = 0; b < B; ++b) sums[p][b] = T::widen(T::zero_sum(), acc[p][b]);
    }
  } else {
    // int16 pairs: each step adds at most 2 * 255 per lane, so kFlushSteps (64) steps stay
    // within 32640 < 2^15 before they are widened into int32.
    for (int p = 0; p < P; ++p) {
      for (int b = 0; b < B; ++b) sums[p][b] = T::zero_sum();
    }
    std::int64_t since_flush = 0;
    for (std::int64_t t = 0; t < cx.taps; ++t) {
      const std::uint8_t* src[P];
      for (int p = 0; p < P; ++p) src[p] = at[p] + cx.tap_offsets[t];
      for (std::int64_t c = 0; c < cx.channel_steps;) {
        const std::int64_t n = std::min(cx.channel_steps - c, T::kFlushSteps - since_flush);
        run_steps(src, c, c + n);
        c += n;
        since_flush += n;
        if (since_flush == T::kFlushSteps) {
          for (int p = 0; p < P; ++p) {
            for (int b = 0; b < B; ++b) {
              sums[p][b] = T::widen(sums[p][b], acc[p][b]);
              acc[p][b] = T::zero();
            }
          }
          since_flush = 0;
        }
      }
    }
    for (int p = 0; p < P; ++p) {
      for (int b = 0; b < B; ++b) sums[p][b] = T::widen(sums[p][b], acc[p][b]);
    }
  }
  for (int b = 0; b < B; ++b) {
    const std::int64_t l = b * T::kLanes;
    const typename T::Channels ch = T::channels(cx.valid - l, cx.shift + l, cx.factor + l, cx.bias + l);
    for (int p = 0; p < P; ++p) {
      if (cx.ep.quantized) {
        T::finish_q(cx.ep, ch, sums[p][b], q[p] + l);
      } else {
        T::finish_float(cx.ep, ch, sums[p][b], y[p] + l, r[p] != nullptr ? r[p] + l : nullptr);
      }
    }
  }
}

// The destinations of a run of positions: float outputs at y + pos * y_stride (a staging
// buffer or a position-major output; the residual, if any, at r + pos * y_stride), or 8-bit
// ones in the image q_layout; all at the first sub-block's first channel.
struct PositionOutputs {
  float* y = nullptr;
  const float* r = nullptr;
  std::int64_t y_stride = 0;
  std::int64_t y_first = 0;  // the position at y
  std::uint8_t* q = nullptr;
  const Int8ImageLayout* q_layout = nullptr;
};

// A tile of fewer than kPositions positions (the end of a range), through a table.
template <class T, int P, int B>
void tail_tile(const TileContext<T>& cx, const std::uint8_t* const* at, float* const* y,
               const float* const* r, std::uint8_t* const* q) {
  conv_tile<T, P, B>(cx, at, y, r, q);
}

template <class T, int B, int... P>
constexpr std::array<void (*)(const TileContext<T>&, const std::uint8_t* const*, float* const*,
                              const float* const*, std::uint8_t* const*),
                     sizeof...(P)>
tail_table(std::integer_sequence<int, P...>) {
  return {&tail_tile<T, P + 1, B>...};
}

// Positions [pos_begin, pos_end) of B sub-blocks from `block`.
template <class T, int B>
void conv_positions(const Int8ConvJob& job, std::int64_t block, std::int64_t pos_begin,
                    std::int64_t pos_end, const PositionOutputs& dst) {
  static constexpr auto kTails = tail_table<T, B>(std::make_integer_sequence<int, T::kPositions - 1>());
  const Int8ConvWeights& w = *job.weights;
  const std::int64_t o = block * T::kLanes;
  const std::int64_t first = job.group * w.group_out_padded + o;
  const TileContext<T> cx{w.sub_block(job.group, block),
                          w.sub_block_bytes(),
                          w.taps,
                          w.group_in_padded / kInt8StepBytes,
                          w.steps,
                          job.tap_offsets,
                          w.shift.data() + first,
                          w.factor.data() + first,
                          w.bias.data() + first,
                          job.out.channels - o,
                          typename T::Epilogue(job.out)};
  const std::uint8_t* const origin = job.origin;
  const std::int64_t row_step = job.stride_h * job.padded_width * job.pitch;
  const std::int64_t col_step = job.stride_w * job.pitch;
  const std::int64_t out_w = job.out_w;
  const PositionOutputs d = dst;
  // Running offsets of the current position (no multiplies per position, and nothing read
  // through a pointer that the byte stores could alias): the input under tap (0, 0), the
  // float output (and residual), the 8-bit output. A row of outputs ends by stepping over
  // the 8-bit image's border.
  std::int64_t oy = pos_begin / out_w, ox = pos_begin % out_w;
  std::int64_t in_at = oy * row_step + ox * col_step;
  std::int64_t y_at = (pos_begin - d.y_first) * d.y_stride;
  const std::int64_t q_pitch = d.q != nullptr ? d.q_layout->pitch : 0;
  const std::int64_t q_wrap = d.q != nullptr ? 2 * d.q_layout->pad_w * q_pitch : 0;
  std::int64_t q_at = d.q != nullptr ? d.q_layout->offset(oy, ox) : 0;
  for (std::int64_t pos = pos_begin; pos < pos_end; pos += T::kPositions) {
    const std::int64_t np = std::min<std::int64_t>(T::kPositions, pos_end - pos);
    const std::uint8_t* at[T::kPositions];
    float* y[T::kPositions];
    const float* r[T::kPositions];
    std::uint8_t* q[T::kPositions];
    for (std::int64_t p = 0; p < np; ++p) {
      at[p] = origin + in_at;
      y[p] = d.y != nullptr ? d.y + y_at : nullptr;
      r[p] = d.r != nullptr ? d.r + y_at : nullptr;
      q[p] = d.q != nullptr ? d.q + q_at : nullptr;
      in_at += col_step;
      y_at += d.y_stride;
      q_at += q_pitch;
      if (++ox == out_w) {
        ox = 0;
        ++oy;
        in_at = oy * row_step;
        q_at += q_wrap;
      }
    }
    if (np == T::kPositions) {
      conv_tile<T, T::kPositions, B>(cx, at, y, r, q);
    } else {
      kTails[static_cast<std::size_t>(np - 1)](cx, at, y, r, q);
    }
  }
}

template <class T, int... B>
constexpr std::array<void (*)(const Int8ConvJob&, std::int64_t, std::int64_t, std::int64_t,
                              const PositionOutputs&),
                     sizeof...(B)>
positions_table(std::integer_sequence<int, B...>) {
  return {&conv_positions<T, B + 1>...};
}

// Channel-major float outputs (NCHW: channel_stride != 1) are staged position-major for
// this many positions and then written out a channel row at a time (T::store_channel_major),
// instead of scattering every value kLanes strides apart.
template <class T>
inline constexpr std::int64_t kStagePositions = 8 * T::kPositions;

template <class T>
void conv_body(const Int8ConvJob& job, std::int64_t block_begin, std::int64_t block_end,
               std::int64_t pos_begin, std::int64_t pos_end) {
  static constexpr auto kRuns = positions_table<T>(std::make_integer_sequence<int, T::kBlocks>());
  constexpr std::int64_t kStageLd = T::kBlocks * T::kLanes;
  alignas(64) float stage[kStagePositions<T> * kStageLd];
  const Int8Output& out = job.out;
  const bool staged = out.q == nullptr && out.channel_stride != 1;
  for (std::int64_t b = block_begin; b < block_end; b += T::kBlocks) {
    const std::int64_t nb = std::min<std::int64_t>(T::kBlocks, block_end - b);
    const auto run = kRuns[static_cast<std::size_t>(nb - 1)];
    const std::int64_t o = b * T::kLanes;
    if (!staged) {
      PositionOutputs d;
      if (out.q != nullptr) {
        d.q = out.q + o;
        d.q_layout = &out.q_layout;
      } else {
        d.y = out.y + o;
        d.r = out.residual != nullptr ? out.residual + o : nullptr;
        d.y_stride = out.position_stride;
      }
      run(job, b, pos_begin, pos_end, d);
      continue;
    }
    StoreResidual res;
    res.clamp = out.residual_clamp;
    res.lo = out.residual_lo;
    res.hi = out.residual_hi;
    for (std::int64_t chunk = pos_begin; chunk < pos_end; chunk += kStagePositions<T>) {
      const std::int64_t chunk_end = std::min(pos_end, chunk + kStagePositions<T>);
      PositionOutputs d;
      d.y = stage;
      d.y_stride = kStageLd;
      d.y_first = chunk;
      run(job, b, chunk, chunk_end, d);
      const std::int64_t channels = std::min(nb * T::kLanes, out.channels - o);
      const std::int64_t at = o * out.channel_stride + chunk;
      res.residual = out.residual != nullptr ? out.residual + at : nullptr;
      T::store_channel_major(stage, kStageLd, chunk_end - chunk, channels, out.y + at,
                             out.channel_stride, res);
    }
  }
}

}  // namespace
}  // namespace triton_rt::kernels

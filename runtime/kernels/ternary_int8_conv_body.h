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
//   widen(sum, acc), finish(out, sum, o, pos, out_w, shift, factor, bias) (the write-back of
//   kLanes channels from o at one position).
// A tile is kPositions output positions x kBlocks sub-blocks: kPositions * kBlocks
// accumulators, kBlocks code registers and one broadcast fill the register file; each code
// register serves every position and each broadcast every sub-block. Positions are
// independent (each has its own pointer), so any stride, dilation or row wrap is free.
// Everything here has internal linkage, so the variants, compiled with different ISA flags,
// never share a definition.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/ternary_int8.h"

namespace triton_rt::kernels {
namespace {

template <class T, int P, int B>
void conv_tile(const Int8ConvJob& job, std::int64_t block, std::int64_t pos,
               const std::uint8_t* const* at) {
  const Int8ConvWeights& w = *job.weights;
  const std::int64_t channel_steps = w.group_in_padded / kInt8StepBytes;
  const std::int64_t block_bytes = w.sub_block_bytes();
  const std::int8_t* codes = w.sub_block(job.group, block);
  typename T::Acc acc[P][B];
  typename T::Sum sums[P][B];
  for (int p = 0; p < P; ++p) {
    for (int b = 0; b < B; ++b) {
      acc[p][b] = T::zero();
      sums[p][b] = T::zero_sum();
    }
  }
  [[maybe_unused]] std::int64_t since_flush = 0;
  for (std::int64_t t = 0; t < w.taps; ++t) {
    const std::uint8_t* src[P];
    for (int p = 0; p < P; ++p) src[p] = at[p] + job.tap_offsets[t];
    std::int64_t c = 0;
    while (c < channel_steps) {
      std::int64_t n = channel_steps - c;
      if constexpr (T::kFlushSteps > 0) n = std::min(n, T::kFlushSteps - since_flush);
      for (const std::int64_t end = c + n; c < end; ++c) {
        typename T::Acc wv[B];
        for (int b = 0; b < B; ++b) wv[b] = T::codes(codes + b * block_bytes);
        codes += T::kLanes * kInt8StepBytes;
        for (int p = 0; p < P; ++p) {
          const typename T::Acc a = T::broadcast(src[p] + c * kInt8StepBytes);
          for (int b = 0; b < B; ++b) acc[p][b] = T::step(acc[p][b], a, wv[b]);
        }
      }
      if constexpr (T::kFlushSteps > 0) {
        // int16 pairs: each step adds at most 2 * 255 per lane, so kFlushSteps (64) steps
        // stay within 32640 < 2^15 before they are widened.
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
  }
  const std::int64_t first = job.group * w.group_out_padded;
  for (int p = 0; p < P; ++p) {
    for (int b = 0; b < B; ++b) {
      const typename T::Sum sum = T::widen(sums[p][b], acc[p][b]);
      T::finish(job.out, sum, (block + b) * T::kLanes, pos + p, job.out_w, w.shift.data() + first,
                w.factor.data() + first, w.bias.data() + first);
    }
  }
}

template <class T>
using TileFn = void (*)(const Int8ConvJob&, std::int64_t, std::int64_t, const std::uint8_t* const*);

// tile_table<T>()[p - 1][b - 1] is the tile of p positions and b sub-blocks.
template <class T, int P, int... B>
constexpr std::array<TileFn<T>, sizeof...(B)> tile_row(std::integer_sequence<int, B...>) {
  return {&conv_tile<T, P, B + 1>...};
}

template <class T, int... P>
constexpr std::array<std::array<TileFn<T>, T::kBlocks>, sizeof...(P)> tile_table(
    std::integer_sequence<int, P...>) {
  return {tile_row<T, P + 1>(std::make_integer_sequence<int, T::kBlocks>())...};
}

template <class T>
void conv_body(const Int8ConvJob& job, std::int64_t block_begin, std::int64_t block_end,
               std::int64_t pos_begin, std::int64_t pos_end) {
  static constexpr auto kTiles = tile_table<T>(std::make_integer_sequence<int, T::kPositions>());
  const std::int64_t row_step = job.stride_h * job.padded_width * job.pitch;
  const std::int64_t col_step = job.stride_w * job.pitch;
  for (std::int64_t b = block_begin; b < block_end; b += T::kBlocks) {
    const std::int64_t nb = std::min<std::int64_t>(T::kBlocks, block_end - b);
    std::int64_t oy = pos_begin / job.out_w, ox = pos_begin % job.out_w;
    for (std::int64_t pos = pos_begin; pos < pos_end; pos += T::kPositions) {
      const std::int64_t np = std::min<std::int64_t>(T::kPositions, pos_end - pos);
      const std::uint8_t* at[T::kPositions];
      for (std::int64_t p = 0; p < np; ++p) {
        at[p] = job.origin + oy * row_step + ox * col_step;
        if (++ox == job.out_w) {
          ox = 0;
          ++oy;
        }
      }
      kTiles[static_cast<std::size_t>(np - 1)][static_cast<std::size_t>(nb - 1)](job, b, pos, at);
    }
  }
}

}  // namespace
}  // namespace triton_rt::kernels

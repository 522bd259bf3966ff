// Where an 8-bit depthwise kernel's outputs go (Int8Output), written once for the AVX2 and
// AVX-512 depthwise kernels: 8-bit images, position-major floats, or channel-major (NCHW)
// floats staged position-major for a chunk of positions and one step of channels, then
// written a channel row at a time.
//
// Included (only) by kernel files compiled with AVX2 or more; everything here has internal
// linkage.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/ternary_int8.h"
#include "kernels/ternary_int8_transpose.h"

namespace triton_rt::kernels {
namespace {

// Calls run(c_begin, c_end, pos_begin, pos_end, dst_of) for channels [channel_begin, end)
// (in steps of kStep from c_begin) at positions [pos_begin, pos_end), where dst_of(pos, oy,
// ox) is the destination of channel c_begin at that position (a byte or a float pointer).
template <std::int64_t kStep, std::int64_t kStagePositions, class Run>
void depthwise_destinations(const Int8Output& out, std::int64_t channel_begin, std::int64_t end,
                            std::int64_t pos_begin, std::int64_t pos_end, const Run& run) {
  if (out.q != nullptr) {
    std::uint8_t* const q = out.q;
    const Int8ImageLayout layout = out.q_layout;
    run(channel_begin, end, pos_begin, pos_end, [&](std::int64_t, std::int64_t oy, std::int64_t ox) {
      return q + layout.offset(oy, ox) + channel_begin;
    });
    return;
  }
  if (out.channel_stride == 1) {
    float* const y = out.y;
    const std::int64_t stride = out.position_stride;
    run(channel_begin, end, pos_begin, pos_end, [&](std::int64_t pos, std::int64_t, std::int64_t) {
      return y + pos * stride + channel_begin;
    });
    return;
  }
  alignas(64) float stage[kStagePositions * kStep];
  for (std::int64_t chunk = pos_begin; chunk < pos_end; chunk += kStagePositions) {
    const std::int64_t chunk_end = std::min(pos_end, chunk + kStagePositions);
    for (std::int64_t c0 = channel_begin; c0 < end; c0 += kStep) {
      run(c0, c0 + 1, chunk, chunk_end, [&](std::int64_t pos, std::int64_t, std::int64_t) {
        return stage + (pos - chunk) * kStep;
      });
      store_channel_major(stage, kStep, chunk_end - chunk, std::min(end, c0 + kStep) - c0,
                          out.y + c0 * out.channel_stride + chunk, out.channel_stride);
    }
  }
}

}  // namespace
}  // namespace triton_rt::kernels

// Scalar reference kernels for 8-bit activations (see ternary_int8.h): the ground truth
// every SIMD variant is tested against, and the kernels of CPUs without AVX2. They read the
// prepared codes one at a time through Int8ConvWeights::code and sum the signed products
// q * code directly, without the +128 shift the SIMD variants correct for.
#include <cmath>

#include "kernels/ternary_int8.h"
#include "kernels/ternary_int8_output.h"

namespace triton_rt::kernels {
namespace {

void quantize_u8__scalar(const float* x, std::int64_t n, float scale, std::uint8_t* q) {
  for (std::int64_t i = 0; i < n; ++i) q[i] = quantize_one(x[i], scale);
}

void store_channel_bytes__scalar(const std::uint8_t* rows, std::int64_t ld, std::int64_t width,
                                 std::int64_t channels, std::uint8_t* line, std::int64_t pitch) {
  for (std::int64_t x = 0; x < width; ++x) {
    for (std::int64_t c = 0; c < channels; ++c) line[x * pitch + c] = rows[c * ld + x];
  }
}

// The image byte under tap (0, 0) of output position `pos`.
const std::uint8_t* position_origin(const std::uint8_t* origin, std::int64_t pos,
                                    std::int64_t out_w, std::int64_t stride_h,
                                    std::int64_t stride_w, std::int64_t padded_width,
                                    std::int64_t pitch) {
  return origin + ((pos / out_w) * stride_h * padded_width + (pos % out_w) * stride_w) * pitch;
}

void conv_t2u8__scalar(const Int8ConvJob& job, std::int64_t block_begin, std::int64_t block_end,
                       std::int64_t pos_begin, std::int64_t pos_end) {
  const Int8ConvWeights& w = *job.weights;
  const std::int64_t first = job.group * w.group_out_padded;
  for (std::int64_t o = block_begin * w.lanes; o < block_end * w.lanes; ++o) {
    if (o >= job.out.channels) break;
    for (std::int64_t pos = pos_begin; pos < pos_end; ++pos) {
      const std::uint8_t* at = position_origin(job.origin, pos, job.out_w, job.stride_h,
                                               job.stride_w, job.padded_width, job.pitch);
      std::int32_t acc = 0;
      for (std::int64_t t = 0; t < w.taps; ++t) {
        const std::uint8_t* pixel = at + job.tap_offsets[t];
        for (std::int64_t c = 0; c < w.group_in; ++c) {
          acc += w.code(job.group, o, t, c) * (static_cast<std::int32_t>(pixel[c]) - 128);
        }
      }
      write_output(job.out, o, pos, job.out_w, acc, w.factor[first + o], w.bias[first + o]);
    }
  }
}

void depthwise_t2u8__scalar(const Int8DepthwiseJob& job, std::int64_t channel_begin,
                            std::int64_t channel_end, std::int64_t pos_begin,
                            std::int64_t pos_end) {
  const Int8DepthwiseWeights& w = *job.weights;
  for (std::int64_t c = channel_begin; c < channel_end && c < job.out.channels; ++c) {
    for (std::int64_t pos = pos_begin; pos < pos_end; ++pos) {
      const std::uint8_t* at = position_origin(job.origin, pos, job.out_w, job.stride_h,
                                               job.stride_w, job.padded_width, job.pitch);
      std::int32_t acc = 0;
      for (std::int64_t t = 0; t < w.taps; ++t) {
        acc += w.codes[t * w.padded + c] * (static_cast<std::int32_t>(at[job.tap_offsets[t] + c]) - 128);
      }
      write_output(job.out, c, pos, job.out_w, acc, w.factor[c], w.bias[c]);
    }
  }
}

const Int8KernelSet kScalarInt8{Isa::kScalar,
                                "scalar",
                                8,
                                1,
                                0,
                                "quantize_u8__scalar",
                                quantize_u8__scalar,
                                store_channel_bytes__scalar,
                                "conv_t2u8__scalar",
                                conv_t2u8__scalar,
                                "depthwise_t2u8__scalar",
                                depthwise_t2u8__scalar};

}  // namespace

const Int8KernelSet* scalar_int8_kernels() { return &kScalarInt8; }

}  // namespace triton_rt::kernels

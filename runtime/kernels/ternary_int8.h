// Ternary convolution and linear kernels with 8-bit activations, for layers trained with
// `activation_bits: 8`, and their run-time ISA dispatch.
//
// Such a layer quantizes its input with one stored scale s, exactly as the PyTorch layer
// does (q = clamp(round_half_to_even(x / s), -127, 127), the division done in float32),
// multiplies the int8 activations by the ternary codes with exact integer sums, and writes
// y = acc * (s * scale[o]) + bias[o], clamped for a fused ReLU/ReLU6. Every variant computes
// the same integer sums, so all of them give bit-identical outputs.
//
// Activations live in an *8-bit image*: one image as bytes q + 128 (so u8 x s8 multiply-adds
// apply; 128 is a quantized 0), pixel-major ([rows][columns][pitch], channels contiguous:
// NHWC) with a border of 128s as wide as the convolution's padding. A convolution is then
// direct: for each output position and kernel tap, a run of input channels is contiguous,
// and no im2col buffer is built. A linear layer is a 1x1 convolution over a 1 x rows image.
// The write-back either stores float32 outputs (any channel/position strides: NCHW for
// convolutions, row-major for linear layers) or quantizes them with the next layer's scale
// straight into that layer's 8-bit image.
//
// Weights are prepared at load into the blocked layout the micro-kernels read: output
// channels in sub-blocks of `lanes` (one SIMD register of int32 sums), the reduction in
// steps of 4 bytes ordered (tap, channel), [group][sub-block][step][lane][4]. SIMD variants
// broadcast 4 activation bytes of a position and multiply them with a sub-block's 4 x lanes
// codes (vpmaddubsw on AVX2, vpdpbusd with AVX512-VNNI); they sum (q + 128) * code and
// subtract 128 * sum(code) per channel at the end. Depthwise convolutions have their own
// kernel with channels in lanes. Kernel names follow `<op>_<weights><activations>__<isa>_<tile>`
// as in ternary.h.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "format/model.h"
#include "kernels/ternary.h"

namespace triton_rt::kernels {

// Kernel files compiled with ISA flags include this header: its constants have internal
// linkage and its helpers are always inlined, so no ISA object emits a copy of them that
// the linker could hand to baseline code (tools/check_isa_objects.py).
constexpr float kInt8Max = 127.0f;
// The most inputs an 8-bit layer may have: a shifted partial sum is at most 255 * cols in
// magnitude, and 255 * 2^23 < 2^31, so int32 sums cannot overflow.
constexpr std::int64_t kInt8MaxCols = std::int64_t{1} << 23;
// The stored byte of a quantized 0 (borders and padding channels hold it).
constexpr std::uint8_t kInt8Zero = 128;
// Bytes past the end of an 8-bit image of `pitch` bytes per pixel that kernels may read
// (whole-vector loads of the last pixel; a tile of 16 positions that starts at the last
// one); buffers are allocated with this much slack.
[[gnu::always_inline]] inline std::int64_t int8_image_slack(std::int64_t pitch) { return 16 * pitch + 64; }
// Reduction bytes per step: one broadcast int32 of activations.
constexpr std::int64_t kInt8StepBytes = 4;
// Depthwise weights and outputs are padded to whole vectors of this many channels.
constexpr std::int64_t kInt8DepthwiseAlign = 32;

[[gnu::always_inline]] inline std::int64_t round_up(std::int64_t v, std::int64_t to) { return (v + to - 1) / to * to; }

// Where one image's bytes are: pixel (y, x) of the unpadded image starts at offset(y, x).
struct Int8ImageLayout {
  std::int64_t height = 0, width = 0;  // unpadded
  std::int64_t pad_h = 0, pad_w = 0;   // border rows (top and bottom) and columns
  std::int64_t pitch = 0;              // bytes per pixel (channels, padded)
  [[gnu::always_inline]] std::int64_t padded_width() const { return width + 2 * pad_w; }
  [[gnu::always_inline]] std::int64_t row_bytes() const { return padded_width() * pitch; }
  [[gnu::always_inline]] std::int64_t bytes() const { return (height + 2 * pad_h) * row_bytes(); }
  [[gnu::always_inline]] std::int64_t offset(std::int64_t y, std::int64_t x) const {
    return ((y + pad_h) * padded_width() + x + pad_w) * pitch;
  }
  // Whether bytes() is at most `limit` (computed without overflow, for shapes from files).
  [[gnu::always_inline]] bool fits(std::int64_t limit) const {
    std::int64_t rows = 0, cols = 0, n = 0;
    return !__builtin_add_overflow(height, 2 * pad_h, &rows) &&
           !__builtin_add_overflow(width, 2 * pad_w, &cols) &&
           !__builtin_mul_overflow(rows, cols, &n) && !__builtin_mul_overflow(n, pitch, &n) &&
           n <= limit;
  }
};

// q[i] = clamp(round_half_to_even(x[i] / scale), -127, 127) + 128 for i in [0, n). The
// division is a float32 division (not a multiply by 1/scale) so the result matches PyTorch's
// `x / scale` bit for bit. A NaN input gives 1 (-127).
using QuantizeFn = void (*)(const float* x, std::int64_t n, float scale, std::uint8_t* q);

// line[x * pitch + c] = rows[c * ld + x] for x < width, c < channels: quantized channel
// rows into the pixels of one image row. Bytes of a pixel past `channels` may change.
using StorePixelsFn = void (*)(const std::uint8_t* rows, std::int64_t ld, std::int64_t width,
                               std::int64_t channels, std::uint8_t* line, std::int64_t pitch);

// Sets the border of one image (layout.pad_h rows above and below, layout.pad_w pixels left
// and right of every row) to kInt8Zero; the pixels inside are left as they are.
void fill_image_border(const Int8ImageLayout& layout, std::uint8_t* image);

struct Int8KernelSet;

// Fills `image` (layout.bytes() bytes) from one float32 image [channels][height][width]:
// channel c of group c / group_channels goes to byte (c / group_channels) * group_pitch +
// c % group_channels of its pixel, and the border gets kInt8Zero (bytes between groups'
// channels are unspecified: their codes are 0). `rows` is scratch of channels * width bytes.
void quantize_image(const Int8KernelSet& set, const float* x, std::int64_t channels,
                    std::int64_t group_channels, std::int64_t group_pitch,
                    const Int8ImageLayout& layout, float scale, std::uint8_t* image,
                    std::uint8_t* rows);

// Convolution (and linear) weights in the micro-kernels' layout.
struct Int8ConvWeights {
  std::int64_t out_channels = 0;
  std::int64_t groups = 1;
  std::int64_t group_in = 0;          // input channels per group
  std::int64_t group_in_padded = 0;   // rounded up to the channel alignment (4, or 64)
  std::int64_t group_out = 0;         // output channels per group
  std::int64_t group_out_padded = 0;  // rounded up to lanes
  std::int64_t taps = 1;              // kernel_h * kernel_w
  std::int64_t lanes = 8;             // output channels per sub-block
  std::int64_t steps = 0;             // taps * group_in_padded / 4
  // [groups][group_out_padded / lanes][steps][lanes][4]: code of output channel o, tap t,
  // input channel c at step t * group_in_padded / 4 + c / 4, byte c % 4 (0 for padding).
  std::vector<std::int8_t> codes;
  // Per output channel (groups * group_out_padded, 0 for padding channels): 128 * the sum
  // of its codes, s * scale[o] and the bias.
  std::vector<std::int32_t> shift;
  std::vector<float> factor;
  std::vector<float> bias;

  [[gnu::always_inline]] std::int64_t sub_blocks() const { return group_out_padded / lanes; }
  [[gnu::always_inline]] std::int64_t sub_block_bytes() const { return steps * lanes * kInt8StepBytes; }
  [[gnu::always_inline]] const std::int8_t* sub_block(std::int64_t group, std::int64_t b) const {
    return codes.data() + (group * sub_blocks() + b) * sub_block_bytes();
  }
  // The code of (output channel o of `group`, tap, input channel c of the group).
  [[gnu::always_inline]] std::int8_t code(std::int64_t group, std::int64_t o, std::int64_t tap, std::int64_t c) const {
    const std::int64_t step = tap * (group_in_padded / kInt8StepBytes) + c / kInt8StepBytes;
    return sub_block(group, o / lanes)[(step * lanes + o % lanes) * kInt8StepBytes +
                                       c % kInt8StepBytes];
  }
};

// `m` is [out_channels, group_in * taps] with columns ordered (channel, tap), as PyTorch
// lays out a convolution weight; `bias` has out_channels values or is null. Input channels
// per group are padded to a multiple of `channel_align` (a multiple of kInt8StepBytes;
// int8_channel_align gives a kernel set's).
Int8ConvWeights prepare_int8_conv(const TernaryMatrix& m, std::int64_t groups, std::int64_t taps,
                                  float input_scale, const float* bias, std::int64_t lanes,
                                  std::int64_t channel_align = kInt8StepBytes);

// Depthwise convolution weights (one input channel per output channel).
struct Int8DepthwiseWeights {
  std::int64_t channels = 0;
  std::int64_t padded = 0;  // channels rounded up to kInt8DepthwiseAlign
  std::int64_t taps = 0;
  std::vector<std::int16_t> codes;  // [taps][padded]
  // The codes of taps 2i and 2i + 1 interleaved per channel, in the byte order vpunpcklbw /
  // vpunpckhbw give two registers of 32 channels' input bytes (so one vpmaddubsw sums both
  // taps): [pair][padded / 32][lo, hi][32]. `lo` holds channels 0-7 and 16-23 of the block,
  // `hi` 8-15 and 24-31, each as (tap 2i, tap 2i + 1) byte pairs; a missing last tap is 0.
  std::vector<std::int8_t> pair_codes;
  [[gnu::always_inline]] std::int64_t pairs() const { return (taps + 1) / 2; }
  std::vector<std::int32_t> shift;  // [padded], as in Int8ConvWeights
  std::vector<float> factor;        // [padded]
  std::vector<float> bias;          // [padded]
};

// `m` is [channels, taps].
Int8DepthwiseWeights prepare_int8_depthwise(const TernaryMatrix& m, float input_scale,
                                            const float* bias);

// Where the outputs go. Output channel o (of those a job covers) at position p (p = oy *
// out_w + ox) is y = clamp(acc * factor[o] + bias[o], lo, hi) (or, with `gelu`,
// gelu_erf(acc * factor[o] + bias[o]), kernels/gelu.h), written as float32 to
// y[o * channel_stride + p * position_stride], or, with `q`, as
// clamp(round_half_to_even(y / q_scale), -127, 127) + 128 to
// q[q_layout.offset(oy, ox) + o]. Channels at or past `channels` are not written.
struct Int8Output {
  bool clamp = false;  // fused ReLU (lo 0) or ReLU6 (lo 0, hi 6)
  bool gelu = false;   // fused GELU (erf form), instead of a clamp
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  std::int64_t channels = 0;
  float* y = nullptr;
  std::int64_t channel_stride = 0, position_stride = 0;
  std::uint8_t* q = nullptr;
  float q_scale = 1.0f;
  Int8ImageLayout q_layout;
  // A residual Add folded into a float write-back: after the above, y = y + residual[i]
  // (residual laid out as y: the same i), then, with residual_clamp, clamped to
  // [residual_lo, residual_hi] (the Add's ReLU or ReLU6) as the clamp above is.
  const float* residual = nullptr;
  bool residual_clamp = false;
  float residual_lo = -std::numeric_limits<float>::infinity();
  float residual_hi = std::numeric_limits<float>::infinity();
};

// One convolution of one image (and one group).
struct Int8ConvJob {
  const Int8ConvWeights* weights = nullptr;
  std::int64_t group = 0;
  // The image byte under tap (0, 0) of output (0, 0), at the group's first channel; output
  // (oy, ox) reads tap t at origin + (oy * stride_h * padded_width + ox * stride_w) * pitch
  // + tap_offsets[t] + c.
  const std::uint8_t* origin = nullptr;
  std::int64_t padded_width = 0, pitch = 0;
  std::int64_t stride_h = 1, stride_w = 1;
  const std::int64_t* tap_offsets = nullptr;  // weights->taps
  std::int64_t out_w = 1;
  Int8Output out;  // pointers at the group's first output channel
};

// Output sub-blocks [block_begin, block_end) (of weights->lanes channels) at positions
// [pos_begin, pos_end).
using Int8ConvFn = void (*)(const Int8ConvJob& job, std::int64_t block_begin,
                            std::int64_t block_end, std::int64_t pos_begin, std::int64_t pos_end);

struct Int8DepthwiseJob {
  const Int8DepthwiseWeights* weights = nullptr;
  const std::uint8_t* origin = nullptr;  // as in Int8ConvJob, at channel 0
  std::int64_t padded_width = 0, pitch = 0;
  std::int64_t stride_h = 1, stride_w = 1;
  const std::int64_t* tap_offsets = nullptr;
  std::int64_t out_w = 1;
  Int8Output out;
};

// Channels [channel_begin, channel_end) (multiples of kInt8DepthwiseAlign, or the padded
// count; the executor passes whole depthwise_steps) at positions [pos_begin, pos_end).
using Int8DepthwiseFn = void (*)(const Int8DepthwiseJob& job, std::int64_t channel_begin,
                                 std::int64_t channel_end, std::int64_t pos_begin,
                                 std::int64_t pos_end);

struct Int8KernelSet {
  Isa isa;
  const char* variant;  // "scalar", "avx2", "avx512vnni", "amx"
  std::int64_t lanes;   // output channels per weight sub-block (prepare_int8_conv's lanes)
  std::int64_t tile_blocks;  // sub-blocks one register tile covers: the unit of work splits
  // Groups of at least this many input channels are padded to a multiple of it (AMX reads
  // 64 channels per tile row); 0: every group to kInt8StepBytes.
  std::int64_t wide_channels;
  const char* quantize_name;
  QuantizeFn quantize;
  StorePixelsFn store_pixels;
  const char* conv_name;
  Int8ConvFn conv;
  const char* depthwise_name;
  Int8DepthwiseFn depthwise;
  // Channels the depthwise kernel takes per step (a multiple of kInt8DepthwiseAlign): the
  // executor splits depthwise work in whole steps, since a shorter range costs a whole one.
  std::int64_t depthwise_step = kInt8DepthwiseAlign;
};

// The channel alignment of a group of `group_in` input channels under `set`.
[[gnu::always_inline]] inline std::int64_t int8_channel_align(const Int8KernelSet& set, std::int64_t group_in) {
  return set.wide_channels > 0 && group_in >= set.wide_channels ? set.wide_channels : kInt8StepBytes;
}

// The set for an ISA level (as chosen by selected_isa()): AMX means the AMX-INT8 tiles when
// cpuid reports amx-int8 (and the OS granted tile data), else the AVX-512 set; AVX-512 means
// the VNNI variant when cpuid reports avx512vnni, the AVX2 one otherwise
// (TRITON_RT_FORCE_ISA=avx512bw selects the latter on a VNNI machine).
const Int8KernelSet& int8_kernel_set(Isa isa);
const Int8KernelSet& selected_int8_kernels();

// The per-variant sets; those the CPU cannot run return nullptr (tests iterate over them).
const Int8KernelSet* scalar_int8_kernels();
const Int8KernelSet* avx2_int8_kernels();
const Int8KernelSet* avx512vnni_int8_kernels();
const Int8KernelSet* amx_int8_kernels();
// The same without the cpuid check; each is defined by its variant's file.
const Int8KernelSet* avx2_int8_kernels_unchecked();
// The AVX-512 depthwise kernel of the VNNI set (ternary_int8_depthwise_avx512.cpp).
void depthwise_t2u8__avx512_4x64(const Int8DepthwiseJob& job, std::int64_t channel_begin,
                                 std::int64_t channel_end, std::int64_t pos_begin, std::int64_t pos_end);
const Int8KernelSet* avx512vnni_int8_kernels_unchecked();
const Int8KernelSet* amx_int8_kernels_unchecked();

}  // namespace triton_rt::kernels

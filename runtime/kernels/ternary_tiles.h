// Ternary convolution on AMX tiles with float32-exact activations ("tile conv").
//
// Sapphire Rapids and later cores multiply bf16 tiles at about 16x the rate of AVX-512
// float32 FMAs. Ternary codes {-1, 0, +1} are exact in bf16, and a float32 activation is
// exactly the sum of three bf16 numbers (its mantissa cut into 8-bit slices: hi, mid, lo),
// so running the bf16 tile product once per slice and accumulating in float32 gives the
// float32 result: no bf16 rounding of activations, no tolerance beyond float32's own
// summation order. The per-channel scale, bias and ReLU/ReLU6 are applied as the output
// tiles are written back.
//
// Layouts (all per image):
//  - weights (prepared at load): 16x32 bf16 tiles [o_block16][tap][c_block32][16 o][32 c],
//    output and input channels zero-padded to multiples of 32.
//  - activations: for each slice and stride phase, pairs of channels interleaved
//    ([pair][position] of 32-bit words holding channel 2p in the low half and 2p+1 in the
//    high half: the "VNNI" form the tile instruction reads), over the zero-padded image.
//    A stride-2 convolution reads four phase images (even/odd rows x even/odd columns), so
//    every tap is a stride-1 read of one phase and 16 consecutive output positions are 16
//    consecutive words.
//  - output positions are linearized over the phase width (q = oy * phase_w + ox); the
//    columns ox >= out_w of each row are computed and dropped.
// Small feature maps (a 4x4 output computes a 6-wide phase row per 4 outputs, 24 positions
// rounded up to 32) run "unrolled" instead: the kernel taps are folded into the channels
// (im2col, K = C * kh * kw in PyTorch's column order) and the product is a 1x1 convolution
// over exactly out_h * out_w positions.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/ternary.h"

namespace triton_rt::kernels {

inline constexpr std::int64_t kTileSlices = 3;      // bf16 slices of a float32 activation
inline constexpr std::int64_t kTileElems = 16 * 32;  // bf16 values in one weight tile
// The kernel's name in the <op>_<weights><activations>__<isa>_<tile> convention.
inline constexpr const char* kTileConvName = "conv_t2f32__amx_bf16x3";

struct TileConvGeometry {
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
  std::int64_t stride = 1, pad_h = 0, pad_w = 0;
  std::int64_t out_h = 0, out_w = 0;
  bool unrolled = false;  // taps folded into channels (im2col)

  // Derived sizes (set by `finish`): the product's view of the convolution.
  std::int64_t gemm_channels = 0;    // channels, or channels * taps when unrolled
  std::int64_t run_kernel_h = 0, run_kernel_w = 0, run_stride = 1;
  std::int64_t channels_padded = 0;  // gemm_channels rounded up to 32
  std::int64_t phases = 1;           // stride * stride
  std::int64_t phase_h = 0, phase_w = 0;
  std::int64_t positions = 0;        // out_h * phase_w, rounded up to 16
  std::int64_t plane = 0;            // words per (slice, phase, pair) plane
  // Unit order: position-major (all output blocks of a position block, then the next) when
  // re-reading the weights per position block moves fewer bytes than re-reading the packed
  // input per output block (a ViT MLP layer: 4.7 MB of weights, 3.8 MB of packed tokens).
  bool position_major = false;
  void finish();
  std::int64_t pairs() const { return channels_padded / 2; }
  std::int64_t packed_words() const { return kTileSlices * phases * pairs() * plane; }
  std::int64_t out_blocks() const { return (out_channels + 31) / 32; }
  std::int64_t position_blocks() const { return (positions + 31) / 32; }  // the last may be 16
};

// Whether a convolution of this shape can run as a tile conv (ungrouped, dilation 1,
// stride 1 or 2, at least 16 products per output: channels x taps).
bool tile_conv_fits(std::int64_t channels, std::int64_t taps, std::int64_t groups,
                    std::int64_t stride_h, std::int64_t stride_w, std::int64_t dilation_h,
                    std::int64_t dilation_w);

// Whether a convolution runs unrolled (see above): inputs with fewer channels than half a
// tile row (an RGB image would fill 3 of 32 channel slots per tap), and outputs where the
// phase-width rows waste a quarter or more of the positions (a 4x4 output computes 32
// positions taps-mode, 16 unrolled). `g` needs its conv fields, not `finish`.
bool tile_conv_unrolls(TileConvGeometry g);

struct TileConvWeights {
  // kernel_h/kernel_w are the taps the tiles hold: 1x1 when unrolled (channels then counts
  // channel-tap pairs).
  std::int64_t out_channels = 0, channels = 0, kernel_h = 0, kernel_w = 0;
  bool unrolled = false;
  std::int64_t channels_padded = 0, out_padded = 0;
  std::vector<std::uint16_t> tiles;  // [out_padded / 16][taps][channels_padded / 32][16][32]
  std::vector<float> scales;         // out_padded, 0 past out_channels
};

// Builds the weight tiles of a ternary conv weight whose rows are output channels and whose
// columns are (channel, kernel row, kernel column) in PyTorch's order.
TileConvWeights prepare_tile_conv(const PreparedTernary& w, std::int64_t kernel_h,
                                  std::int64_t kernel_w, bool unrolled);

// Whether this CPU and OS run AMX bf16 tiles (cpuid, XCR0, and the Linux permission
// request for tile data, made once per process).
bool tile_conv_available();

// `scratch` sized to `n` floats, all zero. Defined in ternary_tiles_prepare.cpp, built
// without ISA flags: a std::vector member instantiated in ternary_tiles.cpp would be AVX-512
// code, and the linker may keep that one copy for every caller (it did: SIGILL in `mean`'s
// vector::assign on an AVX2 machine, in the -O1 sanitizer build).
float* tile_conv_zeroed(std::vector<float>& scratch, std::int64_t n);

// Writes the packed activations of one CHW image for channel pairs [pair_begin, pair_end).
// `scratch` is the caller's buffer for the zero-padded planes of the unrolled form (grown as
// needed, kept by the caller for reuse; concurrent calls must pass different ones).
void tile_conv_pack(const float* image, const TileConvGeometry& g, std::uint32_t* packed,
                    std::int64_t pair_begin, std::int64_t pair_end, std::vector<float>& scratch);

// Computes work units [unit_begin, unit_end) of one image, a unit being 32 output channels x
// 32 output positions (unit = out_block * position_blocks + position_block, or
// position_block * out_blocks + out_block when position_major). Writes
// y[o, oy, ox] = clamp(scale[o] * sum + bias[o]) into the CHW output `y`.
void tile_conv_run(const TileConvWeights& w, const TileConvGeometry& g,
                   const std::uint32_t* packed, const float* bias, Clamp clamp, float* y,
                   std::int64_t unit_begin, std::int64_t unit_end);

}  // namespace triton_rt::kernels

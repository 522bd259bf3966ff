// AMX-INT8 convolution kernel for 8-bit activations (compiled with the AVX-512 and VNNI
// flags plus -mamx-tile -mamx-int8 -ffp-contract=off; selected only when cpuid reports
// amx-int8 and Linux granted the tile data, see ternary_int8.cpp).
//
// tdpbusd multiplies a tile of 16 rows x 64 unsigned bytes by one of 16 rows x 16 x 4
// signed bytes into 16 x 16 int32 sums. The activation tile is 16 output positions x 64
// input channels of one tap, read straight from the 8-bit image (row stride: the pitch);
// the code tile is 16 consecutive steps of one 16-channel sub-block, which the blocked
// weight layout already stores as one contiguous 1 KiB tile. A unit is 32 positions x 32
// channels: tiles 0-3 accumulate, 4-5 hold codes, 6-7 activations. Positions run over the
// padded grid of the image (position g at origin + g * pitch), so 16 consecutive ones are
// always one tile read; the grid's columns past the output width are computed and dropped.
// Each sum row is one position's 16 channels and goes through the AVX-512 write-back.
//
// Groups of 64 or more input channels are padded to whole 64-byte chunks at load (the
// set's wide_channels; 784 inputs become 832). Layers the tiles do not fit (stride other
// than 1, or fewer than 64 input channels per group: an RGB stem, MobileNet's 16- and
// 24-channel layers) run the VNNI kernel.
#include <immintrin.h>

// GCC 12's AVX-512 headers build results from _mm*_undefined_*(), which its own
// -W(maybe-)uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "kernels/amx_tile_config.h"
#include "kernels/ternary_int8_avx512_traits.h"

namespace triton_rt::kernels {
namespace {

constexpr std::int64_t kChunkBytes = 64;     // input channels per activation tile row
constexpr std::int64_t kTileRows = 16;       // positions per activation tile
constexpr std::int64_t kUnitPositions = 32;  // two activation tiles

bool tiles_fit(const Int8ConvJob& job) {
  return job.stride_h == 1 && job.stride_w == 1 &&
         job.weights->group_in_padded % kChunkBytes == 0;
}

// The grid index of output position `pos` (row-major over the padded width).
std::int64_t grid_of(std::int64_t pos, std::int64_t out_w, std::int64_t padded_width) {
  return pos / out_w * padded_width + pos % out_w;
}

void conv_t2u8__amx_32x32(const Int8ConvJob& job, std::int64_t block_begin,
                          std::int64_t block_end, std::int64_t pos_begin, std::int64_t pos_end) {
  if (!tiles_fit(job) || pos_begin >= pos_end) {
    avx512vnni_int8_kernels_unchecked()->conv(job, block_begin, block_end, pos_begin, pos_end);
    return;
  }
  _tile_loadconfig(&amx::kFullTiles);
  const Int8ConvWeights& w = *job.weights;
  const Int8Output& out = job.out;
  const Vnni::Epilogue ep(out);
  const std::int64_t pitch = job.pitch, padded_width = job.padded_width, out_w = job.out_w;
  const std::int64_t chunks = w.group_in_padded / kChunkBytes;
  const std::int64_t tap_steps = w.group_in_padded / kInt8StepBytes;
  const std::int64_t first = job.group * w.group_out_padded;
  const bool staged = out.q == nullptr && out.channel_stride != 1;
  const std::int64_t grid_begin = grid_of(pos_begin, out_w, padded_width);
  const std::int64_t grid_end = grid_of(pos_end - 1, out_w, padded_width) + 1;
  alignas(64) std::int32_t sums[4][kTileRows * 16];  // [position half * 2 + sub-block][row][lane]
  alignas(64) float stage[kUnitPositions * 32];       // channel-major outputs, position-major
  for (std::int64_t b = block_begin; b < block_end; b += 2) {
    const bool pair = b + 1 < block_end;
    const std::int8_t* codes0 = w.sub_block(job.group, b);
    const std::int8_t* codes1 = pair ? w.sub_block(job.group, b + 1) : codes0;
    const std::int64_t o = b * 16;
    for (std::int64_t g0 = grid_begin; g0 < grid_end; g0 += kUnitPositions) {
      const bool two = g0 + kTileRows < grid_end;  // the second 16 positions hold outputs
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (std::int64_t t = 0; t < w.taps; ++t) {
        const std::uint8_t* a = job.origin + g0 * pitch + job.tap_offsets[t];
        for (std::int64_t j = 0; j < chunks; ++j, a += kChunkBytes) {
          const std::int64_t step = t * tap_steps + j * (kChunkBytes / kInt8StepBytes);
          _tile_loadd(4, codes0 + step * 16 * kInt8StepBytes, 64);
          _tile_loadd(5, codes1 + step * 16 * kInt8StepBytes, 64);
          _tile_loadd(6, a, pitch);
          _tile_dpbusd(0, 6, 4);
          _tile_dpbusd(1, 6, 5);
          if (two) {
            _tile_loadd(7, a + kTileRows * pitch, pitch);
            _tile_dpbusd(2, 7, 4);
            _tile_dpbusd(3, 7, 5);
          }
        }
      }
      _tile_stored(0, sums[0], 64);
      _tile_stored(1, sums[1], 64);
      if (two) {
        _tile_stored(2, sums[2], 64);
        _tile_stored(3, sums[3], 64);
      }
      // Write-back of the rows that are outputs in [pos_begin, pos_end): consecutive output
      // positions from `first_pos` (the grid skips none of them).
      std::int64_t first_pos = -1, count = 0;
      for (std::int64_t r = 0; r < (two ? kUnitPositions : kTileRows); ++r) {
        const std::int64_t g = g0 + r;
        const std::int64_t oy = g / padded_width, ox = g % padded_width;
        if (ox >= out_w) continue;
        const std::int64_t pos = oy * out_w + ox;
        if (pos < pos_begin || pos >= pos_end) continue;
        if (first_pos < 0) first_pos = pos;
        ++count;
        const std::int64_t half = r / kTileRows, row = r % kTileRows;
        for (std::int64_t s = 0; s < (pair ? 2 : 1); ++s) {
          const __m512i sum = _mm512_load_si512(sums[half * 2 + s] + row * 16);
          const std::int64_t oc = o + s * 16;
          const std::int64_t valid = out.channels - oc;
          const std::int32_t* shift = w.shift.data() + first + oc;
          const float* factor = w.factor.data() + first + oc;
          const float* bias = w.bias.data() + first + oc;
          const Vnni::Channels ch = Vnni::channels(valid, shift, factor, bias);
          if (ep.quantized) {
            Vnni::finish_q(ep, ch, sum, out.q + out.q_layout.offset(oy, ox) + oc);
          } else if (staged) {
            Vnni::finish_float(ep, ch, sum, stage + (pos - first_pos) * 32 + s * 16, nullptr);
          } else {
            const std::int64_t at = pos * out.position_stride + oc;
            Vnni::finish_float(ep, ch, sum, out.y + at, out.residual != nullptr ? out.residual + at : nullptr);
          }
        }
      }
      if (staged && count > 0) {
        const std::int64_t channels = std::min<std::int64_t>(pair ? 32 : 16, out.channels - o);
        const std::int64_t at = o * out.channel_stride + first_pos;
        StoreResidual res;
        res.residual = out.residual != nullptr ? out.residual + at : nullptr;
        res.clamp = out.residual_clamp;
        res.lo = out.residual_lo;
        res.hi = out.residual_hi;
        store_channel_major(stage, 32, count, channels, out.y + at, out.channel_stride, &res);
      }
    }
  }
  _tile_release();
}

}  // namespace

const Int8KernelSet* amx_int8_kernels_unchecked() {
  static const Int8KernelSet set = [] {
    Int8KernelSet s = *avx512vnni_int8_kernels_unchecked();
    s.isa = Isa::kAmx;
    s.variant = "amx";
    s.wide_channels = kChunkBytes;
    s.conv_name = "conv_t2u8__amx_32x32";
    s.conv = conv_t2u8__amx_32x32;
    return s;
  }();
  return &set;
}

}  // namespace triton_rt::kernels

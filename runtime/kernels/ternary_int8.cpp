// Weight preparation, image quantization and run-time selection for the 8-bit activation
// kernels (ternary_int8.h). The selection follows the float kernels' level (selected_isa(),
// so TRITON_RT_FORCE_ISA applies to both), then picks the AVX-512 flavour by cpuid.
#include "kernels/ternary_int8.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdlib>
#include <cstring>

#include "kernels/ternary_tiles.h"

namespace triton_rt::kernels {

namespace {

// Levels are ordered; a level above AVX-512 (a later addition) includes it.
bool at_least(Isa have, Isa want) { return static_cast<int>(have) >= static_cast<int>(want); }

bool cpu_has_avx512vnni() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return at_least(detected_isa(), Isa::kAvx512) && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

// AMX-INT8 (cpuid leaf 7, EDX bit 25) on a CPU and OS that run AMX tiles at all.
bool cpu_has_amx_int8() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0 || ((d >> 25) & 1u) == 0) return false;
  return tile_conv_available() && cpu_has_avx512vnni();
#else
  return false;
#endif
}

std::int8_t code_at(const TernaryMatrix& m, std::int64_t r, std::int64_t k) {
  const unsigned bits = (m.packed[static_cast<std::size_t>(r * m.row_bytes + k / 4)] >> (2 * (k % 4))) & 3u;
  return bits == 1 ? 1 : bits == 2 ? -1 : 0;  // 01 = +1, 10 = -1
}

}  // namespace

void fill_image_border(const Int8ImageLayout& layout, std::uint8_t* image) {
  const std::int64_t row = layout.row_bytes();
  const std::int64_t side = layout.pad_w * layout.pitch;
  std::memset(image, kInt8Zero, static_cast<std::size_t>(layout.pad_h * row));
  std::memset(image + (layout.pad_h + layout.height) * row, kInt8Zero,
              static_cast<std::size_t>(layout.pad_h * row));
  if (side == 0) return;
  for (std::int64_t y = 0; y < layout.height; ++y) {
    std::uint8_t* line = image + (layout.pad_h + y) * row;
    std::memset(line, kInt8Zero, static_cast<std::size_t>(side));
    std::memset(line + row - side, kInt8Zero, static_cast<std::size_t>(side));
  }
}

void quantize_image(const Int8KernelSet& set, const float* x, std::int64_t channels,
                    std::int64_t group_channels, std::int64_t group_pitch,
                    const Int8ImageLayout& layout, float scale, std::uint8_t* image,
                    std::uint8_t* rows) {
  const std::int64_t h = layout.height, w = layout.width;
  fill_image_border(layout, image);
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t c = 0; c < channels; ++c) set.quantize(x + (c * h + y) * w, w, scale, rows + c * w);
    std::uint8_t* line = image + layout.offset(y, 0);
    for (std::int64_t g = 0; g * group_channels < channels; ++g) {
      set.store_pixels(rows + g * group_channels * w, w, w, group_channels, line + g * group_pitch,
                       layout.pitch);
    }
  }
}

Int8ConvWeights prepare_int8_conv(const TernaryMatrix& m, std::int64_t groups, std::int64_t taps,
                                  float input_scale, const float* bias, std::int64_t lanes,
                                  std::int64_t channel_align) {
  Int8ConvWeights w;
  w.out_channels = m.rows;
  w.groups = groups;
  w.group_in = m.cols / taps;
  w.group_in_padded = round_up(w.group_in, channel_align);
  w.group_out = m.rows / groups;
  w.group_out_padded = round_up(w.group_out, lanes);
  w.taps = taps;
  w.lanes = lanes;
  w.steps = taps * w.group_in_padded / kInt8StepBytes;
  const std::int64_t padded_rows = groups * w.group_out_padded;
  w.codes.assign(static_cast<std::size_t>(padded_rows * w.steps * kInt8StepBytes), 0);
  w.shift.assign(static_cast<std::size_t>(padded_rows), 0);
  w.factor.assign(static_cast<std::size_t>(padded_rows), 0.0f);
  w.bias.assign(static_cast<std::size_t>(padded_rows), 0.0f);
  const std::int64_t step_channels = w.group_in_padded / kInt8StepBytes;
  for (std::int64_t g = 0; g < groups; ++g) {
    for (std::int64_t o = 0; o < w.group_out; ++o) {
      const std::int64_t r = g * w.group_out + o;  // row of the file's matrix
      const std::int64_t slot = g * w.group_out_padded + o;
      std::int8_t* block = w.codes.data() + (g * w.sub_blocks() + o / lanes) * w.sub_block_bytes();
      std::int32_t sum = 0;
      for (std::int64_t c = 0; c < w.group_in; ++c) {
        for (std::int64_t t = 0; t < taps; ++t) {
          const std::int8_t code = code_at(m, r, c * taps + t);
          const std::int64_t step = t * step_channels + c / kInt8StepBytes;
          block[(step * lanes + o % lanes) * kInt8StepBytes + c % kInt8StepBytes] = code;
          sum += code;
        }
      }
      w.shift[static_cast<std::size_t>(slot)] = 128 * sum;
      w.factor[static_cast<std::size_t>(slot)] = input_scale * m.scales[static_cast<std::size_t>(r)];
      w.bias[static_cast<std::size_t>(slot)] = bias != nullptr ? bias[r] : 0.0f;
    }
  }
  return w;
}

Int8DepthwiseWeights prepare_int8_depthwise(const TernaryMatrix& m, float input_scale,
                                            const float* bias) {
  Int8DepthwiseWeights w;
  w.channels = m.rows;
  w.padded = round_up(m.rows, kInt8DepthwiseAlign);
  w.taps = m.cols;
  w.codes.assign(static_cast<std::size_t>(w.taps * w.padded), 0);
  w.shift.assign(static_cast<std::size_t>(w.padded), 0);
  w.factor.assign(static_cast<std::size_t>(w.padded), 0.0f);
  w.bias.assign(static_cast<std::size_t>(w.padded), 0.0f);
  w.pair_codes.assign(static_cast<std::size_t>(w.pairs() * w.padded * 2), 0);
  for (std::int64_t c = 0; c < w.channels; ++c) {
    std::int32_t sum = 0;
    // Channel c's byte pair within its block of 32: which register (lo/hi) and where.
    const std::int64_t block = c / 32, lane = c % 32;
    const std::int64_t half = (lane / 8) % 2, slot = (lane / 16) * 8 + lane % 8;
    for (std::int64_t t = 0; t < w.taps; ++t) {
      const std::int8_t code = code_at(m, c, t);
      w.codes[static_cast<std::size_t>(t * w.padded + c)] = code;
      w.pair_codes[static_cast<std::size_t>(((t / 2 * (w.padded / 32) + block) * 2 + half) * 32 +
                                            2 * slot + t % 2)] = code;
      sum += code;
    }
    w.shift[static_cast<std::size_t>(c)] = 128 * sum;
    w.factor[static_cast<std::size_t>(c)] = input_scale * m.scales[static_cast<std::size_t>(c)];
    w.bias[static_cast<std::size_t>(c)] = bias != nullptr ? bias[c] : 0.0f;
  }
  return w;
}

const Int8KernelSet* avx2_int8_kernels() {
  return at_least(detected_isa(), Isa::kAvx2) ? avx2_int8_kernels_unchecked() : nullptr;
}

const Int8KernelSet* avx512vnni_int8_kernels() {
  return cpu_has_avx512vnni() ? avx512vnni_int8_kernels_unchecked() : nullptr;
}

const Int8KernelSet* amx_int8_kernels() {
  return cpu_has_amx_int8() ? amx_int8_kernels_unchecked() : nullptr;
}

const Int8KernelSet& int8_kernel_set(Isa isa) {
  const Isa best = detected_isa();
  if (!at_least(best, isa)) isa = best;
  if (at_least(isa, Isa::kAvx512)) {
    const char* forced = std::getenv("TRITON_RT_FORCE_ISA");
    const bool bw_only = forced != nullptr && std::strcmp(forced, "avx512bw") == 0;
    const Int8KernelSet* amx = !bw_only && at_least(isa, Isa::kAmx) ? amx_int8_kernels() : nullptr;
    if (amx != nullptr) return *amx;
    const Int8KernelSet* vnni = bw_only ? nullptr : avx512vnni_int8_kernels();
    return vnni != nullptr ? *vnni : *avx2_int8_kernels_unchecked();
  }
  if (isa == Isa::kAvx2) return *avx2_int8_kernels_unchecked();
  return *scalar_int8_kernels();
}

const Int8KernelSet& selected_int8_kernels() { return int8_kernel_set(selected_isa()); }

}  // namespace triton_rt::kernels

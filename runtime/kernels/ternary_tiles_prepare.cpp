// The ISA-independent half of the AMX tile convolution (see ternary_tiles.h): geometry,
// the choice of layout, CPU/OS detection and weight preparation. Built without ISA flags,
// since the engine and the tests call it on every CPU, AMX or not.
#include <algorithm>
#include <cpuid.h>

#include "kernels/ternary_tiles.h"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace triton_rt::kernels {
namespace {

constexpr std::uint16_t kBf16One = 0x3F80;
constexpr std::uint16_t kBf16MinusOne = 0xBF80;

std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

void TileConvGeometry::finish() {
  if (unrolled) {
    gemm_channels = channels * kernel_h * kernel_w;
    run_kernel_h = run_kernel_w = run_stride = 1;
    phases = 1;
    phase_h = out_h;
    phase_w = out_w;
  } else {
    gemm_channels = channels;
    run_kernel_h = kernel_h, run_kernel_w = kernel_w, run_stride = stride;
    phases = stride * stride;
    phase_h = (height + 2 * pad_h + stride - 1) / stride;
    phase_w = (width + 2 * pad_w + stride - 1) / stride;
  }
  channels_padded = round_up(gemm_channels, 32);
  positions = round_up(out_h * phase_w, 16);
  // The farthest word a tap reads past a position: its row and column offset in the phase.
  const std::int64_t reach =
      (run_kernel_h - 1) / run_stride * phase_w + (run_kernel_w - 1) / run_stride;
  plane = round_up(std::max(phase_h * phase_w, positions + reach), 16);
  const std::int64_t weight_bytes =
      out_blocks() * 32 * run_kernel_h * run_kernel_w * channels_padded * 2;
  position_major = weight_bytes * position_blocks() < packed_words() * 4 * out_blocks();
}

bool tile_conv_unrolls(TileConvGeometry g) {
  if (g.channels < 16) return true;
  g.unrolled = false;
  g.finish();
  const std::int64_t taps_mode = g.positions;
  g.unrolled = true;
  g.finish();
  return 4 * g.positions <= 3 * taps_mode;
}

bool tile_conv_fits(std::int64_t channels, std::int64_t taps, std::int64_t groups,
                    std::int64_t stride_h, std::int64_t stride_w, std::int64_t dilation_h,
                    std::int64_t dilation_w) {
  return groups == 1 && channels * taps >= 16 && stride_h == stride_w &&
         (stride_h == 1 || stride_h == 2) && dilation_h == 1 && dilation_w == 1;
}

float* tile_conv_zeroed(std::vector<float>& scratch, std::int64_t n) {
  scratch.assign(static_cast<std::size_t>(n), 0.0f);
  return scratch.data();
}

bool tile_conv_available() {
  static const bool available = [] {
#if defined(__linux__) && (defined(__x86_64__) || defined(__i386__))
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
    const bool amx_bf16 = (d >> 22) & 1u, amx_tile = (d >> 24) & 1u;
    const bool avx512 = ((b >> 16) & 1u) && ((b >> 30) & 1u);  // F and BW
    if (!amx_bf16 || !amx_tile || !avx512) return false;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0 || ((c >> 27) & 1u) == 0) return false;  // OSXSAVE
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if (((xcr0_lo >> 17) & 3u) != 3u) return false;  // the OS saves tile config and data
    // Linux hands out tile data state only on request (ARCH_REQ_XCOMP_PERM, XTILEDATA).
    constexpr long kReqXcompPerm = 0x1023, kXfeatureTileData = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureTileData) == 0;
#else
    return false;
#endif
  }();
  return available;
}

TileConvWeights prepare_tile_conv(const PreparedTernary& w, std::int64_t kernel_h,
                                  std::int64_t kernel_w, bool unrolled) {
  TileConvWeights t;
  t.unrolled = unrolled;
  t.kernel_h = unrolled ? 1 : kernel_h;
  t.kernel_w = unrolled ? 1 : kernel_w;
  const std::int64_t taps = t.kernel_h * t.kernel_w;
  t.out_channels = w.rows;
  t.channels = w.cols / taps;
  t.channels_padded = round_up(t.channels, 32);
  t.out_padded = round_up(t.out_channels, 32);
  const std::int64_t cblocks = t.channels_padded / 32;
  t.tiles.assign(t.out_padded / 16 * taps * cblocks * kTileElems, 0);
  t.scales.assign(t.out_padded, 0.0f);
  for (std::int64_t o = 0; o < w.rows; ++o) {
    t.scales[o] = w.scales[o];
    for (std::uint32_t i = w.starts[o]; i < w.starts[o + 1]; ++i) {
      const std::int64_t col = w.indices[i], c = col / taps, tap = col % taps;
      const std::int64_t tile = (o / 16 * taps + tap) * cblocks + c / 32;
      t.tiles[tile * kTileElems + o % 16 * 32 + c % 32] =
          i < w.splits[o] ? kBf16One : kBf16MinusOne;
    }
  }
  return t;
}

}  // namespace triton_rt::kernels

// The instruction ceilings the 8-bit and float kernels are measured against: how many
// multiply-accumulates one core issues per second through the instructions our kernels use,
// from loops of independent accumulators written in assembly (so no compiler can drop, spill
// or reorder them). Not built by CMake:
//   g++ -O2 -march=native benchmarks/isa_peak.cpp -o isa_peak && ./isa_peak
// On an AVX512-VNNI CPU: zmm `vpdpbusd` (64 u8 x s8 products each) and zmm `vfmadd231ps`
// (16 each), 24 accumulators. On an AVX2 CPU: the 8-bit kernels' pair ymm `vpmaddubsw` +
// `vpaddw` (32 products, int16 sums) and ymm `vfmadd231ps` (8 each), 12 accumulators.
// Prints three repetitions. On the 2-core Zen 5 machine of benchmarks/results/peer-epyc-avx512:
// 7.5 G vpdpbusd/s (480 GMAC/s) and 7.5 G vfmadd231ps/s (120 GMAC/s); on the first-Zen AVX2
// machine of benchmarks/results/peer-epyc-zen1-avx2: 1.47 G pairs/s (47 GMAC/s) and 2.9 G
// ymm vfmadd231ps/s (23 GMAC/s).
#include <chrono>
#include <cstdio>

namespace {

constexpr long kIters = 50000000;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Four instances of one instruction on accumulators a..a+3 (sources: registers s1, s2).
#define FOUR(op, reg, s1, s2, a, b, c, d)                                        \
  op " %%" reg s1 ", %%" reg s2 ", %%" reg a "\n " op " %%" reg s1 ", %%" reg s2 \
     ", %%" reg b "\n " op " %%" reg s1 ", %%" reg s2 ", %%" reg c "\n " op " %%" reg s1  \
     ", %%" reg s2 ", %%" reg d "\n"

// 24 instances of a zmm instruction on accumulators zmm0-23, sources zmm30 and zmm31.
#define TWENTY_FOUR_ZMM(op)                                                          \
  FOUR(op, "zmm", "30", "31", "0", "1", "2", "3")                                    \
  FOUR(op, "zmm", "30", "31", "4", "5", "6", "7")                                    \
  FOUR(op, "zmm", "30", "31", "8", "9", "10", "11")                                  \
  FOUR(op, "zmm", "30", "31", "12", "13", "14", "15")                                \
  FOUR(op, "zmm", "30", "31", "16", "17", "18", "19")                                \
  FOUR(op, "zmm", "30", "31", "20", "21", "22", "23")

// The registers the loops below write (accumulators and sources), and the flags.
#define ZMM_LOOP_CLOBBERS                                                                      \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",     \
      "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", \
      "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc"
#define YMM_LOOP_CLOBBERS                                                                    \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
      "xmm11", "xmm14", "xmm15", "cc"

}  // namespace

int main() {
  for (int rep = 0; rep < 3; ++rep) {
    long n = kIters;
#if defined(__AVX512VNNI__)
    auto t0 = std::chrono::steady_clock::now();
    asm volatile(
        "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n"
        "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n"
        "1:\n" TWENTY_FOUR_ZMM("vpdpbusd")
        "dec %0\n jnz 1b\n"
        : "+r"(n)
        :
        : ZMM_LOOP_CLOBBERS);
    const double s = seconds_since(t0);
    auto t1 = std::chrono::steady_clock::now();
    n = kIters;
    asm volatile(
        "1:\n" TWENTY_FOUR_ZMM("vfmadd231ps")
        "dec %0\n jnz 1b\n"
        : "+r"(n)
        :
        : ZMM_LOOP_CLOBBERS);
    const double s2 = seconds_since(t1);
    std::printf("vpdpbusd zmm: %.2f G/s = %.0f GMAC/s;  vfmadd231ps zmm: %.2f G/s = %.0f GMAC/s\n",
                kIters * 24.0 / s / 1e9, kIters * 24.0 * 64 / s / 1e9, kIters * 24.0 / s2 / 1e9,
                kIters * 24.0 * 16 / s2 / 1e9);
#elif defined(__AVX2__)
    // 6 products (vpmaddubsw into ymm6-11) each added into its own int16 sum (ymm0-5): the
    // kernel's step, 12 of the 16 registers.
    auto t0 = std::chrono::steady_clock::now();
    asm volatile(
        "vpcmpeqb %%ymm14, %%ymm14, %%ymm14\n"
        "vpcmpeqb %%ymm15, %%ymm15, %%ymm15\n"
        "1:\n" FOUR("vpmaddubsw", "ymm", "14", "15", "6", "7", "8", "9")
                "vpmaddubsw %%ymm14, %%ymm15, %%ymm10\n vpmaddubsw %%ymm14, %%ymm15, %%ymm11\n"
                "vpaddw %%ymm6, %%ymm0, %%ymm0\n vpaddw %%ymm7, %%ymm1, %%ymm1\n"
                "vpaddw %%ymm8, %%ymm2, %%ymm2\n vpaddw %%ymm9, %%ymm3, %%ymm3\n"
                "vpaddw %%ymm10, %%ymm4, %%ymm4\n vpaddw %%ymm11, %%ymm5, %%ymm5\n"
        "dec %0\n jnz 1b\n"
        : "+r"(n)
        :
        : YMM_LOOP_CLOBBERS);
    const double s = seconds_since(t0);
    auto t1 = std::chrono::steady_clock::now();
    n = kIters;
    asm volatile(
        "1:\n" FOUR("vfmadd231ps", "ymm", "14", "15", "0", "1", "2", "3")
            FOUR("vfmadd231ps", "ymm", "14", "15", "4", "5", "6", "7")
                FOUR("vfmadd231ps", "ymm", "14", "15", "8", "9", "10", "11")
        "dec %0\n jnz 1b\n"
        : "+r"(n)
        :
        : YMM_LOOP_CLOBBERS);
    const double s2 = seconds_since(t1);
    // The int8 loop counts 6 products per iteration, the float loop 12 FMAs.
    std::printf("vpmaddubsw+vpaddw ymm: %.2f G/s = %.0f GMAC/s;  vfmadd231ps ymm: %.2f G/s = %.0f GMAC/s\n",
                kIters * 6.0 / s / 1e9, kIters * 6.0 * 32 / s / 1e9, kIters * 12.0 / s2 / 1e9,
                kIters * 12.0 * 8 / s2 / 1e9);
#else
#error "isa_peak needs AVX2 or AVX512-VNNI"
#endif
  }
}

// The instruction ceilings the 8-bit and float kernels are measured against: how many
// zmm `vpdpbusd` (64 u8 x s8 multiply-adds each) and `vfmadd231ps` (16 each) one core
// issues per second, from a loop of 24 independent accumulators written in assembly (so no
// compiler can drop, spill or reorder them). Needs an AVX512-VNNI CPU; not built by CMake:
//   g++ -O2 -march=native benchmarks/isa_peak.cpp -o isa_peak && ./isa_peak
// Prints three repetitions; on the 2-core Zen 5 machine of benchmarks/results/peer-epyc-avx512:
// 7.5 G vpdpbusd/s (480 GMAC/s) and 7.5 G vfmadd231ps/s (120 GMAC/s).
#include <chrono>
#include <cstdio>
int main() {
  const long iters = 50000000;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    long n = iters;
    asm volatile(
      "vpxord %%zmm0, %%zmm0, %%zmm0\n"
      "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n"
      "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n"
      "1:\n"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n vpdpbusd %%zmm30, %%zmm31, %%zmm1\n vpdpbusd %%zmm30, %%zmm31, %%zmm2\n vpdpbusd %%zmm30, %%zmm31, %%zmm3\n"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n vpdpbusd %%zmm30, %%zmm31, %%zmm5\n vpdpbusd %%zmm30, %%zmm31, %%zmm6\n vpdpbusd %%zmm30, %%zmm31, %%zmm7\n"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm8\n vpdpbusd %%zmm30, %%zmm31, %%zmm9\n vpdpbusd %%zmm30, %%zmm31, %%zmm10\n vpdpbusd %%zmm30, %%zmm31, %%zmm11\n"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm12\n vpdpbusd %%zmm30, %%zmm31, %%zmm13\n vpdpbusd %%zmm30, %%zmm31, %%zmm14\n vpdpbusd %%zmm30, %%zmm31, %%zmm15\n"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm16\n vpdpbusd %%zmm30, %%zmm31, %%zmm17\n vpdpbusd %%zmm30, %%zmm31, %%zmm18\n vpdpbusd %%zmm30, %%zmm31, %%zmm19\n"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm20\n vpdpbusd %%zmm30, %%zmm31, %%zmm21\n vpdpbusd %%zmm30, %%zmm31, %%zmm22\n vpdpbusd %%zmm30, %%zmm31, %%zmm23\n"
      "dec %0\n jnz 1b\n"
      : "+r"(n) : : "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","xmm16","xmm17","xmm18","xmm19","xmm20","xmm21","xmm22","xmm23","xmm30","xmm31","cc");
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto t1 = std::chrono::steady_clock::now();
    n = iters;
    asm volatile(
      "1:\n"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm0\n vfmadd231ps %%zmm30, %%zmm31, %%zmm1\n vfmadd231ps %%zmm30, %%zmm31, %%zmm2\n vfmadd231ps %%zmm30, %%zmm31, %%zmm3\n"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm4\n vfmadd231ps %%zmm30, %%zmm31, %%zmm5\n vfmadd231ps %%zmm30, %%zmm31, %%zmm6\n vfmadd231ps %%zmm30, %%zmm31, %%zmm7\n"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm8\n vfmadd231ps %%zmm30, %%zmm31, %%zmm9\n vfmadd231ps %%zmm30, %%zmm31, %%zmm10\n vfmadd231ps %%zmm30, %%zmm31, %%zmm11\n"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm12\n vfmadd231ps %%zmm30, %%zmm31, %%zmm13\n vfmadd231ps %%zmm30, %%zmm31, %%zmm14\n vfmadd231ps %%zmm30, %%zmm31, %%zmm15\n"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm16\n vfmadd231ps %%zmm30, %%zmm31, %%zmm17\n vfmadd231ps %%zmm30, %%zmm31, %%zmm18\n vfmadd231ps %%zmm30, %%zmm31, %%zmm19\n"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm20\n vfmadd231ps %%zmm30, %%zmm31, %%zmm21\n vfmadd231ps %%zmm30, %%zmm31, %%zmm22\n vfmadd231ps %%zmm30, %%zmm31, %%zmm23\n"
      "dec %0\n jnz 1b\n"
      : "+r"(n) : : "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","xmm16","xmm17","xmm18","xmm19","xmm20","xmm21","xmm22","xmm23","xmm30","xmm31","cc");
    double s2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::printf("vpdpbusd zmm: %.2f G/s = %.0f GMAC/s;  vfmadd231ps zmm: %.2f G/s = %.0f GMAC/s\n",
                iters * 24.0 / s / 1e9, iters * 24.0 * 64 / s / 1e9, iters * 24.0 / s2 / 1e9, iters * 24.0 * 16 / s2 / 1e9);
  }
}

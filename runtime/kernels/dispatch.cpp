// Run-time selection of the ternary kernel level: cpuid decides what the CPU can run, and
// TRITON_RT_FORCE_ISA may lower the level (tests use it to cover every path on one
// machine). A level the CPU lacks is never selected: asking for it gives the best level
// the CPU has, so a missing fast path degrades to the reference, never to garbage.
#include <cstdlib>
#include <cstring>

#include "kernels/ternary.h"
#include "kernels/ternary_tiles.h"

namespace triton_rt::kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAmx:
      return "amx";
  }
  return "scalar";
}

Isa detected_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    return tile_conv_available() ? Isa::kAmx : Isa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

Isa selected_isa() {
  Isa best = detected_isa();
  const char* forced = std::getenv("TRITON_RT_FORCE_ISA");
  if (forced == nullptr || *forced == '\0') return best;
  Isa want = best;
  if (std::strcmp(forced, "scalar") == 0) want = Isa::kScalar;
  if (std::strcmp(forced, "avx2") == 0) want = Isa::kAvx2;
  if (std::strcmp(forced, "avx512") == 0) want = Isa::kAvx512;
  if (std::strcmp(forced, "amx") == 0) want = Isa::kAmx;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

const KernelSet& kernel_set(Isa isa) {
  const Isa best = detected_isa();
  if (static_cast<int>(isa) > static_cast<int>(best)) isa = best;
  if (isa == Isa::kAmx) return *amx_kernels();
  if (isa == Isa::kAvx512) return *avx512_kernels();
  if (isa == Isa::kAvx2) return *avx2_kernels();
  return *scalar_kernels();
}

const KernelSet* amx_kernels() {
  static const KernelSet amx = [] {
    KernelSet set = *avx512_kernels();
    set.isa = Isa::kAmx;
    set.tile_conv = true;
    return set;
  }();
  return &amx;
}

}  // namespace triton_rt::kernels

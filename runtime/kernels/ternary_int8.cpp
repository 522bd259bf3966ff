// Weight preparation and run-time selection for the 8-bit activation kernels
// (ternary_int8.h). The selection follows the float kernels' level (selected_isa(), so
// TRITON_RT_FORCE_ISA applies to both), then picks the AVX-512 flavour by cpuid.
#include "kernels/ternary_int8.h"

#include <cstdlib>
#include <cstring>

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

}  // namespace

PreparedTernaryInt8 prepare_ternary_int8(const TernaryMatrix& m) {
  PreparedTernaryInt8 w;
  w.rows = m.rows;
  w.cols = m.cols;
  w.padded_cols = int8_padded_cols(m.cols);
  w.codes.assign(static_cast<std::size_t>(w.rows * w.padded_cols), 0);
  w.row_sums.assign(static_cast<std::size_t>(w.rows), 0);
  w.scales = m.scales;
  for (std::int64_t r = 0; r < m.rows; ++r) {
    const std::uint8_t* packed = m.packed.data() + r * m.row_bytes;
    std::int8_t* codes = w.codes.data() + r * w.padded_cols;
    std::int32_t sum = 0;
    for (std::int64_t k = 0; k < m.cols; ++k) {
      const unsigned bits = (packed[k / 4] >> (2 * (k % 4))) & 3u;  // 01 = +1, 10 = -1
      codes[k] = bits == 1 ? 1 : bits == 2 ? -1 : 0;
      sum += codes[k];
    }
    w.row_sums[r] = sum;
  }
  return w;
}

const Int8KernelSet* avx2_int8_kernels() {
  return at_least(detected_isa(), Isa::kAvx2) ? avx2_int8_kernels_unchecked() : nullptr;
}

const Int8KernelSet* avx512bw_int8_kernels() {
  return at_least(detected_isa(), Isa::kAvx512) ? avx512bw_int8_kernels_unchecked() : nullptr;
}

const Int8KernelSet* avx512vnni_int8_kernels() {
  return cpu_has_avx512vnni() ? avx512vnni_int8_kernels_unchecked() : nullptr;
}

const Int8KernelSet& int8_kernel_set(Isa isa) {
  const Isa best = detected_isa();
  if (!at_least(best, isa)) isa = best;
  if (at_least(isa, Isa::kAvx512)) {
    const char* forced = std::getenv("TRITON_RT_FORCE_ISA");
    const bool bw_only = forced != nullptr && std::strcmp(forced, "avx512bw") == 0;
    const Int8KernelSet* vnni = bw_only ? nullptr : avx512vnni_int8_kernels();
    return vnni != nullptr ? *vnni : *avx512bw_int8_kernels_unchecked();
  }
  if (isa == Isa::kAvx2) return *avx2_int8_kernels_unchecked();
  return *scalar_int8_kernels();
}

const Int8KernelSet& selected_int8_kernels() { return int8_kernel_set(selected_isa()); }

}  // namespace triton_rt::kernels

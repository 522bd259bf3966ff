// libFuzzer target over the .tpk loader: any byte string must either load or produce an
// error Status, never crash, hang or read out of bounds (ASan/UBSan check the latter).
// When a file loads, it also runs once on a small input so executor shape checks are
// fuzzed too. Seeds: tests/runtime/fuzz_corpus/fuzz_tpk_loader/ (exported models).
#include <cstddef>
#include <cstdint>
#include <span>

#include "executor/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One thread, and results capped at 2^20 elements so each input runs in milliseconds.
  auto engine = triton_rt::Engine::from_bytes(std::span(data, size), {1, std::int64_t{1} << 20});
  if (!engine.ok()) return 0;
  const triton_rt::Model& m = engine.value()->model();
  std::vector<triton_rt::Tensor> inputs;
  for (std::uint32_t v : m.inputs) {
    std::vector<std::int64_t> shape = m.values[v].dims;
    // Keep each run fast (big shapes add no coverage), checking before each product: traced
    // dimensions may each be up to 2^31, and six of them overflow 64 bits.
    constexpr std::int64_t kMaxInput = 1 << 16;
    std::int64_t n = 1;
    for (std::int64_t& d : shape) {
      d = d < 1 ? 1 : d;
      if (d > kMaxInput / n) return 0;
      n *= d;
    }
    triton_rt::Tensor t(shape);
    for (std::int64_t i = 0; i < n; ++i) t.data[i] = static_cast<float>(i % 7) - 3.0f;
    inputs.push_back(std::move(t));
  }
  (void)engine.value()->run(inputs);
  return 0;
}

// libFuzzer target over the `.npy` reader of `triton run`: any byte string must parse or
// produce an error Status, never crash, overflow (UBSan) or allocate more than the input
// could hold (the reader checks the header's shape against the data bytes first; libFuzzer's
// -rss_limit_mb catches a regression). Seeds: tests/runtime/fuzz_corpus/fuzz_npy/, written
// by runtime/fuzz/make_npy_seeds.py.
#include <cstddef>
#include <cstdint>
#include <span>

#include "cli/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto t = triton_rt::parse_npy(std::span(data, size), "input.npy");
  if (t.ok()) {
    // A parsed array holds exactly its shape's elements, all of which came from the input.
    const auto n = t.value().numel();
    if (n < 0 || static_cast<std::uint64_t>(n) != t.value().data.size() ||
        t.value().data.size() * 4 > size) {
      __builtin_trap();
    }
  }
  return 0;
}

// Helpers the runtime test suites share: random ternary codes, activations and matrices,
// and running a built .tpk image once through the Engine.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "executor/engine.h"
#include "format/packing.h"

namespace triton_rt::test_support {

inline std::vector<std::int8_t> random_codes(std::size_t n, std::mt19937& rng) {
  std::vector<std::int8_t> v(n);
  for (auto& c : v) c = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
  return v;
}

inline std::vector<float> random_vector(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A 2-bit matrix of these codes with random per-row scales in [0.1, 2).
inline TernaryMatrix ternary_matrix(const std::vector<std::int8_t>& codes, std::int64_t rows,
                                    std::int64_t cols, std::mt19937& rng) {
  TernaryMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.row_bytes = static_cast<std::int64_t>(format::t2_row_bytes(cols));
  m.packed = format::encode_t2(codes, rows, cols);
  std::uniform_real_distribution<float> scale(0.1f, 2.0f);
  for (std::int64_t r = 0; r < rows; ++r) m.scales.push_back(scale(rng));
  return m;
}

// Loads the image and runs it on one input; a failure is a test failure and an empty tensor.
inline Tensor run_engine(const std::vector<std::uint8_t>& bytes, const Tensor& x, int threads) {
  // Every parallel loop splits over all threads, however small, so these tests run the
  // split paths that real sizes take.
  EngineOptions options;
  options.threads = threads;
  options.min_thread_work_ns = 0;
  auto engine = Engine::from_bytes(bytes, options);
  EXPECT_TRUE(engine.ok()) << engine.message();
  if (!engine.ok()) return {};
  auto out = engine.value()->run({x});
  EXPECT_TRUE(out.ok()) << out.message();
  return out.ok() ? out.value()[0] : Tensor();
}

}  // namespace triton_rt::test_support

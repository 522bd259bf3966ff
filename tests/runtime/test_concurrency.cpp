// One Engine shared by several threads: every concurrent run must give the result a lone run
// gives, on the paths that use per-worker scratch (pooled GEMV, im2col and whole-image
// convolutions, depthwise planes, tile packing where AMX exists, 8-bit images and the 8-bit
// handoffs between layers). Also the ThreadPool's
// contract under concurrent callers. CI runs this binary under ThreadSanitizer
// (TRITON_TSAN=ON), which also catches races that happen to give the right numbers.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "executor/engine.h"
#include "kernels/thread_pool.h"
#include "test_support.h"
#include "tpk_builder.h"

using namespace triton_rt;
using namespace triton_rt::test_support;

namespace {

// x[B, 4, 12, 12] -> ternary conv 3x3 (32 channels, ReLU) -> depthwise 3x3 -> flatten ->
// ternary linear 4608 -> 520 -> ternary linear 520 -> 10 (a row length that is padded).
std::vector<std::uint8_t> conv_mlp_model() {
  std::mt19937 rng(21);
  TpkBuilder b;
  const auto x = b.value({1, 4, 12, 12}), c1 = b.value({1, 32, 12, 12}), c2 = b.value({1, 32, 12, 12}),
             flat = b.value({1, 4608}), h = b.value({1, 520}), y = b.value({1, 10});
  auto scales = [&](int rows) {
    std::vector<float> s(rows);
    for (int r = 0; r < rows; ++r) s[r] = 0.05f + 0.01f * (r % 7);
    return s;
  };
  const auto w1 = b.ternary_tensor(random_codes(32 * 36, rng), 32, 36, scales(32), false);
  b.op(OpKind::kConv2d, {x}, c1, {3, 3, 1, 1, 1, 1, 1, 1, 1}, {}, {w1, format::kAbsent}, Activation::kRelu);
  const auto w2 = b.float_tensor({32, 1, 3, 3}, random_vector(32 * 9, rng));
  b.op(OpKind::kConv2d, {c1}, c2, {3, 3, 1, 1, 1, 1, 1, 1, 32}, {}, {w2, format::kAbsent});
  b.op(OpKind::kReshape, {c2}, flat, {-2, 4608});
  const auto w3 = b.ternary_tensor(random_codes(520 * 4608, rng), 520, 4608, scales(520), false);
  b.op(OpKind::kLinear, {flat}, h, {}, {}, {w3, format::kAbsent}, Activation::kRelu);
  const auto w4 = b.ternary_tensor(random_codes(10 * 520, rng), 10, 520, scales(10), true);
  b.op(OpKind::kLinear, {h}, y, {}, {}, {w4, format::kAbsent});
  b.input(x);
  b.output(y);
  return b.bytes();
}

// 8-bit activations: x[B, 16, 24, 24] -> conv 3x3 (64 channels, ReLU, split over threads)
// -> depthwise 3x3 (ReLU6) -> pointwise 64 -> 32 -> flatten -> linear 18432 -> 64 (GELU) ->
// linear 64 -> 10, each 8-bit op handing its output to the next where it is the only reader.
std::vector<std::uint8_t> int8_model() {
  std::mt19937 rng(22);
  TpkBuilder b;
  const auto x = b.value({1, 16, 24, 24}), c1 = b.value({1, 64, 24, 24}),
             c2 = b.value({1, 64, 24, 24}), c3 = b.value({1, 32, 24, 24}),
             flat = b.value({1, 18432}), h = b.value({1, 64}), y = b.value({1, 10});
  auto scales = [&](int rows) {
    std::vector<float> s(rows);
    for (int r = 0; r < rows; ++r) s[r] = 0.02f + 0.005f * (r % 7);
    return s;
  };
  b.op(OpKind::kConv2d, {x}, c1, {3, 3, 1, 1, 1, 1, 1, 1, 1}, {0.03f},
       {b.ternary_tensor(random_codes(64 * 144, rng), 64, 144, scales(64), true), format::kAbsent},
       Activation::kRelu);
  b.op(OpKind::kConv2d, {c1}, c2, {3, 3, 1, 1, 1, 1, 1, 1, 64}, {0.05f},
       {b.ternary_tensor(random_codes(64 * 9, rng), 64, 9, scales(64), true), format::kAbsent},
       Activation::kRelu6);
  b.op(OpKind::kConv2d, {c2}, c3, {1, 1, 1, 1, 0, 0, 1, 1, 1}, {0.04f},
       {b.ternary_tensor(random_codes(32 * 64, rng), 32, 64, scales(32), true), format::kAbsent});
  b.op(OpKind::kReshape, {c3}, flat, {-2, 18432});
  b.op(OpKind::kLinear, {flat}, h, {}, {0.1f},
       {b.ternary_tensor(random_codes(64 * 18432, rng), 64, 18432, scales(64), false), format::kAbsent},
       Activation::kGelu);
  b.op(OpKind::kLinear, {h}, y, {}, {0.2f},
       {b.ternary_tensor(random_codes(10 * 64, rng), 10, 64, scales(10), false), format::kAbsent});
  b.input(x);
  b.output(y);
  return b.bytes();
}

Tensor random_input(const std::vector<std::int64_t>& shape, std::mt19937& rng) {
  Tensor t(shape);
  t.data = random_vector(t.data.size(), rng);
  return t;
}

// Runs `model` from 4 threads at once (4 pool threads) and compares with lone runs.
void expect_shared_runs_match(const std::vector<std::uint8_t>& model, std::vector<std::int64_t> shape) {
  auto engine = Engine::from_bytes(model, {4});
  ASSERT_TRUE(engine.ok()) << engine.message();
  const Engine& e = *engine.value();
  // Batch 1 takes the pooled GEMV and per-image splits; 3 and 8 the GEMM and whole-image paths.
  std::mt19937 rng(5);
  std::vector<Tensor> inputs, expected;
  for (int batch : {1, 3, 8, 1}) {
    shape[0] = batch;
    inputs.push_back(random_input(shape, rng));
    auto out = e.run({inputs.back()});
    ASSERT_TRUE(out.ok()) << out.message();
    expected.push_back(out.value()[0]);
  }
  constexpr int kThreads = 4, kRounds = 12;
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const std::size_t i = static_cast<std::size_t>(t + round) % inputs.size();
        auto out = e.run({inputs[i]});
        if (!out.ok()) {
          ++failures;
        } else if (out.value()[0].shape != expected[i].shape || out.value()[0].data != expected[i].data) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0) << "concurrent runs differ from lone runs";
}

}  // namespace

TEST(Concurrency, SharedEngineMatchesLoneRuns) { expect_shared_runs_match(conv_mlp_model(), {1, 4, 12, 12}); }

TEST(Concurrency, SharedInt8EngineMatchesLoneRuns) {
  expect_shared_runs_match(int8_model(), {1, 16, 24, 24});
}

TEST(Concurrency, ThreadPoolServesConcurrentCallers) {
  ThreadPool pool(4);
  constexpr int kCallers = 4;
  constexpr std::int64_t kN = 4096;
  std::atomic<int> bad{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        // Each index is visited once; two chunks running at once never share a worker index.
        std::vector<int> seen(kN, 0);
        std::vector<std::atomic<int>> in_use(static_cast<std::size_t>(pool.size()));
        pool.parallel_for_workers(kN, 64, [&](std::int64_t b, std::int64_t e, int worker) {
          if (worker < 0 || worker >= pool.size() || in_use[worker].fetch_add(1) != 0) ++bad;
          for (std::int64_t i = b; i < e; ++i) ++seen[i];
          --in_use[worker];
        });
        for (int v : seen) bad += v != 1;
      }
    });
  }
  for (std::thread& th : callers) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(Concurrency, ThreadCountIsCappedAndChecked) {
  TpkBuilder b;
  const auto x = b.value({1, 3}), y = b.value({1, 3});
  b.op(OpKind::kScalarAffine, {x}, y, {}, {2.0f, 1.0f});
  b.input(x);
  b.output(y);
  const auto bytes = b.bytes();
  auto capped = Engine::from_bytes(bytes, {hardware_threads() + 5});
  ASSERT_TRUE(capped.ok()) << capped.message();
  EXPECT_EQ(capped.value()->info().threads, hardware_threads());
  EXPECT_TRUE(capped.value()->info().threads_capped);
  EXPECT_EQ(capped.value()->info().requested_threads, hardware_threads() + 5);
  auto all = Engine::from_bytes(bytes, {0});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all.value()->info().threads, hardware_threads());
  EXPECT_FALSE(all.value()->info().threads_capped);
  auto negative = Engine::from_bytes(bytes, {-3});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.message().find("got -3"), std::string::npos) << negative.message();
  ThreadPool huge(100000);  // a pool built directly stops at its backstop
  EXPECT_EQ(huge.size(), kMaxPoolThreads);
}

// `triton run`: loads a .tpk, runs it on a .npy input, prints or saves the output, and with
// --bench N reports the median latency of N runs.
#include "cli/run_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/npy.h"
#include "executor/engine.h"

namespace triton_rt {
namespace {

constexpr const char* kUsage =
    "usage: triton run MODEL.tpk --input X.npy [--output Y.npy] [--threads N] [--bench N]\n";

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

// A whole decimal integer in [0, max]; false for anything else ("", "-1", "4x", overflow).
bool parse_count(const char* text, int max, int& out) {
  long long v = 0;
  if (*text == '\0') return false;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = 10 * v + (*p - '0');
    if (v > max) return false;
  }
  out = static_cast<int>(v);
  return true;
}

// Beyond this a thread count is a typo, not a request to cap.
constexpr int kMaxThreadsArg = 1 << 20;
constexpr int kMaxBenchRuns = 1 << 24;

}  // namespace

int run_command(int argc, char** argv) {
  std::string model_path, input_path, output_path;
  int threads = 0, bench = 0;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--input" || arg == "--output" || arg == "--threads" || arg == "--bench") {
      const char* v = value(arg.c_str());
      if (v == nullptr) return fail("`" + arg + "` needs a value"), 2;
      if (arg == "--input") input_path = v;
      if (arg == "--output") output_path = v;
      if (arg == "--threads" && !parse_count(v, kMaxThreadsArg, threads)) {
        return fail("`--threads` takes a count from 0 (all hardware threads) to " +
                    std::to_string(kMaxThreadsArg) + ", got `" + v + "`"), 2;
      }
      if (arg == "--bench" && !parse_count(v, kMaxBenchRuns, bench)) {
        return fail("`--bench` takes a run count from 0 to " + std::to_string(kMaxBenchRuns) +
                    ", got `" + v + "`"), 2;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      std::fputs(kUsage, stderr);
      return fail("unknown option `" + arg + "`"), 2;
    } else if (model_path.empty()) {
      model_path = arg;
    } else {
      return fail("unexpected argument `" + arg + "`"), 2;
    }
  }
  if (model_path.empty() || input_path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto engine = Engine::from_file(model_path, {threads});
  if (!engine.ok()) return fail(engine.message());
  if (const EngineInfo info = engine.value()->info(); info.threads_capped) {
    std::fprintf(stderr, "note: `--threads %d` capped to the %d hardware threads\n", threads,
                 info.threads);
  }
  auto input = read_npy(input_path);
  if (!input.ok()) return fail(input.message());
  auto out = engine.value()->run({input.value()});
  if (!out.ok()) return fail(out.message());
  const Tensor& y = out.value()[0];
  if (!output_path.empty()) {
    if (Status s = write_npy(output_path, y); !s.ok()) return fail(s.message());
  } else {
    std::printf("output %s:", shape_string(y.shape).c_str());
    for (std::size_t i = 0; i < y.data.size() && i < 64; ++i) std::printf(" %.6g", y.data[i]);
    std::printf(y.data.size() > 64 ? " ...\n" : "\n");
  }
  if (bench > 0) {
    std::vector<double> ms;
    for (int i = 0; i < bench; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = engine.value()->run({input.value()});
      const auto t1 = std::chrono::steady_clock::now();
      if (!r.ok()) return fail(r.message());
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const EngineInfo info = engine.value()->info();
    std::printf("bench: %d runs, median %.3f ms, min %.3f ms, %d threads, isa %s\n", bench,
                ms[ms.size() / 2], ms.front(), info.threads, info.isa.c_str());
  }
  return 0;
}

}  // namespace triton_rt

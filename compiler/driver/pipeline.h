// The compile pipeline: runs the phases in order on one file, honouring --emit,
// --stop-after and --verbose. This is the one place that knows the order of the phases;
// a new phase is wired in by adding a step to `run_compile` in pipeline.cpp and, if it has
// state later phases need, a field to `CompileSession`.
#pragma once

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ast/ast.h"
#include "diag/diagnostic.h"
#include "driver/options.h"
#include "lex/token.h"
#include "source/source_buffer.h"

namespace triton::driver {

// Phase timings for --verbose, printed in the order the phases ran.
class PhaseTimer {
 public:
  void record(std::string phase, double milliseconds) {
    entries_.push_back({std::move(phase), milliseconds});
  }
  void print(std::ostream& out) const;

 private:
  struct Entry {
    std::string phase;
    double milliseconds;
  };
  std::vector<Entry> entries_;
};

// Runs `step` and records its wall time under `phase`.
template <class Step>
auto timed(PhaseTimer& timer, std::string phase, Step&& step) {
  const auto start = std::chrono::steady_clock::now();
  if constexpr (std::is_void_v<decltype(step())>) {
    step();
    timer.record(std::move(phase), std::chrono::duration<double, std::milli>(
                                       std::chrono::steady_clock::now() - start).count());
  } else {
    auto result = step();
    timer.record(std::move(phase), std::chrono::duration<double, std::milli>(
                                       std::chrono::steady_clock::now() - start).count());
    return result;
  }
}

// Everything one compilation holds; each phase adds its product.
struct CompileSession {
  CompileSession(const CompileOptions& opts, SourceBuffer source)
      : options(opts),
        buffer(std::move(source)),
        diags(buffer, &std::cerr,
              DiagnosticOptions{opts.show_diagnostic_ids, opts.error_limit}) {}

  const CompileOptions& options;
  SourceBuffer buffer;
  DiagnosticEngine diags;
  PhaseTimer timer;
  TokenList tokens;           // lex
  ast::File file;             // parse
};

// Writes a stage's text or a backend's output to --output (default: standard output for
// --emit, `default_path` for backends). Returns an exit status.
int write_result(const CompileSession& session, std::string_view text,
                 const std::string& default_path = "-");

// `triton compile`: returns the process exit status (0, 1 for errors in the source, 2 for
// usage errors). Internal errors propagate as InternalError to main().
int run_compile(const CompileOptions& options);

}  // namespace triton::driver

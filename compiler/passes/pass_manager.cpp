// Runs passes with printing, verification and timing (see pass_manager.h).
#include "passes/pass_manager.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "ir/printer.h"
#include "ir/verifier.h"

namespace triton::passes {

PassReport run_passes(ir::Program& program, const std::vector<Pass>& passes, const PassOptions& options,
                      std::ostream& out, std::ostream& err) {
  PassReport report;
  for (const auto& pass : passes) {
    auto start = std::chrono::steady_clock::now();
    bool changed = pass.run(program);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (options.time_passes) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "pass %-24s %8.3f ms%s\n", pass.name.c_str(), ms, changed ? "  (changed)" : "");
      err << buf;
    }
    const auto& pa = options.print_after;
    if (std::find(pa.begin(), pa.end(), "all") != pa.end() || std::find(pa.begin(), pa.end(), pass.name) != pa.end())
      out << "; IR after " << pass.name << "\n" << ir::print_program(program);
    if (options.verify_each) {
      auto errors = ir::verify(program);
      if (!errors.empty()) {
        report.ok = false;
        report.failed_pass = pass.name;
        report.verifier_errors = std::move(errors);
        return report;
      }
    }
  }
  return report;
}

}  // namespace triton::passes

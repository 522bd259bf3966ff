// The pass manager: runs a list of IR passes in order, with the debugging switches every
// pass gets for free: `--print-after=NAME|all` (print the IR after a pass), `--verify-each`
// (run the verifier between passes; a failure is an internal error naming the pass) and
// `--time-passes`. Which passes run at each -O level is decided only in pipelines.cpp.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "ir/ir.h"

namespace triton::passes {

struct Pass {
  std::string name;
  // Transforms the program; returns whether anything changed.
  std::function<bool(ir::Program&)> run;
};

struct PassOptions {
  std::vector<std::string> print_after;  // pass names, or "all"
  bool verify_each = false;
  bool time_passes = false;
};

struct PassReport {
  bool ok = true;
  std::string failed_pass;                 // set when --verify-each found a broken IR
  std::vector<std::string> verifier_errors;
};

PassReport run_passes(ir::Program& program, const std::vector<Pass>& passes, const PassOptions& options,
                      std::ostream& out, std::ostream& err);

// The passes of each optimization level, in order (pipelines.cpp).
std::vector<Pass> pipeline_for_level(int opt_level);

// Factories, one per pass file.
Pass create_constant_folding();
Pass create_dead_value_elimination();
Pass create_common_subexpression_elimination();
Pass create_batch_norm_folding();
Pass create_activation_fusion();
Pass create_channels_last_layout();
Pass create_float32_precision();

}  // namespace triton::passes

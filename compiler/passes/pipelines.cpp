// The one place that orders passes into optimization levels. -O0 runs nothing, so the
// generated code mirrors the source statement by statement; -O1 folds constants; -O2 (the
// default) and -O3 also drop dead values.
#include "passes/pass_manager.h"

namespace triton::passes {

std::vector<Pass> pipeline_for_level(int opt_level) {
  std::vector<Pass> p;
  if (opt_level >= 1) p.push_back(create_constant_folding());
  if (opt_level >= 2) p.push_back(create_dead_value_elimination());
  return p;
}

}  // namespace triton::passes

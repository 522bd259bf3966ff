// The one place that orders passes into optimization levels:
//   -O0  nothing: the generated code mirrors the source statement by statement;
//   -O1  constant folding and dead-value elimination;
//   -O2  (the default) also common-subexpression elimination, batch-norm folding (unless
//        the optimization section says `fuse_bn: false`) and activation fusion, then
//        dead values once more;
//   -O3  also the target's layout and precision choices: channels-last for programs with
//        2-d convolutions, TF32-class float32 matrix products.
#include "passes/pass_manager.h"

namespace triton::passes {

std::vector<Pass> pipeline_for_level(int opt_level) {
  std::vector<Pass> p;
  if (opt_level >= 1) {
    p.push_back(create_constant_folding());
    p.push_back(create_dead_value_elimination());
  }
  if (opt_level >= 2) {
    p.push_back(create_common_subexpression_elimination());
    p.push_back(create_batch_norm_folding());
    p.push_back(create_activation_fusion());
    p.push_back(create_dead_value_elimination());
  }
  if (opt_level >= 3) {
    p.push_back(create_channels_last_layout());
    p.push_back(create_float32_precision());
  }
  return p;
}

}  // namespace triton::passes

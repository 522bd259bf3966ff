// Float32 precision (-O3): the program lets float32 matrix products and convolutions use
// reduced-precision tensor-core arithmetic where the target has it (PyTorch's
// `torch.set_float32_matmul_precision("high")`: TF32 on NVIDIA GPUs since Ampere, a
// 10-bit mantissa for the products with float32 accumulation). A ternary layer's weights
// are alpha * {-1, 0, +1}, so only alpha and the activations are rounded; the choice is the
// compiler's equivalent of fast-math and stays out of -O2.
// Algorithm:
//   1. Set `Program::float32_matmul_precision` to "high" unless a pass already chose.
// The PyTorch backend records it in MODEL_INFO; the generated program applies it before
// training or evaluating (triton_dsl.program.entry), never on import.
#include "passes/pass_manager.h"

namespace triton::passes {

Pass create_float32_precision() {
  return {"float32-precision", [](ir::Program& p) {
            if (!p.float32_matmul_precision.empty()) return false;
            p.float32_matmul_precision = "high";
            return true;
          }};
}

}  // namespace triton::passes

// Channels-last layout (-O3): a program with 2-d convolutions runs them on channels-last
// (NHWC) tensors, the order that oneDNN's and cuDNN's fastest convolution kernels read, so
// no layer converts its input on every call. The pass only decides; the PyTorch backend
// writes the decision (`self.to(memory_format=torch.channels_last)` in the entry model's
// constructor, the 4-d inputs made channels-last on entry). Values and shapes are
// unchanged: memory order is invisible to the model's arithmetic.
// Algorithm:
//   1. Look through every module's submodules (all forms, nested sequences and `else`
//      branches) for a built-in TernaryConv2d or Conv2d.
//   2. Set `Program::channels_last` when one exists; a program without one is unchanged.
#include "passes/pass_manager.h"

namespace triton::passes {

namespace {

bool has_conv2d(const std::vector<ir::Instance>& instances) {
  for (const auto& inst : instances) {
    if (inst.builtin && (inst.type_name == "TernaryConv2d" || inst.type_name == "Conv2d")) return true;
    if (has_conv2d(inst.children)) return true;
  }
  return false;
}

}  // namespace

Pass create_channels_last_layout() {
  return {"channels-last-layout", [](ir::Program& p) {
            if (p.channels_last) return false;
            for (const auto& m : p.modules)
              for (const auto& s : m.submodules)
                if (has_conv2d(s.instances) || has_conv2d(s.else_instances)) {
                  p.channels_last = true;
                  return true;
                }
            return false;
          }};
}

}  // namespace triton::passes

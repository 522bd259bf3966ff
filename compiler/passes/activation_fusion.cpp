// Activation fusion (-O2): an activation whose input is a convolution or linear layer (or
// a fused layer + batch norm) read by nothing else joins that layer's `call_fused` op, so
// backends apply it in the layer's write-back instead of as a pass over a new tensor.
// Algorithm:
//   1. Count the reads of every forward value; note the region of every op.
//   2. For each live activation op C with one positional operand v: a call of the built-in
//      function relu, relu6, silu or gelu (gelu without `approximate`), or a `call_layer` on
//      a plain ReLU, ReLU6, SiLU or GELU submodule with no attributes written. Let P be the
//      op defining v. Fuse when v is read only by C, P and C share a region, and P is a
//      `call_fused` op without an activation or a `call_layer` on a plain weighted layer
//      (TernaryConv1d/2d, Conv2d, TernaryLinear, Linear) with one positional operand.
//   3. C becomes `call_fused` with P's layer and norm and C's activation, on P's operand (C
//      keeps its result, so readers need no rewrite); P is erased. An activation layer so
//      fused is no longer called; PyTorch still builds it, so checkpoints keep their keys.
#include "passes/fusion_patterns.h"
#include "passes/pass_manager.h"

namespace triton::passes {

namespace {

// The activation op `op` applies, or empty when it is not a fusable activation.
std::string activation_of(const ir::Module& m, const ir::Op& op) {
  if (op.operands.size() != 1) return {};
  if (op.kind == ir::OpKind::CallFunction) {
    const auto& call = ir::attrs_of<ir::CallFunctionAttrs>(op);
    if (!call.arg_names[0].empty() || !fusion::is_fusable_activation(call.function->name)) return {};
    return std::string(call.function->name);
  }
  if (op.kind != ir::OpKind::CallLayer) return {};
  const auto& call = ir::attrs_of<ir::CallLayerAttrs>(op);
  if (!call.arg_names[0].empty()) return {};
  const std::string_view type = fusion::single_builtin_type(m, call.submodule);
  if (type.empty() || !m.find_submodule(call.submodule)->instances[0].attrs.empty()) return {};
  return fusion::activation_of_layer(type);
}

bool fuse(ir::Module& m) {
  ir::Function& f = *m.forward;
  const std::vector<int> uses = fusion::use_counts(f);
  const std::vector<ir::RegionId> region = fusion::region_of_ops(f);
  bool changed = false;
  for (size_t i = 0; i < f.ops.size(); ++i) {
    ir::Op& act = f.ops[i];
    if (act.erased) continue;
    std::string activation = activation_of(m, act);
    if (activation.empty()) continue;
    const ir::ValueId v = act.operands[0];
    const ir::OpId producer_id = f.value(v).def;
    ir::Op& producer = f.op(producer_id);
    if (producer.erased || uses[v.index] != 1 || region[producer_id.index] != region[i]) continue;
    ir::CallFusedAttrs fused;
    if (producer.kind == ir::OpKind::CallFused) {
      fused = ir::attrs_of<ir::CallFusedAttrs>(producer);
      if (!fused.activation.empty()) continue;
    } else if (producer.kind == ir::OpKind::CallLayer && producer.operands.size() == 1) {
      const auto& call = ir::attrs_of<ir::CallLayerAttrs>(producer);
      if (!call.arg_names[0].empty() || !fusion::is_weighted_layer(fusion::single_builtin_type(m, call.submodule))) continue;
      fused.layer = call.submodule;
    } else {
      continue;
    }
    fused.activation = std::move(activation);
    act.kind = ir::OpKind::CallFused;
    act.attrs = std::move(fused);
    act.operands = producer.operands;
    producer.erased = true;
    changed = true;
  }
  return changed;
}

}  // namespace

Pass create_activation_fusion() {
  return {"activation-fusion", [](ir::Program& p) {
            bool changed = false;
            for (auto& m : p.modules)
              if (m.forward) changed |= fuse(m);
            return changed;
          }};
}

}  // namespace triton::passes

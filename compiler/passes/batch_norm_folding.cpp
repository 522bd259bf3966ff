// Batch-norm folding (-O2): a convolution or linear layer whose only reader is a batch
// norm becomes one `call_fused` op holding both, so backends can fold the norm's
// per-channel affine into the layer's weight rows and bias for inference.
// Algorithm:
//   1. Count the reads of every forward value; note the region of every op.
//   2. For each live `call_layer` op B on a plain BatchNorm1d/BatchNorm2d submodule with one
//      positional operand v: let A be the op defining v. Fold when A is a live `call_layer`
//      on a plain weighted layer (TernaryConv1d/2d, Conv2d, TernaryLinear, Linear) with one
//      positional operand, v is read only by B, A and B share a region, and the norm
//      normalizes dimension 1 of A's output (BatchNorm2d after a 2-d convolution; BatchNorm1d
//      after a 1-d convolution or after a linear layer with a 2-d output).
//   3. B becomes `call_fused A.layer norm=B.layer` on A's operand (B keeps its result, so
//      readers need no rewrite) and A is erased.
//   4. A sequence submodule (a list or conditional) whose instances hold a 2-d or 1-d
//      convolution directly followed by the matching batch norm (a ResNet shortcut) gets
//      `fold_norms`: backends that write inference graphs fold each such pair.
// Training is unchanged: the fused op runs the layer, then the norm on batch statistics.
// The optimization section's `fuse_bn: false` turns the pass off.
#include "passes/fusion_patterns.h"
#include "passes/pass_manager.h"

namespace triton::passes {

namespace {

bool fold(ir::Module& m) {
  ir::Function& f = *m.forward;
  const std::vector<int> uses = fusion::use_counts(f);
  const std::vector<ir::RegionId> region = fusion::region_of_ops(f);
  bool changed = false;
  for (size_t i = 0; i < f.ops.size(); ++i) {
    ir::Op& norm = f.ops[i];
    if (norm.erased || norm.kind != ir::OpKind::CallLayer || norm.operands.size() != 1) continue;
    const auto& norm_call = ir::attrs_of<ir::CallLayerAttrs>(norm);
    const std::string_view norm_type = fusion::single_builtin_type(m, norm_call.submodule);
    if (norm_type.empty() || !norm_call.arg_names[0].empty()) continue;
    const ir::ValueId v = norm.operands[0];
    const ir::OpId layer_id = f.value(v).def;
    ir::Op& layer = f.op(layer_id);
    if (layer.erased || layer.kind != ir::OpKind::CallLayer || layer.operands.size() != 1) continue;
    const auto& layer_call = ir::attrs_of<ir::CallLayerAttrs>(layer);
    const std::string_view layer_type = fusion::single_builtin_type(m, layer_call.submodule);
    if (!fusion::is_weighted_layer(layer_type) || !layer_call.arg_names[0].empty()) continue;
    if (uses[v.index] != 1 || region[layer_id.index] != region[i]) continue;
    if (!fusion::norm_matches(layer_type, norm_type, f.value(v).type.shape.rank())) continue;
    ir::CallFusedAttrs fused{layer_call.submodule, norm_call.submodule, ""};
    norm.kind = ir::OpKind::CallFused;
    norm.attrs = std::move(fused);
    norm.operands = layer.operands;
    layer.erased = true;
    changed = true;
  }
  return changed;
}

bool has_foldable_pair(const std::vector<ir::Instance>& instances) {
  for (size_t i = 0; i + 1 < instances.size(); ++i) {
    const ir::Instance& layer = instances[i];
    const ir::Instance& norm = instances[i + 1];
    // Rank 0: a linear layer's output rank is not known here, so only convolutions pair.
    if (layer.builtin && norm.builtin && fusion::norm_matches(layer.type_name, norm.type_name, 0)) return true;
  }
  return false;
}

bool mark_sequences(ir::Module& m) {
  bool changed = false;
  for (auto& s : m.submodules) {
    if (s.fold_norms || (s.form != ir::SubmoduleForm::List && s.form != ir::SubmoduleForm::Conditional)) continue;
    if (!has_foldable_pair(s.instances) && !has_foldable_pair(s.else_instances)) continue;
    s.fold_norms = true;
    changed = true;
  }
  return changed;
}

}  // namespace

Pass create_batch_norm_folding() {
  return {"batch-norm-folding", [](ir::Program& p) {
            const ConstValue* enabled = p.optimization.find("fuse_bn");
            if (enabled && enabled->is_bool() && !enabled->as_bool()) return false;
            bool changed = false;
            for (auto& m : p.modules) {
              if (m.forward) changed |= fold(m);
              changed |= mark_sequences(m);
            }
            return changed;
          }};
}

}  // namespace triton::passes

// Construction helpers and small queries of the IR (see ir.h).
#include "ir/ir.h"

namespace triton::ir {

std::string_view op_spelling(OpKind kind) {
  switch (kind) {
#define IR_OP(k, spelling, attrs) \
  case OpKind::k:                 \
    return spelling;
#include "ir/ops.def"
  }
  return "?";
}

std::string ValueType::to_string() const {
  switch (kind) {
    case Kind::Unknown: return "any";
    case Kind::Tensor: return "tensor" + (shape.ranked ? shape.to_string() : std::string());
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Bool: return "bool";
    case Kind::Str: return "str";
    case Kind::None: return "none";
    case Kind::Tuple: return "tuple";
    case Kind::Module: return "module";
  }
  return "any";
}

OpId Function::append(RegionId region, OpKind kind, OpAttrs attrs, std::vector<ValueId> operands,
                      size_t result_count, SourceRange range) {
  OpId id(ops.size());
  Op op{kind, std::move(attrs), std::move(operands), {}, {}, range, false};
  for (size_t i = 0; i < result_count; ++i) {
    op.results.push_back(ValueId(values.size()));
    values.push_back(Value{{}, {}, id});
  }
  ops.push_back(std::move(op));
  regions[region.index].ops.push_back(id);
  return id;
}

RegionId Function::new_region() {
  regions.emplace_back();
  return RegionId(regions.size() - 1);
}

const ConstantDecl* Module::find_constant(std::string_view n) const {
  for (const auto& c : constants)
    if (c.name == n) return &c;
  return nullptr;
}

const Submodule* Module::find_submodule(std::string_view n) const {
  if (submodule_indexed_count_ != submodules.size()) {
    submodule_index_.clear();
    // emplace keeps the first of duplicate names, as a linear scan would.
    for (size_t i = 0; i < submodules.size(); ++i) submodule_index_.emplace(submodules[i].name, i);
    submodule_indexed_count_ = submodules.size();
  }
  const auto it = submodule_index_.find(std::string(n));
  return it == submodule_index_.end() ? nullptr : &submodules[it->second];
}

const TensorDecl* Module::find_tensor(std::string_view n) const {
  for (const auto& t : tensors)
    if (t.name == n) return &t;
  return nullptr;
}

bool Module::is_closed(ExprId id) const {
  std::vector<ExprId> work{id};  // iterative: nesting is bounded, but stay off the stack
  while (!work.empty()) {
    const ExprNode& n = expr(work.back());
    work.pop_back();
    if (n.kind == ExprKind::Ref) return false;
    work.insert(work.end(), n.operands.begin(), n.operands.end());
  }
  return true;
}

LayerCost ElabNode::total() const {
  LayerCost c = cost;
  for (const auto& child : children) {
    LayerCost k = child.total();
    c.float_params = sat_add(c.float_params, k.float_params);
    c.ternary_weights = sat_add(c.ternary_weights, k.ternary_weights);
    c.ternary_scales = sat_add(c.ternary_scales, k.ternary_scales);
    c.macs = sat_add(c.macs, k.macs);
  }
  return c;
}

std::optional<ModuleId> Program::find_module(std::string_view name) const {
  for (size_t i = 0; i < modules.size(); ++i)
    if (modules[i].name == name) return ModuleId(i);
  return std::nullopt;
}

}  // namespace triton::ir

// Elaboration and shape inference. Starting from the entry model under the file's default
// values, every layer is instantiated with concrete attribute values (validated against
// the schema or the user module's typed `params`), repetitions and tables are unrolled,
// and each `forward` is interpreted abstractly on shapes: built-in layers and functions
// apply their shape rules, symbolic dimensions bind on first use, and the first mismatch
// is reported at the call with a note at the declaration involved. A stack whose first
// input width was left out gets it from the shape reaching it, and the IR instance records
// the inferred value. The result is the IR's elaborated tree (parameter counts, summary)
// and each forward value's shape, joined over all instantiations.
// This file drives it (see elaborator.h for the files that do each job) and turns the
// instantiated tree into the IR's.
#include "check/elaborator.h"

namespace triton::check_detail {

namespace {

ir::ValueType to_type(const AbsValue& v) {
  ir::ValueType t;
  using VK = ir::ValueType::Kind;
  switch (v.kind) {
    case AbsValue::Kind::Unknown: t.kind = VK::Unknown; break;
    case AbsValue::Kind::Tensor: t.kind = VK::Tensor; t.shape = v.shape; break;
    case AbsValue::Kind::Int: t.kind = VK::Int; break;
    case AbsValue::Kind::None: t.kind = VK::None; break;
    case AbsValue::Kind::Tuple: t.kind = VK::Tuple; break;
    case AbsValue::Kind::Const:
      t.kind = v.value.is_float() ? VK::Float : v.value.is_bool() ? VK::Bool : v.value.is_str() ? VK::Str : VK::Unknown;
      break;
    case AbsValue::Kind::Module: t.kind = VK::Module; break;
  }
  return t;
}

}  // namespace

void Elaborator::run() {
  const ir::Module& entry = p_.entry_module();
  auto root = std::make_unique<LayerState>();
  root->path = "";
  root->type_name = entry.name;
  root->user = p_.entry;
  root->range = entry.range;
  for (const auto& k : entry.constants)
    if (k.is_parameter) root->env[k.name] = k.default_value;
  materialize(*root);
  // The declared inputs: symbolic names stay symbols.
  const DeclInfo& info = c_.decls_[entry.name];
  std::vector<AbsValue> args;
  if (info.forward) {
    for (const auto& prm : info.forward->params) {
      auto s = c_.declared_shape(prm.type.get(), entry, root->env);
      Shape shape = s ? *s : Shape::unranked();
      p_.inputs.push_back({prm.name.name, shape});
      args.push_back(AbsValue::tensor(shape));
    }
    call_user(*root, args, info.forward->keyword_range, true);
  }
  p_.root = to_node(*root, entry.name);
  for (auto& [mod, vals] : seen_) {
    auto& f = *p_.module(ir::ModuleId(static_cast<size_t>(mod))).forward;
    for (size_t i = 0; i < vals.size() && i < f.values.size(); ++i)
      if (vals[i]) f.values[i].type = to_type(*vals[i]);
    // The declared argument types, as shape inference saw them (joined over every call).
    for (const auto& op : f.ops)
      if (op.kind == ir::OpKind::Input) {
        uint32_t i = ir::attrs_of<ir::InputAttrs>(op).index;
        if (i < f.arg_types.size()) f.arg_types[i] = f.values[op.results[0].index].type;
      }
  }
}

ir::ElabNode Elaborator::to_node(const LayerState& st, const std::string& type) {
  ir::ElabNode n;
  n.path = st.path;
  n.type_name = type;
  n.called = st.called || st.user.has_value();
  n.input = st.input;
  n.output = st.output;
  if (st.builtin && !st.builtin->is_container) {
    n.is_leaf = true;
    n.attrs = st.attrs;
    n.cost = st.called ? st.cost : st.builtin->cost(st.attrs, Shape::unranked(), Shape::unranked());
    if (!st.called) n.cost.macs = 0;
  }
  for (const auto& c : st.children) n.children.push_back(to_node(*c, c->type_name));
  for (const auto& s : st.subs)
    for (const auto& l : s.layers) n.children.push_back(to_node(*l, l->type_name));
  for (const auto& t : st.tensors) n.children.push_back(t);
  return n;
}

std::optional<Shape> Checker::declared_shape(const ast::TypeExpr* type, const ir::Module& m, const Env& env) {
  if (!type || type->kind != ast::TypeKind::Tensor || !type->has_shape) return std::nullopt;
  std::vector<Dim> dims;
  for (const auto& d : type->dims) {
    if (auto* n = ast::dyn_cast<ast::NumberExpr>(d.get()); n && n->is_integer) {
      dims.push_back(Dim::known(n->int_value));
    } else if (auto* nm = ast::dyn_cast<ast::NameExpr>(d.get())) {
      auto it = env.find(nm->name);
      if (it != env.end() && it->second.is_int()) dims.push_back(Dim::known(it->second.as_int()));
      else if (m.find_constant(nm->name)) dims.push_back(Dim::unknown());
      else dims.push_back(Dim::sym(nm->name));
    } else {
      dims.push_back(Dim::unknown());
    }
  }
  Shape shape = Shape::of(dims);
  if (shape.too_large()) {
    std::string text = "`" + expr_text(type->range) + "`";
    if (first_report(DiagKind::tensor_too_large, type->range, text)) diags_.report(DiagKind::tensor_too_large, type->range, {text});
    return Shape::unranked();
  }
  return shape;
}

void Checker::elaborate_entry(ir::Program& program) { Elaborator(*this, program).run(); }

}  // namespace triton::check_detail

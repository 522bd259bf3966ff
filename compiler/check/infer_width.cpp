// Width inference: a stack (`Type[n]`, a table, a list) whose first layer left out its input
// width gets it at the first call, from the input dimension that the schema row names
// (channels or the last). The IR instance records the inferred value as a literal
// attribute, so the backends see it; a user block is materialized only then.
#include "check/elaborator.h"

namespace triton::check_detail {

// Fills a stack's missing first input width from the shape that reaches it.
bool Elaborator::infer_width(LayerState& st, const AbsValue& in, SourceRange use) {
  const std::string& attr = st.pending_width;
  Dim d;
  if (in.is_tensor() && in.shape.ranked && in.shape.rank() >= 2)
    d = st.pending_dim == WidthDim::Channel ? in.shape.dims[1] : in.shape.dims.back();
  if (!d.is_known()) {
    if (c_.first_report(DiagKind::missing_attribute, st.range, attr))
      c_.diags_.report(DiagKind::missing_attribute, st.range, {st.type_name, attr})
          .note(DiagKind::note_declared_here, use, {"the input width cannot be inferred from " + in.describe() + "; it"});
    return false;
  }
  ConstValue v = ConstValue::of_int(d.size);
  ir::Module& owner = p_.module(st.owner);
  ir::ExprNode lit;
  lit.literal = v;
  lit.value = v;
  lit.range = st.range;
  ir::ExprId id = owner.add_expr(lit);
  bool found = false;
  for (auto& [k, e] : st.instance->attrs)
    if (k == attr) found = true;
  if (!found) st.instance->attrs.insert(st.instance->attrs.begin(), {attr, id});
  if (st.builtin) {
    for (size_t i = 0; i < st.builtin->attrs.size(); ++i)
      if (st.builtin->attrs[i].name == attr) st.attrs.values[i] = v;
  } else {
    st.env[attr] = v;
    materialize(st);
  }
  st.pending_width.clear();
  return true;
}

}  // namespace triton::check_detail

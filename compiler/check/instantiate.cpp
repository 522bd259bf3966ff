// Instantiation: a layer specification of the IR, under the constant values of the module
// that declares it, becomes a LayerState with concrete attribute values. Built-in
// attributes are validated against the schema row (type, range, choices; defaults filled
// in), a user block's `params` are coerced to their declared types and its derived
// constants computed, repetitions and tables unrolled and `param` tensors sized. A layer
// whose attributes were wrong is poisoned so its shape checks do not cascade. The first
// layer of a stack may leave its input width pending (see infer_width.cpp).
#include <algorithm>

#include "check/elaborator.h"

namespace triton::check_detail {

namespace {

// An attribute value among its schema's choices (strings, or ints written as text).
bool is_choice(const AttrSchema& a, const ConstValue& v) {
  const std::string text = v.is_str() ? v.as_str() : v.is_int() ? std::to_string(v.as_int()) : std::string();
  return std::find(a.choices.begin(), a.choices.end(), text) != a.choices.end();
}

std::string choice_source(const AttrSchema& a, std::string_view choice) {
  return a.type == AttrType::Str ? ConstValue::of_str(std::string(choice)).to_source() : std::string(choice);
}

}  // namespace

// Evaluates an attribute or constant expression, reporting a failure once.
std::optional<ConstValue> Elaborator::eval(const ir::Module& m, ir::ExprId e, const Env& env) {
  auto r = c_.eval(m, e, env);
  if (r.value) return r.value;
  if (!r.error.empty() && c_.first_report(DiagKind::constant_error, m.expr(e).range, r.error))
    c_.diags_.report(DiagKind::constant_error, m.expr(e).range, {r.error});
  return std::nullopt;
}

// `out_channels * expansion` as written, followed by `(24 * 0.3)` when it is a binary
// operation, so a non-integral result shows both operands.
std::string Elaborator::shown(const ir::Module& m, ir::ExprId e, const Env& env) {
  const ir::ExprNode& n = m.expr(e);
  std::string text = c_.expr_text(n.range);
  if (n.kind != ir::ExprKind::Binary) return "`" + text + "`";
  auto a = c_.eval(m, n.operands[0], env), b = c_.eval(m, n.operands[1], env);
  if (!a.value || !b.value) return "`" + text + "`";
  std::string ops = a.value->to_source() + " " + std::string(spelling(n.binary_op)) + " " + b.value->to_source();
  return ops == text ? "`" + text + "`" : "`" + text + "` (`" + ops + "`)";
}

bool Elaborator::budget_exhausted(SourceRange at) {
  if (++layers_made_ <= kMaxLayers) return false;
  if (!budget_reported_) {
    budget_reported_ = true;
    c_.diags_.report(DiagKind::too_many_layers, at, {p_.entry_module().name, "100,000"})
        .hint("each use of a block instantiates all of its layers again");
  }
  return true;
}

std::unique_ptr<LayerState> Elaborator::instantiate(ir::Instance& inst, ir::ModuleId owner, const Env& env, const std::string& path,
                                        bool allow_pending, bool poisoned) {
  auto st = std::make_unique<LayerState>();
  st->poisoned = poisoned;
  st->path = path;
  st->type_name = inst.type_name;
  st->range = inst.range;
  // Past the budget a layer stays an empty placeholder (no type, never interpreted), so
  // blocks that use the previous one twice stop growing instead of doubling memory.
  if (budget_exhausted(inst.range)) return st;
  size_t errors_before = c_.diags_.error_count();
  st->builtin = inst.builtin;
  st->user = inst.user;
  st->instance = &inst;
  st->owner = owner;
  const ir::Module& m = p_.module(owner);
  struct Given {
    ConstValue value;
    SourceRange range;
    std::string text;  // the source, with the operands' values when it is `a op b`
  };
  std::map<std::string, Given> given;
  for (const auto& [name, e] : inst.attrs)
    if (auto v = eval(m, e, env)) given[name] = {*v, m.expr(e).range, shown(m, e, env)};
  if (inst.builtin) {
    st->attrs.schema = inst.builtin;
    for (const auto& a : inst.builtin->attrs) {
      auto it = given.find(std::string(a.name));
      ConstValue v = a.default_value;
      if (it != given.end()) {
        v = it->second.value;
        SourceRange r = it->second.range;
        bool out_of_range = false;
        auto check_range = [&](const ConstValue& x) {
          if (x.is_int() && (x.as_int() > kMaxKnownDim || x.as_int() < -kMaxKnownDim)) out_of_range = true;
        };
        check_range(v);
        if (v.is_list())
          for (const auto& e : v.as_list()) check_range(e);
        if (out_of_range) {
          std::string msg = "attribute `" + std::string(a.name) + "` of `" + inst.type_name + "` is out of range: " + v.to_source();
          if (c_.first_report(DiagKind::constant_error, r, msg)) c_.diags_.report(DiagKind::constant_error, r, {msg});
          v = a.default_value.is_none() ? ConstValue::of_int(1) : a.default_value;
        } else if (a.type == AttrType::Int && v.is_float()) {
          auto iv = c_.coerce_to_type(v, "int", std::string(a.name), r, it->second.text);
          v = iv ? *iv : ConstValue::of_int(0);
        } else if (a.type == AttrType::Float && v.is_int()) {
          v = ConstValue::of_float(static_cast<double>(v.as_int()));
        } else if (!attr_value_fits(a.type, v)) {
          std::string msg = std::string(a.name) + inst.type_name + v.to_source();
          if (c_.first_report(DiagKind::attribute_type_mismatch, r, msg))
            c_.diags_.report(DiagKind::attribute_type_mismatch, r,
                             {std::string(a.name), inst.type_name, "`" + std::string(attr_type_name(a.type)) + "`", v.type_name() + " " + v.to_source()});
          v = a.default_value;
        }
        // After coercion, so `activation_bits: 8.0` is checked as the int it became.
        if (!a.choices.empty() && !is_choice(a, v)) {
          std::string choices;
          for (auto ch : a.choices) choices += (choices.empty() ? "" : ", ") + choice_source(a, ch);
          if (c_.first_report(DiagKind::attribute_bad_choice, r, v.to_source()))
            c_.diags_.report(DiagKind::attribute_bad_choice, r, {std::string(a.name), inst.type_name, choices, v.to_source()});
          v = a.default_value;
        }
      } else if (a.required) {
        if (allow_pending && a.name == inst.builtin->input_width_attr) {
          st->pending_width = std::string(a.name);
          st->pending_dim = inst.builtin->width_dim;
        } else if (c_.first_report(DiagKind::missing_attribute, inst.range, std::string(a.name))) {
          c_.diags_.report(DiagKind::missing_attribute, inst.range, {inst.type_name, std::string(a.name)});
        }
        v = a.type == AttrType::Int || a.type == AttrType::IntOrIntList ? ConstValue::of_int(1) : a.default_value;
      }
      st->attrs.values.push_back(v);
    }
    if (c_.diags_.error_count() != errors_before) st->poisoned = true;
    for (auto& child : inst.children)
      st->children.push_back(instantiate(child, owner, env, path + "." + std::to_string(st->children.size()),
                                         st->children.empty() && allow_pending, st->poisoned));
    return st;
  }
  const ir::Module& um = p_.module(*inst.user);
  const std::vector<WidthAttrs> widths = allow_pending ? stack_widths(p_, inst) : std::vector<WidthAttrs>{};
  auto width_of = [&](const std::string& name) -> const WidthAttrs* {
    for (const auto& w : widths)
      if (w.input == name) return &w;
    return nullptr;
  };
  for (const auto& k : um.constants) {
    if (!k.is_parameter) continue;
    auto it = given.find(k.name);
    if (it != given.end()) {
      auto v = c_.coerce_to_type(it->second.value, k.type, k.name, it->second.range, it->second.text);
      if (v) st->env[k.name] = *v;
      else st->env[k.name] = k.type == "int" ? ConstValue::of_int(1) : it->second.value;
    } else if (k.value) {
      if (auto v = eval(um, *k.value, st->env)) st->env[k.name] = *v;
    } else if (const WidthAttrs* w = width_of(k.name)) {
      st->pending_width = k.name;
      st->pending_dim = w->dim;
    } else {
      if (c_.first_report(DiagKind::missing_param_value, inst.range, k.name))
        c_.diags_.report(DiagKind::missing_param_value, inst.range, {inst.type_name, k.name})
            .note(DiagKind::note_declared_here, k.range, {k.name});
      st->env[k.name] = ConstValue::of_int(1);
    }
  }
  if (c_.diags_.error_count() != errors_before) st->poisoned = true;
  if (st->pending_width.empty()) materialize(*st);
  return st;
}

// Computes a user module's derived constants and instantiates its layers and tensors.
void Elaborator::materialize(LayerState& st) {
  ir::Module& m = p_.module(*st.user);
  size_t errors_before = c_.diags_.error_count();
  for (const auto& k : m.constants) {
    if (k.is_parameter || !k.value) continue;
    auto v = eval(m, *k.value, st.env);
    if (!v) {
      st.env[k.name] = ConstValue::of_int(1);
      continue;
    }
    SourceRange r = m.expr(*k.value).range;
    auto cv = c_.coerce_to_type(*v, k.type, k.name, r, shown(m, *k.value, st.env));
    st.env[k.name] = cv ? *cv : ConstValue::of_int(1);
  }
  if (c_.diags_.error_count() != errors_before) st.poisoned = true;
  std::string prefix = st.path.empty() ? "" : st.path + ".";
  for (auto& sub : m.submodules) {
    SubState ss;
    std::string base = prefix + sub.name;
    switch (sub.form) {
      case ir::SubmoduleForm::Single:
        ss.layers.push_back(instantiate(sub.instances[0], *st.user, st.env, base, false, st.poisoned));
        break;
      case ir::SubmoduleForm::Repeat: {
        auto n = eval(m, *sub.count, st.env);
        if (!n) break;
        if (!n->is_int() || n->as_int() <= 0 || n->as_int() > kMaxRepeat) {
          SourceRange r = m.expr(*sub.count).range;
          if (c_.first_report(DiagKind::bad_repeat_count, r, n->to_source()))
            c_.diags_.report(DiagKind::bad_repeat_count, r, {sub.name, n->to_source()})
                .hint(n->is_int() && n->as_int() > kMaxRepeat ? "at most 100,000 repetitions" : "");
          break;
        }
        for (int64_t i = 0; i < n->as_int() && !budget_reported_; ++i)
          ss.layers.push_back(instantiate(sub.instances[i == 0 ? 0 : 1], *st.user, st.env, base + "." + std::to_string(i), i == 0, st.poisoned));
        break;
      }
      case ir::SubmoduleForm::List:
      case ir::SubmoduleForm::Conditional: {
        std::vector<ir::Instance>* chosen = &sub.instances;
        if (sub.condition) {
          auto c = eval(m, *sub.condition, st.env);
          auto t = c ? truth(AbsValue::constant(*c)) : std::nullopt;
          if (t && !*t && sub.has_else) {
            chosen = &sub.else_instances;
          } else if (!t || !*t) {
            ss.present = false;
            break;
          }
        }
        for (size_t i = 0; i < chosen->size(); ++i)
          ss.layers.push_back(instantiate((*chosen)[i], *st.user, st.env, base + "." + std::to_string(i), i == 0, st.poisoned));
        break;
      }
    }
    st.subs.push_back(std::move(ss));
  }
  for (const auto& t : m.tensors) {
    std::vector<Dim> declared;  // params and states alike: the constructor allocates both
    for (ir::ExprId e : t.shape) {
      auto v = eval(m, e, st.env);
      declared.push_back(v && v->is_int() ? Dim::known(v->as_int()) : Dim::unknown());
    }
    if (Shape::of(declared).too_large()) {
      std::string text = "`" + Shape::of(declared).to_string() + "`";
      if (c_.first_report(DiagKind::tensor_too_large, t.range, text)) c_.diags_.report(DiagKind::tensor_too_large, t.range, {text});
    }
    if (t.is_state) continue;
    if (t.condition) {
      auto c = eval(m, *t.condition, st.env);
      if (!c || !truth(AbsValue::constant(*c)).value_or(false)) continue;
    }
    ir::ElabNode n;
    n.path = prefix + t.name;
    n.type_name = "param";
    n.is_leaf = true;
    n.called = true;
    std::vector<Dim> dims;
    int64_t count = 1;
    for (ir::ExprId e : t.shape) {
      auto v = eval(m, e, st.env);
      int64_t d = v && v->is_int() ? v->as_int() : 0;
      dims.push_back(Dim::known(d));
      count = sat_mul(count, d);
    }
    n.output = Shape::of(dims);
    n.cost.float_params = count;
    st.tensors.push_back(std::move(n));
  }
}

}  // namespace triton::check_detail

// Elaboration and shape inference. Starting from the entry model under the file's default
// values, every layer is instantiated with concrete attribute values (validated against
// the schema or the user module's typed `params`), repetitions and tables are unrolled,
// and each `forward` is interpreted abstractly on shapes: built-in layers and functions
// apply their shape rules, symbolic dimensions bind on first use, and the first mismatch
// is reported at the call with a note at the declaration involved. A stack whose first
// input width was left out gets it from the shape reaching it, and the IR instance records
// the inferred value. The result is the IR's elaborated tree (parameter counts, summary)
// and each forward value's shape, joined over all instantiations.
#include <algorithm>

#include "check/checker_impl.h"

namespace triton::check_detail {

namespace {

using ir::OpKind;
using ir::ValueId;

AbsValue join(const AbsValue& a, const AbsValue& b) {
  if (a.kind != b.kind) return AbsValue::unknown();
  if (a.kind == AbsValue::Kind::Tensor) {
    if (!a.shape.ranked || !b.shape.ranked || a.shape.rank() != b.shape.rank()) return AbsValue::tensor(Shape::unranked());
    Shape s = a.shape;
    for (size_t i = 0; i < s.rank(); ++i)
      if (!(s.dims[i] == b.shape.dims[i])) s.dims[i] = Dim::unknown();
    return AbsValue::tensor(s);
  }
  if (a.kind == AbsValue::Kind::Int) return a.dim == b.dim ? a : AbsValue::integer(Dim::unknown());
  if (a.kind == AbsValue::Kind::Const) return a.value == b.value ? a : AbsValue::unknown();
  if (a.kind == AbsValue::Kind::Tuple) {
    if (a.elems.size() != b.elems.size()) return AbsValue::unknown();
    std::vector<AbsValue> e;
    for (size_t i = 0; i < a.elems.size(); ++i) e.push_back(join(a.elems[i], b.elems[i]));
    return AbsValue::tuple(e);
  }
  return a;
}

std::optional<bool> truth(const AbsValue& v) {
  if (v.kind == AbsValue::Kind::None) return false;
  if (v.kind == AbsValue::Kind::Tensor) return true;
  auto c = v.to_const();
  if (!c) return std::nullopt;
  return !const_unary(ConstUnaryOp::Not, *c).value->as_bool();
}

// An attribute value among its schema's choices (strings, or ints written as text).
bool is_choice(const AttrSchema& a, const ConstValue& v) {
  const std::string text = v.is_str() ? v.as_str() : v.is_int() ? std::to_string(v.as_int()) : std::string();
  return std::find(a.choices.begin(), a.choices.end(), text) != a.choices.end();
}

std::string choice_source(const AttrSchema& a, std::string_view choice) {
  return a.type == AttrType::Str ? ConstValue::of_str(std::string(choice)).to_source() : std::string(choice);
}

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
      t.kind = v.value.is_float() ? VK::Float : v.value.is_bool() ? VK::Bool : v.value.is_str() ? (v.value.as_str() == "<layer>" ? VK::Module : VK::Str) : VK::Unknown;
      break;
  }
  return t;
}


}  // namespace

class Elaborator {
 public:
  Elaborator(Checker& c, ir::Program& p) : c_(c), p_(p) {}

  void run() {
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

 private:
  // Evaluates an attribute or constant expression, reporting a failure once.
  std::optional<ConstValue> eval(const ir::Module& m, ir::ExprId e, const Env& env) {
    auto r = c_.eval(m, e, env);
    if (r.value) return r.value;
    if (!r.error.empty() && c_.first_report(DiagKind::constant_error, m.expr(e).range, r.error))
      c_.diags_.report(DiagKind::constant_error, m.expr(e).range, {r.error});
    return std::nullopt;
  }

  // `out_channels * expansion` as written, followed by `(24 * 0.3)` when it is a binary
  // operation, so a non-integral result shows both operands.
  std::string shown(const ir::Module& m, ir::ExprId e, const Env& env) {
    const ir::ExprNode& n = m.expr(e);
    std::string text = c_.expr_text(n.range);
    if (n.kind != ir::ExprKind::Binary) return "`" + text + "`";
    auto a = c_.eval(m, n.operands[0], env), b = c_.eval(m, n.operands[1], env);
    if (!a.value || !b.value) return "`" + text + "`";
    std::string ops = a.value->to_source() + " " + std::string(const_binary_spelling(n.binary_op)) + " " + b.value->to_source();
    return ops == text ? "`" + text + "`" : "`" + text + "` (`" + ops + "`)";
  }

  // Elaboration materializes every layer; a program that expands to absurdly many (nested
  // repeats) is reported once instead of exhausting memory.
  static constexpr int64_t kMaxRepeat = 100'000;
  static constexpr int64_t kMaxLayers = 1'000'000;
  bool budget_exhausted(SourceRange at) {
    if (++layers_made_ <= kMaxLayers) return false;
    if (!budget_reported_) {
      budget_reported_ = true;
      c_.diags_.report(DiagKind::constant_error, at, {"the model expands to more than 1,000,000 layers"});
    }
    return true;
  }

  static std::string width_attr_in(const LayerState& s) {
    if (s.builtin) return std::string(s.builtin->input_width_attr);
    return "";
  }

  std::unique_ptr<LayerState> instantiate(ir::Instance& inst, ir::ModuleId owner, const Env& env, const std::string& path,
                                          bool allow_pending, bool poisoned = false) {
    auto st = std::make_unique<LayerState>();
    st->poisoned = poisoned;
    size_t errors_before = c_.diags_.error_count();
    st->path = path;
    st->type_name = inst.type_name;
    st->builtin = inst.builtin;
    st->user = inst.user;
    st->instance = &inst;
    st->owner = owner;
    st->range = inst.range;
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
    for (const auto& k : um.constants) {
      if (!k.is_parameter) continue;
      auto it = given.find(k.name);
      if (it != given.end()) {
        auto v = c_.coerce_to_type(it->second.value, k.type, k.name, it->second.range, it->second.text);
        if (v) st->env[k.name] = *v;
        else st->env[k.name] = k.type == "int" ? ConstValue::of_int(1) : it->second.value;
      } else if (k.value) {
        if (auto v = eval(um, *k.value, st->env)) st->env[k.name] = *v;
      } else if (allow_pending && (k.name == "in_channels" || k.name == "in_features")) {
        st->pending_width = k.name;
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
  void materialize(LayerState& st) {
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
          for (int64_t i = 0; i < n->as_int() && !budget_exhausted(m.expr(*sub.count).range); ++i)
            ss.layers.push_back(instantiate(sub.instances[i == 0 ? 0 : 1], *st.user, st.env, base + "." + std::to_string(i), i == 0, st.poisoned));
          break;
        }
        case ir::SubmoduleForm::List:
        case ir::SubmoduleForm::Conditional: {
          if (sub.condition) {
            auto c = eval(m, *sub.condition, st.env);
            auto t = c ? truth(AbsValue::constant(*c)) : std::nullopt;
            if (!t || !*t) {
              ss.present = false;
              break;
            }
          }
          for (size_t i = 0; i < sub.instances.size(); ++i)
            ss.layers.push_back(instantiate(sub.instances[i], *st.user, st.env, base + "." + std::to_string(i), i == 0, st.poisoned));
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

  // Fills a stack's missing first input width from the shape that reaches it.
  bool infer_width(LayerState& st, const AbsValue& in, SourceRange use) {
    const std::string& attr = st.pending_width;
    Dim d;
    if (in.is_tensor() && in.shape.ranked && in.shape.rank() >= 2)
      d = (attr == "in_channels" || attr == "num_features") ? in.shape.dims[1] : in.shape.dims.back();
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

  AbsValue call(LayerState& st, const std::vector<AbsValue>& args, SourceRange use, const std::string& name) {
    if (!st.pending_width.empty() && !(args.size() == 1 && infer_width(st, args[0], use))) return AbsValue::unknown();
    if (st.user) return call_user(st, args, use, false);
    if (st.builtin->is_container) {
      AbsValue v = args.empty() ? AbsValue::unknown() : args[0];
      for (auto& child : st.children) v = call(*child, {v}, use, name);
      return v;
    }
    if (args.size() != 1) {
      if (c_.first_report(DiagKind::wrong_argument_count, use, name))
        c_.diags_.report(DiagKind::wrong_argument_count, use, {name, "1", std::to_string(args.size())});
      return AbsValue::unknown();
    }
    if (!args[0].is_tensor()) {
      if (args[0].kind != AbsValue::Kind::Unknown && c_.first_report(DiagKind::argument_type_mismatch, use, name))
        c_.diags_.report(DiagKind::argument_type_mismatch, use, {"input", name, "a tensor", args[0].describe()});
      return AbsValue::unknown();
    }
    // A layer whose attributes were already reported wrong is not checked again (no cascades).
    if (st.poisoned) return AbsValue::tensor(Shape::unranked());
    ShapeRuleResult r = st.builtin->infer(st.attrs, args[0].shape);
    if (!r.error.empty()) {
      if (c_.first_report(DiagKind::shape_mismatch, use, r.error)) {
        auto b = c_.diags_.report(DiagKind::shape_mismatch, use, {r.error});
        SourceRange at = st.range;
        std::string value;
        if (!r.attr.empty()) {
          value = st.attrs.get(r.attr).to_source();
          const ir::Module& owner = p_.module(st.owner);
          for (const auto& [k, e] : st.instance->attrs)
            if (k == r.attr) at = owner.expr(e).range;
          b.note(DiagKind::note_declared_with, at, {name, std::string(r.attr), value});
        } else {
          b.note(DiagKind::note_declared_here, at, {name});
        }
      }
      return AbsValue::tensor(Shape::unranked());
    }
    if (r.out.too_large()) return checked_size(AbsValue::tensor(r.out), use);
    if (!st.called) {
      st.called = true;
      st.input = args[0].shape;
      st.output = r.out;
      st.cost = st.builtin->cost(st.attrs, st.input, st.output);
    }
    return AbsValue::tensor(r.out);
  }

  AbsValue call_user(LayerState& st, const std::vector<AbsValue>& args, SourceRange use, bool is_entry) {
    ir::Module& m = p_.module(*st.user);
    if (!m.forward) return AbsValue::unknown();
    const DeclInfo& info = c_.decls_[m.name];
    if (depth_ > 64) return AbsValue::unknown();
    ++depth_;
    Frame fr{st, m, *m.forward, {}, {}};
    fr.vals.resize(m.forward->values.size());
    if (args.size() != m.forward->arg_names.size()) {
      if (c_.first_report(DiagKind::wrong_argument_count, use, m.name))
        c_.diags_.report(DiagKind::wrong_argument_count, use, {m.name, std::to_string(m.forward->arg_names.size()), std::to_string(args.size())});
      --depth_;
      return AbsValue::unknown();
    }
    // Match actual inputs against the declared shapes, binding symbolic dimensions.
    std::vector<AbsValue> actual = args;
    for (size_t i = 0; i < args.size() && info.forward; ++i) {
      const auto& prm = info.forward->params[i];
      auto declared = c_.declared_shape(prm.type.get(), m, st.env);
      if (!declared || !declared->ranked) continue;
      if (!args[i].is_tensor() || !args[i].shape.ranked) {
        if (is_entry) actual[i] = AbsValue::tensor(*declared);
        continue;
      }
      if (!match(fr, *declared, args[i].shape, use, prm, m.name)) {
        --depth_;
        return AbsValue::tensor(Shape::unranked());
      }
    }
    std::optional<AbsValue> ret = region(fr, m.forward->body, actual);
    --depth_;
    if (!ret) return AbsValue::unknown();
    if (info.forward && info.forward->return_type && ret->is_tensor()) {
      auto declared = c_.declared_shape(info.forward->return_type.get(), m, st.env);
      if (declared && declared->ranked && ret->shape.ranked) {
        ast::ForwardParam fake;
        fake.name.name = "return value";
        fake.range = info.forward->return_type->range;
        match(fr, *declared, ret->shape, last_return_, fake, m.name, true);
      }
    }
    auto& vals = seen_[st.user->index];
    vals.resize(fr.vals.size());
    for (size_t i = 0; i < fr.vals.size(); ++i) {
      if (!fr.vals[i]) continue;
      vals[i] = vals[i] ? join(*vals[i], *fr.vals[i]) : *fr.vals[i];
    }
    return *ret;
  }

  struct Frame {
    LayerState& st;
    ir::Module& m;
    ir::Function& f;
    std::vector<std::optional<AbsValue>> vals;
    std::map<std::string, Dim> symbols;
  };

  bool match(Frame& fr, const Shape& declared, const Shape& actual, SourceRange use, const ast::ForwardParam& prm,
             const std::string& mod, bool is_return = false) {
    auto note = [&](DiagnosticBuilder& b) {
      if (is_return) b.note(DiagKind::note_return_type, prm.range, {mod});
      else b.note(DiagKind::note_declared_here, prm.range, {prm.name.name});
    };
    if (declared.rank() != actual.rank()) {
      std::string msg = mod + declared.to_string() + actual.to_string();
      if (c_.first_report(DiagKind::rank_mismatch, use, msg)) {
        auto b = c_.diags_.report(DiagKind::rank_mismatch, use, {mod, std::to_string(declared.rank()), actual.to_string()});
        note(b);
      }
      return false;
    }
    for (size_t d = 0; d < declared.rank(); ++d) {
      const Dim& want = declared.dims[d];
      const Dim& got = actual.dims[d];
      if (want.kind == Dim::Kind::Known) {
        if (got.is_known() && got.size != want.size) {
          std::string msg = "`" + mod + "` expects " + (is_return ? std::string("to return") : "`" + prm.name.name + "` to be") + " a tensor of shape " + declared.to_string() + ", got " + actual.to_string();
          if (c_.first_report(DiagKind::shape_mismatch, use, msg)) {
            auto b = c_.diags_.report(DiagKind::shape_mismatch, use, {msg});
            note(b);
          }
          return false;
        }
      } else if (want.kind == Dim::Kind::Symbol) {
        auto it = fr.symbols.find(want.symbol);
        if (it == fr.symbols.end()) {
          fr.symbols[want.symbol] = got;
        } else if (it->second.kind != Dim::Kind::Unknown && got.kind != Dim::Kind::Unknown && !(it->second == got)) {
          std::string msg = want.symbol + got.to_string() + it->second.to_string();
          if (c_.first_report(DiagKind::symbolic_dim_conflict, use, msg)) {
            auto b = c_.diags_.report(DiagKind::symbolic_dim_conflict, use, {want.symbol, got.to_string(), it->second.to_string()});
            note(b);
          }
          return false;
        }
      }
    }
    return true;
  }

  const AbsValue& val(Frame& fr, ValueId v) {
    static const AbsValue unknown;
    return fr.vals[v.index] ? *fr.vals[v.index] : unknown;
  }

  // Interprets a region; returns the returned value (body) or nothing.
  std::optional<AbsValue> region(Frame& fr, ir::RegionId r, const std::vector<AbsValue>& args) {
    for (ir::OpId id : fr.f.region(r).ops) {
      const ir::Op& op = fr.f.op(id);
      auto set = [&](AbsValue v) { fr.vals[op.results[0].index] = std::move(v); };
      auto in = [&](size_t i) -> const AbsValue& { return val(fr, op.operands[i]); };
      switch (op.kind) {
        case OpKind::Input: {
          uint32_t i = ir::attrs_of<ir::InputAttrs>(op).index;
          set(i < args.size() ? args[i] : AbsValue::unknown());
          break;
        }
        case OpKind::Constant: set(AbsValue::constant(ir::attrs_of<ir::ConstantAttrs>(op).value)); break;
        case OpKind::ConstRef: {
          auto it = fr.st.env.find(ir::attrs_of<ir::ConstRefAttrs>(op).name);
          set(it == fr.st.env.end() ? AbsValue::unknown() : AbsValue::constant(it->second));
          break;
        }
        case OpKind::TensorRef: {
          const std::string& n = ir::attrs_of<ir::TensorRefAttrs>(op).name;
          AbsValue v = AbsValue::none();
          const ir::TensorDecl* t = fr.m.find_tensor(n);
          bool present = true;
          if (t->condition) {
            auto c = c_.eval(fr.m, *t->condition, fr.st.env);
            present = c.value && truth(AbsValue::constant(*c.value)).value_or(false);
          }
          if (present) {
            std::vector<Dim> dims;
            for (ir::ExprId e : t->shape) {
              auto c = c_.eval(fr.m, e, fr.st.env);
              dims.push_back(c.value && c.value->is_int() ? Dim::known(c.value->as_int()) : Dim::unknown());
            }
            v = AbsValue::tensor(Shape::of(dims));
          }
          set(v);
          break;
        }
        case OpKind::LayerRef: {
          const std::string& n = ir::attrs_of<ir::LayerRefAttrs>(op).submodule;
          size_t idx = static_cast<size_t>(fr.m.find_submodule(n) - fr.m.submodules.data());
          bool present = idx < fr.st.subs.size() && fr.st.subs[idx].present;
          set(present ? AbsValue::constant(ConstValue::of_str("<layer>")) : AbsValue::none());
          break;
        }
        case OpKind::CallLayer: {
          const auto& a = ir::attrs_of<ir::CallLayerAttrs>(op);
          size_t idx = static_cast<size_t>(fr.m.find_submodule(a.submodule) - fr.m.submodules.data());
          std::vector<AbsValue> xs;
          for (size_t i = 0; i < op.operands.size(); ++i) xs.push_back(in(i));
          if (idx >= fr.st.subs.size()) {
            set(AbsValue::unknown());
            break;
          }
          SubState& ss = fr.st.subs[idx];
          if (!ss.present) {
            if (c_.first_report(DiagKind::not_callable, op.range, a.submodule))
              c_.diags_.report(DiagKind::not_callable, op.range, {a.submodule, "None here (its condition is false)"})
                  .hint("guard the call with `if " + a.submodule + " is not None { ... }`");
            set(AbsValue::unknown());
            break;
          }
          AbsValue v;
          bool first = true;
          for (auto& layer : ss.layers) {
            v = call(*layer, first ? xs : std::vector<AbsValue>{v}, op.range, a.submodule);
            first = false;
          }
          if (ss.layers.empty()) v = AbsValue::unknown();
          set(v);
          break;
        }
        case OpKind::CallFunction: set(function(fr, op)); break;
        case OpKind::Binary: set(binary(op, in(0), in(1))); break;
        case OpKind::Unary: {
          const AbsValue& x = in(0);
          auto k = ir::attrs_of<ir::UnaryAttrs>(op).op;
          if (x.is_tensor()) set(x);
          else if (auto c = x.to_const()) {
            auto res = const_unary(k == ir::UnaryKind::Not ? ConstUnaryOp::Not : k == ir::UnaryKind::Neg ? ConstUnaryOp::Neg : ConstUnaryOp::Plus, *c);
            set(res.value ? AbsValue::constant(*res.value) : AbsValue::unknown());
          } else set(AbsValue::unknown());
          break;
        }
        case OpKind::IsNone: {
          const AbsValue& x = in(0);
          bool neg = ir::attrs_of<ir::IsNoneAttrs>(op).negated;
          if (x.kind == AbsValue::Kind::Unknown) set(AbsValue::unknown());
          else set(AbsValue::constant(ConstValue::of_bool((x.kind == AbsValue::Kind::None) != neg)));
          break;
        }
        case OpKind::Member: {
          const AbsValue& x = in(0);
          if (x.is_tensor() && x.shape.ranked) {
            std::vector<AbsValue> e;
            for (const Dim& d : x.shape.dims) e.push_back(AbsValue::integer(d));
            set(AbsValue::tuple(e));
          } else set(AbsValue::unknown());
          break;
        }
        case OpKind::Index: set(index(fr, op)); break;
        case OpKind::MakeTuple:
        case OpKind::MakeList: {
          std::vector<AbsValue> e;
          for (size_t i = 0; i < op.operands.size(); ++i) e.push_back(in(i));
          set(AbsValue::tuple(e));
          break;
        }
        case OpKind::TupleGet: {
          const AbsValue& x = in(0);
          const auto& ta = ir::attrs_of<ir::TupleGetAttrs>(op);
          uint32_t i = ta.index;
          if (x.kind == AbsValue::Kind::Tuple) {
            if (ta.count && x.elems.size() != ta.count) {
              if (c_.first_report(DiagKind::unpack_mismatch, op.range, x.describe()))
                c_.diags_.report(DiagKind::unpack_mismatch, op.range, {x.describe(), std::to_string(ta.count)});
              set(AbsValue::unknown());
            } else if (i < x.elems.size()) {
              set(x.elems[i]);
            } else {
              set(AbsValue::unknown());
            }
          } else if (x.is_tensor() && x.shape.ranked && x.shape.rank() > 0) {
            set(AbsValue::tensor(Shape::of({x.shape.dims.begin() + 1, x.shape.dims.end()})));
          } else set(AbsValue::unknown());
          break;
        }
        case OpKind::Select: {
          auto t = truth(in(0));
          set(t ? (*t ? in(1) : in(2)) : join(in(1), in(2)));
          break;
        }
        case OpKind::If: {
          auto t = truth(in(0));
          std::vector<AbsValue> res;
          auto run_branch = [&](ir::RegionId sub) {
            region(fr, sub, args);
            const auto& ops = fr.f.region(sub).ops;
            std::vector<AbsValue> out;
            if (!ops.empty()) {
              const ir::Op& y = fr.f.op(ops.back());
              for (ValueId v : y.operands) out.push_back(val(fr, v));
            }
            return out;
          };
          if (t) res = run_branch(op.regions[*t ? 0 : 1]);
          else {
            auto a = run_branch(op.regions[0]);
            auto b = run_branch(op.regions[1]);
            for (size_t i = 0; i < a.size() && i < b.size(); ++i) res.push_back(join(a[i], b[i]));
          }
          for (size_t i = 0; i < op.results.size(); ++i) fr.vals[op.results[i].index] = i < res.size() ? res[i] : AbsValue::unknown();
          break;
        }
        case OpKind::Yield: break;
        case OpKind::Return:
          last_return_ = op.range;
          return val(fr, op.operands[0]);
      }
    }
    return std::nullopt;
  }

  AbsValue binary(const ir::Op& op, const AbsValue& a, const AbsValue& b) {
    auto k = ir::attrs_of<ir::BinaryAttrs>(op).op;
    if (k == ir::BinaryKind::MatMul) {
      AbsValue args[2] = {a, b};
      auto r = find_builtin_function("matmul")->infer(args);
      return report_fn(r, op.range, "@");
    }
    if (a.is_tensor() || b.is_tensor()) {
      if (k == ir::BinaryKind::And || k == ir::BinaryKind::Or) return AbsValue::unknown();  // truthiness of a tensor
      if (!a.is_tensor()) return b;
      if (!b.is_tensor()) return a;
      std::string why;
      auto s = broadcast_shapes(a.shape, b.shape, &why);
      if (!s) {
        if (c_.first_report(DiagKind::shape_mismatch, op.range, why)) c_.diags_.report(DiagKind::shape_mismatch, op.range, {why});
        return AbsValue::tensor(Shape::unranked());
      }
      return AbsValue::tensor(*s);
    }
    auto x = a.to_const(), y = b.to_const();
    if (x && y) {
      static const ConstBinaryOp map[] = {ConstBinaryOp::Add, ConstBinaryOp::Sub, ConstBinaryOp::Mul, ConstBinaryOp::Div,
                                          ConstBinaryOp::FloorDiv, ConstBinaryOp::Mod, ConstBinaryOp::Pow, ConstBinaryOp::Mul,
                                          ConstBinaryOp::Eq, ConstBinaryOp::Ne, ConstBinaryOp::Lt, ConstBinaryOp::Le,
                                          ConstBinaryOp::Gt, ConstBinaryOp::Ge, ConstBinaryOp::And, ConstBinaryOp::Or};
      auto r = const_binary(map[static_cast<int>(k)], *x, *y);
      if (!r.value) {
        if (c_.first_report(DiagKind::constant_error, op.range, r.error)) c_.diags_.report(DiagKind::constant_error, op.range, {r.error});
        return AbsValue::unknown();
      }
      return AbsValue::constant(*r.value);
    }
    if (a.kind == AbsValue::Kind::Int && b.kind == AbsValue::Kind::Int) return AbsValue::integer(Dim::unknown());
    return AbsValue::unknown();
  }

  AbsValue report_fn(const FunctionResult& r, SourceRange at, const std::string& name) {
    if (r.error.empty()) return checked_size(r.value, at);
    if (c_.first_report(DiagKind::shape_mismatch, at, r.error)) c_.diags_.report(DiagKind::shape_mismatch, at, {r.error});
    (void)name;
    return AbsValue::unknown();
  }

  // A result past the size limit is an error here, where it was made; after the report it
  // continues unranked, so later uses do not report it again.
  AbsValue checked_size(const AbsValue& v, SourceRange at) {
    if (!v.is_tensor() || !v.shape.too_large()) return v;
    std::string text = "`" + v.shape.to_string() + "`";
    if (c_.first_report(DiagKind::tensor_too_large, at, text)) c_.diags_.report(DiagKind::tensor_too_large, at, {text});
    return AbsValue::tensor(Shape::unranked());
  }

  AbsValue function(Frame& fr, const ir::Op& op) {
    const auto& a = ir::attrs_of<ir::CallFunctionAttrs>(op);
    const FunctionSchema& fn = *a.function;
    std::vector<AbsValue> bound;
    std::vector<bool> set(fn.params.size());
    for (const auto& p : fn.params) bound.push_back(AbsValue::constant(p.default_value));
    size_t pos = 0;
    for (size_t i = 0; i < op.operands.size(); ++i) {
      size_t idx = pos;
      if (!a.arg_names[i].empty()) {
        for (size_t j = 0; j < fn.params.size(); ++j)
          if (fn.params[j].name == a.arg_names[i]) idx = j;
      } else {
        ++pos;
      }
      if (idx >= bound.size()) continue;
      bound[idx] = val(fr, op.operands[i]);
      const AbsValue& v = bound[idx];
      ParamKind k = fn.params[idx].kind;
      bool bad = (k == ParamKind::Tensor && v.kind != AbsValue::Kind::Tensor && v.kind != AbsValue::Kind::Unknown) ||
                 ((k == ParamKind::Int) && v.kind != AbsValue::Kind::Int && v.kind != AbsValue::Kind::Unknown);
      if (bad) {
        std::string msg = std::string(fn.params[idx].name) + v.describe();
        if (c_.first_report(DiagKind::argument_type_mismatch, op.range, msg))
          c_.diags_.report(DiagKind::argument_type_mismatch, op.range,
                           {std::string(fn.params[idx].name), std::string(fn.name), "`" + std::string(param_kind_name(k)) + "`", v.describe()});
        return AbsValue::unknown();
      }
    }
    if (fn.params[0].kind == ParamKind::Tensor && !bound[0].is_tensor()) return AbsValue::unknown();
    return report_fn(fn.infer(bound), op.range, std::string(fn.name));
  }

  AbsValue index(Frame& fr, const ir::Op& op) {
    const auto& attrs = ir::attrs_of<ir::IndexAttrs>(op);
    const AbsValue& obj = val(fr, op.operands[0]);
    size_t next = 1;
    if (obj.kind == AbsValue::Kind::Tuple && attrs.parts.size() == 1 && attrs.parts[0].kind == ir::IndexPart::Kind::Value) {
      const AbsValue& i = val(fr, op.operands[1]);
      if (i.kind == AbsValue::Kind::Int && i.dim.is_known()) {
        int64_t k = i.dim.size, n = static_cast<int64_t>(obj.elems.size());
        if (k < 0) k += n;
        if (k >= 0 && k < n) return obj.elems[k];
        std::string msg = "index " + std::to_string(i.dim.size) + " is out of range for " + obj.describe();
        if (c_.first_report(DiagKind::shape_mismatch, op.range, msg)) c_.diags_.report(DiagKind::shape_mismatch, op.range, {msg});
      }
      return AbsValue::unknown();
    }
    if (!obj.is_tensor() || !obj.shape.ranked) return obj.is_tensor() ? obj : AbsValue::unknown();
    const Shape& s = obj.shape;
    std::vector<Dim> out;
    size_t dim = 0;
    size_t consumed = 0;
    for (const auto& p : attrs.parts) consumed += p.kind != ir::IndexPart::Kind::Ellipsis;
    for (const auto& p : attrs.parts) {
      if (p.kind == ir::IndexPart::Kind::Ellipsis) {
        size_t skip = s.rank() >= consumed ? s.rank() - consumed : 0;
        for (size_t i = 0; i < skip && dim < s.rank(); ++i) out.push_back(s.dims[dim++]);
        continue;
      }
      if (dim >= s.rank()) {
        std::string msg = "too many indices for a tensor of shape " + s.to_string();
        if (c_.first_report(DiagKind::shape_mismatch, op.range, msg)) c_.diags_.report(DiagKind::shape_mismatch, op.range, {msg});
        return AbsValue::tensor(Shape::unranked());
      }
      if (p.kind == ir::IndexPart::Kind::Value) {
        const AbsValue& i = val(fr, op.operands[next++]);
        if (i.is_tensor()) return AbsValue::tensor(Shape::unranked());
        ++dim;
        continue;
      }
      std::optional<int64_t> lo = 0, hi, step = 1;
      auto known = [&](bool has) -> std::optional<int64_t> {
        if (!has) return std::nullopt;
        const AbsValue& v = val(fr, op.operands[next++]);
        if (v.kind == AbsValue::Kind::Int && v.dim.is_known()) return v.dim.size;
        return INT64_MIN;
      };
      auto l = known(p.has_lower), u = known(p.has_upper), st = known(p.has_step);
      const Dim& d = s.dims[dim++];
      bool exact = d.is_known() && (!l || *l != INT64_MIN) && (!u || *u != INT64_MIN) && (!st || (*st != INT64_MIN && *st > 0));
      if (!p.has_lower && !p.has_upper && !p.has_step) {
        out.push_back(d);
      } else if (exact) {
        int64_t n = d.size;
        int64_t a = l.value_or(0), b = u.value_or(n), k = st.value_or(1);
        if (a < 0) a += n;
        if (b < 0) b += n;
        a = std::clamp<int64_t>(a, 0, n);
        b = std::clamp<int64_t>(b, 0, n);
        out.push_back(Dim::known(b > a ? (b - a + k - 1) / k : 0));
      } else {
        out.push_back(Dim::unknown());
      }
      (void)lo; (void)hi; (void)step;
    }
    for (; dim < s.rank(); ++dim) out.push_back(s.dims[dim]);
    return AbsValue::tensor(Shape::of(out));
  }

  ir::ElabNode to_node(const LayerState& st, const std::string& type) {
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

  Checker& c_;
  ir::Program& p_;
  std::map<uint32_t, std::vector<std::optional<AbsValue>>> seen_;
  SourceRange last_return_;
  int depth_ = 0;
  int64_t layers_made_ = 0;
  bool budget_reported_ = false;
};

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

// Forward interpretation: each `forward` body is run on abstract values (shapes, known ints,
// constants, layers). Built-in layers and functions apply their schema's shape rules,
// declared input shapes bind symbolic dimensions on first use, both branches of an unknown
// condition are joined, and the first mismatch is reported at the call with a note at the
// declaration involved. Every value seen is joined into `seen_` for the IR's value types.
#include <algorithm>

#include "check/elaborator.h"
#include "diag/internal_error.h"

namespace triton::check_detail {

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
  if (v.kind == AbsValue::Kind::Tensor || v.kind == AbsValue::Kind::Module) return true;
  auto c = v.to_const();
  if (!c) return std::nullopt;
  return !const_unary(ConstUnaryOp::Not, *c).value->as_bool();
}

AbsValue Elaborator::call(LayerState& st, const std::vector<AbsValue>& args, SourceRange use, const std::string& name) {
  if (!st.builtin && !st.user) return AbsValue::unknown();  // a placeholder past the layer budget
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

AbsValue Elaborator::call_user(LayerState& st, const std::vector<AbsValue>& args, SourceRange use, bool is_entry) {
  ir::Module& m = p_.module(*st.user);
  if (!m.forward) return AbsValue::unknown();
  const DeclInfo& info = c_.decls_[m.name];
  if (depth_ > static_cast<int>(kMaxBlockNesting)) return AbsValue::unknown();  // never: order_modules bounds it
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

bool Elaborator::match(Frame& fr, const Shape& declared, const Shape& actual, SourceRange use, const ast::ForwardParam& prm,
           const std::string& mod, bool is_return) {
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

const AbsValue& Elaborator::val(Frame& fr, ValueId v) {
  static const AbsValue unknown;
  return fr.vals[v.index] ? *fr.vals[v.index] : unknown;
}

// Interprets a region; returns the returned value (body) or nothing.
std::optional<AbsValue> Elaborator::region(Frame& fr, ir::RegionId r, const std::vector<AbsValue>& args) {
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
      case OpKind::Training: set(AbsValue::unknown()); break;  // a run-time bool: both branches
      case OpKind::AssignState: {
        const std::string& n = ir::attrs_of<ir::AssignStateAttrs>(op).tensor;
        const AbsValue& v = in(0);
        const ir::TensorDecl* t = fr.m.find_tensor(n);
        std::vector<Dim> declared;
        for (ir::ExprId e : t->shape) {
          auto c = c_.eval(fr.m, e, fr.st.env);
          declared.push_back(c.value && c.value->is_int() ? Dim::known(c.value->as_int()) : Dim::unknown());
        }
        const std::string shape_text = Shape::of(declared).to_string();
        std::string msg;
        if (v.kind != AbsValue::Kind::Unknown && !v.is_tensor()) {
          msg = "`state " + n + "` is a tensor; it cannot take " + v.describe();
        } else if (v.is_tensor() && v.shape.ranked && v.shape.rank() == t->shape.size()) {
          for (size_t i = 0; i < declared.size() && msg.empty(); ++i)
            if (declared[i].is_known() && v.shape.dims[i].is_known() && v.shape.dims[i].size != declared[i].size)
              msg = "`state " + n + "` has shape " + shape_text + "; the value assigned to it has shape " + v.shape.to_string();
        } else if (v.is_tensor() && v.shape.ranked) {
          msg = "`state " + n + "` has shape " + shape_text + "; the value assigned to it has shape " + v.shape.to_string();
        }
        if (!msg.empty() && c_.first_report(DiagKind::shape_mismatch, op.range, msg))
          c_.diags_.report(DiagKind::shape_mismatch, op.range, {msg}).note(DiagKind::note_declared_here, t->range, {n});
        break;
      }
      case OpKind::LayerRef: {
        const std::string& n = ir::attrs_of<ir::LayerRefAttrs>(op).submodule;
        size_t idx = static_cast<size_t>(fr.m.find_submodule(n) - fr.m.submodules.data());
        bool present = idx < fr.st.subs.size() && fr.st.subs[idx].present;
        set(present ? AbsValue::module() : AbsValue::none());
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
      case OpKind::CallFused:  // built by the -O2 passes, which run after elaboration
        internal_error("the checker met a `call_fused` op; fusion passes run after it");
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

AbsValue Elaborator::binary(const ir::Op& op, const AbsValue& a, const AbsValue& b) {
  auto k = ir::attrs_of<ir::BinaryAttrs>(op).op;
  if (k == BinaryOp::MatMul) {
    AbsValue args[2] = {a, b};
    auto r = find_builtin_function("matmul")->infer(args);
    return report_fn(r, op.range, "@");
  }
  if (a.is_tensor() || b.is_tensor()) {
    if (k == BinaryOp::And || k == BinaryOp::Or) return AbsValue::unknown();  // truthiness of a tensor
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
    auto r = const_binary(k, *x, *y);
    if (!r.value) {
      if (c_.first_report(DiagKind::constant_error, op.range, r.error)) c_.diags_.report(DiagKind::constant_error, op.range, {r.error});
      return AbsValue::unknown();
    }
    return AbsValue::constant(*r.value);
  }
  if (a.kind == AbsValue::Kind::Int && b.kind == AbsValue::Kind::Int) return AbsValue::integer(Dim::unknown());
  return AbsValue::unknown();
}

AbsValue Elaborator::report_fn(const FunctionResult& r, SourceRange at, const std::string& name) {
  if (r.error.empty()) return checked_size(r.value, at);
  if (c_.first_report(DiagKind::shape_mismatch, at, r.error)) c_.diags_.report(DiagKind::shape_mismatch, at, {r.error});
  (void)name;
  return AbsValue::unknown();
}

// A result past the size limit is an error here, where it was made; after the report it
// continues unranked, so later uses do not report it again.
AbsValue Elaborator::checked_size(const AbsValue& v, SourceRange at) {
  if (!v.is_tensor() || !v.shape.too_large()) return v;
  std::string text = "`" + v.shape.to_string() + "`";
  if (c_.first_report(DiagKind::tensor_too_large, at, text)) c_.diags_.report(DiagKind::tensor_too_large, at, {text});
  return AbsValue::tensor(Shape::unranked());
}

AbsValue Elaborator::function(Frame& fr, const ir::Op& op) {
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

AbsValue Elaborator::index(Frame& fr, const ir::Op& op) {
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

}  // namespace triton::check_detail

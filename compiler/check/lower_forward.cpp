// Lowers a `forward` body to IR ops. Names resolve innermost first and flow-sensitively:
// local variables as assigned so far, then the declaration's layers, its `param`/`state`
// tensors, its constants and parameters, then built-in functions. In `qkv = qkv(x)` the
// right side is lowered before the assignment, so the call sees the layer and later uses
// see the local. An `if` statement becomes an `if` op whose results are the locals either
// branch reassigns. An expression that failed to lower is poisoned (nullopt) so that one
// mistake is reported once, not at every later use.
#include <algorithm>

#include "check/checker_impl.h"
#include "diag/edit_distance.h"

namespace triton::check_detail {

namespace {

using ir::OpKind;
using ir::ValueId;

class ForwardLowering {
 public:
  ForwardLowering(Checker& c, ir::Module& m, const DeclInfo& info) : c_(c), m_(m), info_(info) {}

  ir::Function run(const ast::ForwardItem& fwd) {
    f_.body = f_.new_region();
    cur_ = f_.body;
    for (size_t i = 0; i < fwd.params.size(); ++i) {
      const auto& p = fwd.params[i];
      ValueId v = emit(OpKind::Input, ir::InputAttrs{p.name.name, static_cast<uint32_t>(i)}, {}, p.range);
      f_.value(v).name_hint = p.name.name;
      f_.arg_names.push_back(p.name.name);
      ir::ValueType t;
      t.kind = ir::ValueType::Kind::Tensor;
      f_.arg_types.push_back(t);
      locals_[p.name.name] = v;
    }
    block(fwd.body);
    if (!returned_) c_.diags_.report(DiagKind::missing_return, fwd.keyword_range, {m_.name});
    for (const auto& sub : m_.submodules)
      if (!used_layers_.count(sub.name)) c_.diags_.report(DiagKind::layer_not_called, sub.range, {sub.name});
    return std::move(f_);
  }

 private:
  ValueId emit(OpKind kind, ir::OpAttrs attrs, std::vector<ValueId> operands, SourceRange range, size_t results = 1) {
    ir::OpId id = f_.append(cur_, kind, std::move(attrs), std::move(operands), results, range);
    return results ? f_.op(id).results[0] : ValueId();
  }

  void block(const ast::StmtBlock& b) {
    for (const auto& s : b.stmts) {
      if (returned_) break;  // unreachable statements after `return` are ignored
      stmt(*s);
    }
  }

  void bind(const std::string& name, std::optional<ValueId> v) {
    if (!v) {
      poisoned_.insert(name);
      locals_.erase(name);
      return;
    }
    poisoned_.erase(name);
    locals_[name] = *v;
    if (f_.value(*v).name_hint.empty()) f_.value(*v).name_hint = name;
  }

  void assign(const ast::Expr& target, const ast::Expr& value) {
    if (auto* n = ast::dyn_cast<ast::NameExpr>(&target)) {
      bind(n->name, expr(value));
      return;
    }
    if (auto* t = ast::dyn_cast<ast::TupleExpr>(&target)) {
      std::vector<std::string> names;
      for (const auto& e : t->elements) {
        auto* n = ast::dyn_cast<ast::NameExpr>(e.get());
        if (!n) {
          c_.diags_.report(DiagKind::unsupported_expression, e->range, {"unpacking into anything but names"});
          return;
        }
        names.push_back(n->name);
      }
      // `q, k, v = t[0], t[1], t[2]`: element by element, no tuple in between.
      if (auto* vt = ast::dyn_cast<ast::TupleExpr>(&value)) {
        if (vt->elements.size() != names.size()) {
          c_.diags_.report(DiagKind::unpack_mismatch, value.range, {std::to_string(vt->elements.size()) + " values", std::to_string(names.size())});
          for (const auto& n : names) bind(n, std::nullopt);
          return;
        }
        std::vector<std::optional<ValueId>> vals;
        for (const auto& e : vt->elements) vals.push_back(expr(*e));
        for (size_t i = 0; i < names.size(); ++i) bind(names[i], vals[i]);
        return;
      }
      auto v = expr(value);
      for (size_t i = 0; i < names.size(); ++i)
        bind(names[i], v ? std::optional<ValueId>(emit(OpKind::TupleGet, ir::TupleGetAttrs{static_cast<uint32_t>(i), static_cast<uint32_t>(names.size())}, {*v}, target.range))
                         : std::nullopt);
      return;
    }
    c_.diags_.report(DiagKind::unsupported_expression, target.range, {"assignment to `" + c_.expr_text(target.range) + "`"});
  }

  void stmt(const ast::Stmt& s) {
    switch (s.kind) {
      case ast::StmtKind::Assign: {
        const auto& a = ast::cast<ast::AssignStmt>(s);
        assign(*a.target, *a.value);
        break;
      }
      case ast::StmtKind::AugAssign: {
        const auto& a = ast::cast<ast::AugAssignStmt>(s);
        auto* n = ast::dyn_cast<ast::NameExpr>(a.target.get());
        if (!n) {
          c_.diags_.report(DiagKind::unsupported_expression, a.target->range, {"augmented assignment to `" + c_.expr_text(a.target->range) + "`"});
          break;
        }
        auto lhs = expr(*a.target);
        auto rhs = expr(*a.value);
        std::optional<ValueId> r;
        if (lhs && rhs) r = emit(OpKind::Binary, ir::BinaryAttrs{a.op}, {*lhs, *rhs}, s.range);
        bind(n->name, r);
        break;
      }
      case ast::StmtKind::If: if_stmt(ast::cast<ast::IfStmt>(s)); break;
      case ast::StmtKind::Return: {
        const auto& r = ast::cast<ast::ReturnStmt>(s);
        if (cur_ != f_.body) {
          c_.diags_.report(DiagKind::unsupported_expression, s.range, {"`return` inside `if`"});
          break;
        }
        std::optional<ValueId> v;
        if (!r.value) {
          c_.diags_.report(DiagKind::missing_return, s.range, {m_.name});
          break;
        }
        v = expr(*r.value);
        returned_ = true;
        if (v) emit(OpKind::Return, ir::ReturnAttrs{}, {*v}, s.range, 0);
        else emit(OpKind::Return, ir::ReturnAttrs{}, {emit(OpKind::Constant, ir::ConstantAttrs{}, {}, s.range)}, s.range, 0);
        break;
      }
      case ast::StmtKind::ExprStmt: (void)expr(*ast::cast<ast::ExprStmt>(s).expr); break;
    }
  }

  void if_stmt(const ast::IfStmt& s) {
    auto cond = expr(*s.condition);
    auto before = locals_;
    auto poisoned_before = poisoned_;
    ir::RegionId saved = cur_;
    ir::RegionId then_r = f_.new_region(), else_r = f_.new_region();
    cur_ = then_r;
    block(s.then_body);
    auto then_locals = locals_;
    auto then_poisoned = poisoned_;
    locals_ = before;
    poisoned_ = poisoned_before;
    cur_ = else_r;
    if (s.has_else) block(s.else_body);
    auto else_locals = locals_;
    cur_ = saved;
    // Locals that exist after both branches and differ from before (or between branches).
    std::vector<std::string> merged;
    for (const auto& [name, tv] : then_locals) {
      auto ev = else_locals.find(name);
      if (ev == else_locals.end()) continue;
      auto bv = before.find(name);
      if (tv != ev->second || bv == before.end() || bv->second != tv) merged.push_back(name);
    }
    std::vector<ValueId> then_vals, else_vals;
    for (const auto& n : merged) {
      then_vals.push_back(then_locals[n]);
      else_vals.push_back(else_locals[n]);
    }
    cur_ = then_r;
    emit(OpKind::Yield, ir::YieldAttrs{}, then_vals, s.then_body.range, 0);
    cur_ = else_r;
    emit(OpKind::Yield, ir::YieldAttrs{}, else_vals, s.has_else ? s.else_body.range : s.range, 0);
    cur_ = saved;
    locals_ = before;
    for (const auto& n : poisoned_) then_poisoned.insert(n);
    poisoned_ = then_poisoned;
    if (!cond) {
      for (const auto& n : merged) bind(n, std::nullopt);
      return;
    }
    ir::OpId id = f_.append(cur_, OpKind::If, ir::IfAttrs{}, {*cond}, merged.size(), s.range);
    f_.op(id).regions = {then_r, else_r};
    for (size_t i = 0; i < merged.size(); ++i) {
      ValueId r = f_.op(id).results[i];
      f_.value(r).name_hint = merged[i];
      bind(merged[i], r);
    }
  }

  std::vector<std::string_view> visible_names() const {
    std::vector<std::string_view> names;
    for (const auto& [k, v] : locals_) names.push_back(k);
    for (const auto& [k, v] : info_.layers) names.push_back(k);
    for (const auto& [k, v] : info_.tensors) names.push_back(k);
    for (const auto& [k, v] : info_.constant_ranges) names.push_back(k);
    for (const auto& fn : builtin_functions()) names.push_back(fn.name);
    return names;
  }

  std::optional<ValueId> name(const ast::NameExpr& n) {
    if (poisoned_.count(n.name)) return std::nullopt;
    if (auto it = locals_.find(n.name); it != locals_.end()) return it->second;
    if (m_.find_submodule(n.name)) used_layers_.insert(n.name);
    if (m_.find_submodule(n.name)) return emit(OpKind::LayerRef, ir::LayerRefAttrs{n.name}, {}, n.range);
    if (info_.layers.count(n.name)) return std::nullopt;  // a layer whose declaration failed
    if (m_.find_tensor(n.name)) return emit(OpKind::TensorRef, ir::TensorRefAttrs{n.name}, {}, n.range);
    if (info_.tensors.count(n.name)) return std::nullopt;
    if (m_.find_constant(n.name)) return emit(OpKind::ConstRef, ir::ConstRefAttrs{n.name}, {}, n.range);
    if (find_builtin_function(n.name)) {
      c_.diags_.report(DiagKind::unsupported_expression, n.range, {"the function `" + n.name + "` used as a value"});
      return std::nullopt;
    }
    auto names = visible_names();
    c_.diags_.report(DiagKind::undefined_name, n.range, {n.name}).hint(did_you_mean(n.name, names));
    poisoned_.insert(n.name);
    return std::nullopt;
  }

  // Lowers every argument; nullopt if any failed. Names go to `arg_names`.
  std::optional<std::vector<ValueId>> args(const ast::CallExpr& call, std::vector<std::string>& arg_names) {
    std::vector<ValueId> out;
    bool ok = true;
    for (const auto& a : call.args) {
      auto v = expr(*a.value);
      if (!v) ok = false;
      else out.push_back(*v);
      arg_names.push_back(a.is_named() ? a.name.name : "");
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::optional<ValueId> call(const ast::CallExpr& call) {
    auto* callee = ast::dyn_cast<ast::NameExpr>(call.callee.get());
    if (!callee) {
      c_.diags_.report(DiagKind::unsupported_expression, call.callee->range, {"calling `" + c_.expr_text(call.callee->range) + "`"})
          .hint("use the built-in functions, e.g. `flatten(x, start_dim: 1)` rather than methods");
      return std::nullopt;
    }
    const std::string& n = callee->name;
    auto not_callable = [&](const std::string& what) {
      c_.diags_.report(DiagKind::not_callable, callee->range, {n, what});
      return std::nullopt;
    };
    if (poisoned_.count(n)) return std::nullopt;
    if (locals_.count(n)) return not_callable("a local value");
    if (const ir::Submodule* sub = m_.find_submodule(n)) {
      std::vector<std::string> names;
      auto a = args(call, names);
      if (!a) return std::nullopt;
      for (const auto& nm : names)
        if (!nm.empty()) {
          c_.diags_.report(DiagKind::unsupported_expression, call.range, {"a named argument to a layer"});
          return std::nullopt;
        }
      used_layers_.insert(sub->name);
      return emit(OpKind::CallLayer, ir::CallLayerAttrs{sub->name, names}, *a, call.range);
    }
    if (info_.layers.count(n)) return std::nullopt;
    if (m_.find_tensor(n) || info_.tensors.count(n)) return not_callable("a tensor");
    if (m_.find_constant(n)) return not_callable("a constant");
    if (const FunctionSchema* fn = find_builtin_function(n)) return function_call(call, *fn);
    if (find_builtin_layer(n) || c_.decls_.count(n))
    {
      c_.diags_.report(DiagKind::not_callable, callee->range, {n, "a layer type"})
          .hint("declare an instance with `layer name: " + n + " { ... }` and call that");
      return std::nullopt;
    }
    auto names = visible_names();
    c_.diags_.report(DiagKind::undefined_name, callee->range, {n}).hint(did_you_mean(n, names));
    return std::nullopt;
  }

  std::optional<ValueId> function_call(const ast::CallExpr& call, const FunctionSchema& fn) {
    size_t positional = 0;
    std::vector<bool> bound(fn.params.size());
    bool ok = true;
    for (const auto& a : call.args) {
      if (!a.is_named()) {
        if (positional >= fn.params.size()) {
          c_.diags_.report(DiagKind::wrong_argument_count, call.range,
                           {std::string(fn.name), "at most " + std::to_string(fn.params.size()), std::to_string(call.args.size())});
          return std::nullopt;
        }
        bound[positional++] = true;
        continue;
      }
      auto it = std::find_if(fn.params.begin(), fn.params.end(), [&](const FunctionParam& p) { return p.name == a.name.name; });
      if (it == fn.params.end()) {
        std::vector<std::string_view> pn;
        for (const auto& p : fn.params) pn.push_back(p.name);
        c_.diags_.report(DiagKind::unknown_argument, a.name.range, {std::string(fn.name), a.name.name}).hint(did_you_mean(a.name.name, pn));
        ok = false;
        continue;
      }
      size_t idx = static_cast<size_t>(it - fn.params.begin());
      if (bound[idx]) {
        c_.diags_.report(DiagKind::duplicate_attribute, a.name.range, {a.name.name});
        ok = false;
      }
      bound[idx] = true;
    }
    for (size_t i = 0; i < fn.params.size() && ok; ++i)
      if (fn.params[i].required && !bound[i]) {
        c_.diags_.report(DiagKind::missing_argument, call.range, {std::string(fn.name), std::string(fn.params[i].name)})
            .hint("it is `" + std::string(fn.name) + "(" + param_list(fn) + ")`");
        ok = false;
      }
    if (!ok) return std::nullopt;
    std::vector<std::string> names;
    auto a = args(call, names);
    if (!a) return std::nullopt;
    return emit(OpKind::CallFunction, ir::CallFunctionAttrs{&fn, names}, *a, call.range);
  }

  static std::string param_list(const FunctionSchema& fn) {
    std::string s;
    for (const auto& p : fn.params) s += (s.empty() ? "" : ", ") + std::string(p.name) + (p.required ? "" : "=" + p.default_value.to_source());
    return s;
  }

  std::optional<ValueId> expr(const ast::Expr& e) {
    switch (e.kind) {
      case ast::ExprKind::Number: {
        const auto& n = ast::cast<ast::NumberExpr>(e);
        return emit(OpKind::Constant, ir::ConstantAttrs{n.is_integer ? ConstValue::of_int(n.int_value) : ConstValue::of_float(n.float_value)}, {}, e.range);
      }
      case ast::ExprKind::String: return emit(OpKind::Constant, ir::ConstantAttrs{ConstValue::of_str(ast::cast<ast::StringExpr>(e).value)}, {}, e.range);
      case ast::ExprKind::Bool: return emit(OpKind::Constant, ir::ConstantAttrs{ConstValue::of_bool(ast::cast<ast::BoolExpr>(e).value)}, {}, e.range);
      case ast::ExprKind::None: return emit(OpKind::Constant, ir::ConstantAttrs{}, {}, e.range);
      case ast::ExprKind::Name: return name(ast::cast<ast::NameExpr>(e));
      case ast::ExprKind::Unary: {
        const auto& u = ast::cast<ast::UnaryExpr>(e);
        auto v = expr(*u.operand);
        if (!v) return std::nullopt;
        ir::UnaryKind k = u.op == ast::UnaryOp::Negate ? ir::UnaryKind::Neg : (u.op == ast::UnaryOp::Plus ? ir::UnaryKind::Plus : ir::UnaryKind::Not);
        return emit(OpKind::Unary, ir::UnaryAttrs{k}, {*v}, e.range);
      }
      case ast::ExprKind::Binary: {
        const auto& b = ast::cast<ast::BinaryExpr>(e);
        if (b.op == BinaryOp::Is || b.op == BinaryOp::IsNot) {
          if (!ast::isa<ast::NoneExpr>(b.rhs.get())) {
            c_.diags_.report(DiagKind::unsupported_expression, b.op_range, {"`is` with anything but `None`"});
            return std::nullopt;
          }
          auto v = expr(*b.lhs);
          if (!v) return std::nullopt;
          return emit(OpKind::IsNone, ir::IsNoneAttrs{b.op == BinaryOp::IsNot}, {*v}, e.range);
        }
        auto l = expr(*b.lhs);
        auto r = expr(*b.rhs);
        if (!l || !r) return std::nullopt;
        return emit(OpKind::Binary, ir::BinaryAttrs{b.op}, {*l, *r}, e.range);
      }
      case ast::ExprKind::Conditional: {
        const auto& c = ast::cast<ast::ConditionalExpr>(e);
        auto cond = expr(*c.condition);
        auto t = expr(*c.then_value);
        auto f = expr(*c.else_value);
        if (!cond || !t || !f) return std::nullopt;
        return emit(OpKind::Select, ir::SelectAttrs{}, {*cond, *t, *f}, e.range);
      }
      case ast::ExprKind::Call: return call(ast::cast<ast::CallExpr>(e));
      case ast::ExprKind::Member: {
        const auto& mem = ast::cast<ast::MemberExpr>(e);
        if (mem.member.name != "shape") {
          c_.diags_.report(DiagKind::unsupported_expression, mem.member.range, {"the attribute `" + mem.member.name + "`"})
              .hint("only `.shape` is available on tensors");
          return std::nullopt;
        }
        auto v = expr(*mem.object);
        if (!v) return std::nullopt;
        return emit(OpKind::Member, ir::MemberAttrs{mem.member.name}, {*v}, e.range);
      }
      case ast::ExprKind::Index: {
        const auto& ix = ast::cast<ast::IndexExpr>(e);
        auto obj = expr(*ix.object);
        std::vector<ValueId> operands;
        ir::IndexAttrs attrs;
        bool ok = obj.has_value();
        if (obj) operands.push_back(*obj);
        for (const auto& part : ix.indices) {
          ir::IndexPart p;
          if (ast::isa<ast::EllipsisExpr>(part.get())) {
            p.kind = ir::IndexPart::Kind::Ellipsis;
          } else if (auto* sl = ast::dyn_cast<ast::SliceExpr>(part.get())) {
            p.kind = ir::IndexPart::Kind::Slice;
            for (auto [ptr, flag] : {std::pair{&sl->lower, &p.has_lower}, std::pair{&sl->upper, &p.has_upper}, std::pair{&sl->step, &p.has_step}}) {
              if (!*ptr) continue;
              *flag = true;
              auto v = expr(**ptr);
              if (!v) ok = false;
              else operands.push_back(*v);
            }
          } else {
            auto v = expr(*part);
            if (!v) ok = false;
            else operands.push_back(*v);
          }
          attrs.parts.push_back(p);
        }
        if (!ok) return std::nullopt;
        return emit(OpKind::Index, attrs, operands, e.range);
      }
      case ast::ExprKind::List:
      case ast::ExprKind::Tuple: {
        const auto& elems = e.kind == ast::ExprKind::List ? ast::cast<ast::ListExpr>(e).elements : ast::cast<ast::TupleExpr>(e).elements;
        std::vector<ValueId> vs;
        bool ok = true;
        for (const auto& x : elems) {
          auto v = expr(*x);
          if (!v) ok = false;
          else vs.push_back(*v);
        }
        if (!ok) return std::nullopt;
        if (e.kind == ast::ExprKind::List) return emit(OpKind::MakeList, ir::MakeListAttrs{}, vs, e.range);
        return emit(OpKind::MakeTuple, ir::MakeTupleAttrs{}, vs, e.range);
      }
      case ast::ExprKind::Slice:
      case ast::ExprKind::Ellipsis:
      case ast::ExprKind::Map:
        c_.diags_.report(DiagKind::unsupported_expression, e.range, {"`" + c_.expr_text(e.range) + "` in `forward`"});
        return std::nullopt;
    }
    return std::nullopt;
  }

  Checker& c_;
  ir::Module& m_;
  const DeclInfo& info_;
  ir::Function f_;
  ir::RegionId cur_;
  std::map<std::string, ValueId> locals_;
  std::set<std::string> poisoned_;
  bool returned_ = false;
  std::set<std::string> used_layers_;
};

}  // namespace

void Checker::lower_forward(ir::Module& m, const DeclInfo& info, const ast::ForwardItem& fwd) {
  m.forward = ForwardLowering(*this, m, info).run(fwd);
}

}  // namespace triton::check_detail

// Lowers a `forward` body to IR ops. Names resolve innermost first and flow-sensitively:
// local variables as assigned so far, then the declaration's layers, its `param`/`state`
// tensors, its constants and parameters, then built-in functions. In `qkv = qkv(x)` the
// right side is lowered before the assignment, so the call sees the layer and later uses
// see the local. An `if` statement becomes an `if` op whose results are the locals either
// branch reassigns; an `if` with a `return` inside yields the returned value instead (the
// branch that can fall through takes the rest of the body). Method calls `x.view(b, -1)`
// lower to the built-in function's call, with PyTorch's one-by-one sizes packed into a
// list, and named arguments to a layer to positional ones. An expression that failed to
// lower is poisoned (nullopt) so that one mistake is reported once, not at every later use;
// after an error no layer is reported unused (the failed statement may have been its use).
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

  ir::Function run(const ast::ForwardItem& fwd, const ast::FnDecl* fn = nullptr) {
    f_.body = f_.new_region();
    cur_ = f_.body;
    ret_region_ = f_.body;
    if (fn) {
      ++fn_scope_;
      inlining_.push_back(fn->name.name);
    }
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
    uint32_t errors_before = c_.diags_.error_count();
    k_ = {{&fwd.body.stmts, 0}};
    run_seq();
    if (fn) {
      if (!returned_) c_.diags_.report(DiagKind::function_missing_return, fn->name.range, {fn->name.name});
      if (!recursion_.empty()) c_.diags_.report(DiagKind::recursive_function, fn->name.range, {fn->name.name, recursion_});
      return std::move(f_);
    }
    if (!returned_) c_.diags_.report(DiagKind::missing_return, fwd.keyword_range, {m_.name});
    // After an error in this body, a layer may look unused only because the statement that
    // called it failed: the warning would be a cascade, so it is left out.
    if (c_.diags_.error_count() == errors_before && !inline_failed_)
      for (const auto& sub : m_.submodules)
        if (!used_layers_.count(sub.name)) c_.diags_.report(DiagKind::layer_not_called, sub.range, {sub.name});
    return std::move(f_);
  }

 private:
  ValueId emit(OpKind kind, ir::OpAttrs attrs, std::vector<ValueId> operands, SourceRange range, size_t results = 1) {
    ir::OpId id = f_.append(cur_, kind, std::move(attrs), std::move(operands), results, range);
    return results ? f_.op(id).results[0] : ValueId();
  }

  // The statements still to lower, innermost block last. A branch of an `if` that may
  // return takes the rest of the enclosing blocks as its own continuation (see if_return).
  struct Cont {
    const std::vector<ast::StmtPtr>* stmts;
    size_t next;
  };

  void run_seq() {
    while (!returned_ && !k_.empty()) {  // unreachable statements after `return` are ignored
      Cont& top = k_.back();
      if (top.next == top.stmts->size()) {
        k_.pop_back();
        continue;
      }
      stmt(*(*top.stmts)[top.next++]);
    }
  }

  void block(const ast::StmtBlock& b) {
    auto saved = std::move(k_);
    k_ = {{&b.stmts, 0}};
    run_seq();
    k_ = std::move(saved);
  }

  static bool may_return(const ast::StmtBlock& b) {
    for (const auto& s : b.stmts) {
      if (s->kind == ast::StmtKind::Return) return true;
      if (auto* i = ast::dyn_cast<ast::IfStmt>(s.get()); i && (may_return(i->then_body) || may_return(i->else_body))) return true;
    }
    return false;
  }

  static bool always_returns(const ast::StmtBlock& b) {
    for (const auto& s : b.stmts) {
      if (s->kind == ast::StmtKind::Return) return true;
      if (auto* i = ast::dyn_cast<ast::IfStmt>(s.get()); i && i->has_else && always_returns(i->then_body) && always_returns(i->else_body))
        return true;
    }
    return false;
  }

  // `return v` here: the function's `return` in its body, else the value the enclosing
  // branch yields.
  void do_return(std::optional<ValueId> v, SourceRange range) {
    returned_ = true;
    ret_value_ = v;
    if (cur_ != ret_region_) return;  // a branch's, or an inlined function's, return
    if (!v) v = emit(OpKind::Constant, ir::ConstantAttrs{}, {}, range);
    emit(OpKind::Return, ir::ReturnAttrs{}, {*v}, range, 0);
  }

  // An `if` with a `return` inside. Every branch must end in a `return` once the rest of
  // the body is added to it: the branch that does not always return takes the remaining
  // statements (so they are lowered once), and the `if` yields the returned value.
  void if_return(const ast::IfStmt& s) {
    bool then_always = always_returns(s.then_body);
    bool else_always = s.has_else && always_returns(s.else_body);
    if (!then_always && !else_always) {
      c_.diags_.report(DiagKind::unsupported_expression, s.range, {"a `return` in only some paths of a nested `if`"})
          .hint("end both branches with `return`, or move the statements after the `if` into its `else`");
      // Lowered as a plain `if` (its returns only end their branch), so later statements
      // are still checked.
      ++partial_;
      if_stmt(s);
      --partial_;
      returned_ = false;
      ret_value_ = std::nullopt;
      return;
    }
    auto cond = expr(*s.condition);
    auto rest = std::move(k_);
    auto before = locals_;
    auto poisoned_before = poisoned_;
    ir::RegionId saved = cur_;
    std::vector<ir::RegionId> regions;
    bool ok = cond.has_value();
    static const ast::StmtBlock kEmpty;
    for (int b = 0; b < 2; ++b) {
      const ast::StmtBlock& body = b == 0 ? s.then_body : (s.has_else ? s.else_body : kEmpty);
      bool always = b == 0 ? then_always : else_always;
      locals_ = before;
      poisoned_ = poisoned_before;
      returned_ = false;
      ret_value_ = std::nullopt;
      cur_ = f_.new_region();
      regions.push_back(cur_);
      k_.clear();
      if (!always) k_ = rest;  // the rest of the body runs after this branch
      k_.push_back({&body.stmts, 0});
      run_seq();
      if (!returned_) {
        if (!partial_) c_.diags_.report(DiagKind::missing_return, s.range, {m_.name});  // else a cascade
        ok = false;
      }
      std::optional<ValueId> v = ret_value_;
      if (!v) {
        ok = false;
        v = emit(OpKind::Constant, ir::ConstantAttrs{}, {}, s.range);
      }
      emit(OpKind::Yield, ir::YieldAttrs{}, {*v}, b == 0 ? s.then_body.range : (s.has_else ? s.else_body.range : s.range), 0);
    }
    cur_ = saved;
    k_.clear();  // every path returned inside the `if`
    locals_ = before;
    poisoned_ = poisoned_before;
    if (!ok) {
      do_return(std::nullopt, s.range);
      return;
    }
    ir::OpId id = f_.append(cur_, OpKind::If, ir::IfAttrs{}, {*cond}, 1, s.range);
    f_.op(id).regions = regions;
    do_return(f_.op(id).results[0], s.range);
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

  // Whether `name` in an assignment target is one of the declaration's tensors (no local
  // of that name shadows it): a `state` is updated, a `param` is an error (reported here).
  bool assigns_tensor(const ast::NameExpr& n) {
    if (fn_scope_ != 0 || locals_.count(n.name)) return false;
    const ir::TensorDecl* t = m_.find_tensor(n.name);
    if (!t) return false;
    if (!t->is_state)
      c_.diags_.report(DiagKind::unsupported_expression, n.range,
                       {"assignment to `param " + n.name + "` (the optimizer trains params; declare it `state` to update it in forward)"});
    return true;
  }

  void assign_state(const ast::NameExpr& n, std::optional<ValueId> v, SourceRange range) {
    if (!v || !m_.find_tensor(n.name)->is_state) return;
    emit(OpKind::AssignState, ir::AssignStateAttrs{n.name}, {*v}, range, 0);
  }

  // Whether a constant expression reads a constructor parameter (directly or through
  // derived constants): such a value can change with `Model(n=...)`, so a loop over it
  // cannot be unrolled once for all instances.
  bool reads_parameter(ExprId id, int depth = 0) const {
    const ir::ExprNode& e = m_.expr(id);
    if (e.kind == ir::ExprKind::Ref) {
      const ir::ConstantDecl* c = m_.find_constant(e.name);
      if (!c || c->is_parameter || !c->value || depth > 64) return true;
      return reads_parameter(*c->value, depth + 1);
    }
    for (ExprId o : e.operands)
      if (reads_parameter(o, depth + 1)) return true;
    return false;
  }

  // `for i in range(...)`: the bounds must be ints known at compile time that no
  // constructor parameter changes; the body is lowered once per value of `i` (unrolled),
  // with `i` a constant in each copy.
  void for_stmt(const ast::ForStmt& s) {
    constexpr int64_t kMaxIterations = 1024;
    const auto* call = ast::dyn_cast<ast::CallExpr>(s.iterable.get());
    const auto* callee = call ? ast::dyn_cast<ast::NameExpr>(call->callee.get()) : nullptr;
    if (!callee || callee->name != "range" || call->args.empty() || call->args.size() > 3) {
      c_.diags_.report(DiagKind::unsupported_expression, s.iterable->range, {"a loop over anything but `range(stop)`, `range(start, stop)` or `range(start, stop, step)`"});
      return;
    }
    if (may_return(s.body)) {
      c_.diags_.report(DiagKind::unsupported_expression, s.range, {"`return` inside `for`"});
      return;
    }
    std::vector<int64_t> bounds;
    Env env;  // the constants' values under the defaults (computed in their order: the
              // cached default values are filled in only after the forward is lowered)
    for (const auto& c : m_.constants) {
      if (!c.value) continue;
      auto r = c_.eval(m_, *c.value, env);
      if (r.value) env[c.name] = *r.value;
    }
    for (const auto& a : call->args) {
      if (a.is_named()) {
        c_.diags_.report(DiagKind::unsupported_expression, a.value->range, {"a named argument to `range`"});
        return;
      }
      ExprId id = c_.lower_const_expr(m_, info_, *a.value);
      auto r = c_.eval(m_, id, env);
      if (!r.value || !r.value->is_int() || reads_parameter(id)) {
        c_.diags_.report(DiagKind::unsupported_expression, a.value->range,
                         {"a `range` bound that is not an int known at compile time (a literal or a derived constant that reads no parameter; for layers, use repetition `Type[n]`)"});
        return;
      }
      bounds.push_back(r.value->as_int());
    }
    const int64_t start = bounds.size() > 1 ? bounds[0] : 0;
    const int64_t stop = bounds.size() > 1 ? bounds[1] : bounds[0];
    const int64_t step = bounds.size() > 2 ? bounds[2] : 1;
    if (step == 0) {
      c_.diags_.report(DiagKind::unsupported_expression, call->args[2].value->range, {"a `range` step of 0"});
      return;
    }
    std::vector<int64_t> values;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (static_cast<int64_t>(values.size()) >= kMaxIterations) {
        c_.diags_.report(DiagKind::unsupported_expression, s.iterable->range, {"a `for` of more than 1024 iterations (it is unrolled)"});
        return;
      }
      values.push_back(i);
    }
    for (int64_t i : values) {
      bind(s.var.name, emit(OpKind::Constant, ir::ConstantAttrs{ConstValue::of_int(i)}, {}, s.var.range));
      block(s.body);
    }
  }

  void assign(const ast::Expr& target, const ast::Expr& value) {
    if (auto* n = ast::dyn_cast<ast::NameExpr>(&target)) {
      if (assigns_tensor(*n)) {
        assign_state(*n, expr(value), target.range);
        return;
      }
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
        const bool state = assigns_tensor(*n);
        auto lhs = expr(*a.target);
        auto rhs = expr(*a.value);
        std::optional<ValueId> r;
        if (lhs && rhs) r = emit(OpKind::Binary, ir::BinaryAttrs{a.op}, {*lhs, *rhs}, s.range);
        if (state) assign_state(*n, r, s.range);
        else bind(n->name, r);
        break;
      }
      case ast::StmtKind::If: {
        const auto& i = ast::cast<ast::IfStmt>(s);
        if (may_return(i.then_body) || (i.has_else && may_return(i.else_body))) if_return(i);
        else if_stmt(i);
        break;
      }
      case ast::StmtKind::For: for_stmt(ast::cast<ast::ForStmt>(s)); break;
      case ast::StmtKind::Return: {
        const auto& r = ast::cast<ast::ReturnStmt>(s);
        if (!r.value) {
          c_.diags_.report(DiagKind::missing_return, s.range, {m_.name});
          if (cur_ != ret_region_) do_return(std::nullopt, s.range);  // one report for the branch
          break;
        }
        do_return(expr(*r.value), s.range);
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
    if (fn_scope_ == 0) names.push_back("training");
    return names;
  }

  std::optional<ValueId> name(const ast::NameExpr& n) {
    if (poisoned_.count(n.name)) return std::nullopt;
    if (auto it = locals_.find(n.name); it != locals_.end()) return it->second;
    if (fn_scope_ == 0) {
      if (auto v = declaration_name(n)) return *v;
      if (info_.layers.count(n.name) || info_.tensors.count(n.name)) return std::nullopt;  // failed declarations
    }
    // `training`: the module's mode, known only when it runs (`if training { ... }`).
    if (fn_scope_ == 0 && n.name == "training") return emit(OpKind::Training, ir::TrainingAttrs{}, {}, n.range);
    if (find_builtin_function(n.name) || c_.functions_.count(n.name)) {
      c_.diags_.report(DiagKind::unsupported_expression, n.range, {"the function `" + n.name + "` used as a value"});
      return std::nullopt;
    }
    auto names = visible_names();
    c_.diags_.report(DiagKind::undefined_name, n.range, {n.name}).hint(did_you_mean(n.name, names));
    poisoned_.insert(n.name);
    return std::nullopt;
  }

  // A layer, tensor or constant of the declaration (not visible in a `fn`).
  std::optional<std::optional<ValueId>> declaration_name(const ast::NameExpr& n) {
    if (m_.find_submodule(n.name)) used_layers_.insert(n.name);
    if (m_.find_submodule(n.name)) return emit(OpKind::LayerRef, ir::LayerRefAttrs{n.name}, {}, n.range);
    if (info_.layers.count(n.name)) return std::nullopt;  // a layer whose declaration failed
    if (m_.find_tensor(n.name)) return emit(OpKind::TensorRef, ir::TensorRefAttrs{n.name}, {}, n.range);
    if (info_.tensors.count(n.name)) return std::nullopt;
    if (m_.find_constant(n.name)) return emit(OpKind::ConstRef, ir::ConstRefAttrs{n.name}, {}, n.range);
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

  // One argument of a call as the binding sees it: the method form's object comes first,
  // already lowered.
  struct ArgIn {
    const ast::Argument* ast = nullptr;  // null for a method's object
    std::optional<ValueId> value;        // the object's value
    SourceRange range;
    bool is_named() const { return ast && ast->is_named(); }
  };

  static std::vector<ArgIn> plain_args(const ast::CallExpr& call) {
    std::vector<ArgIn> out;
    for (const auto& a : call.args) out.push_back({&a, std::nullopt, a.range});
    return out;
  }

  // `x.view(b, -1)`, `x.mean(dim: 1)`: a built-in function with `x` as its first argument,
  // lowered exactly as the function form.
  std::optional<ValueId> method_call(const ast::CallExpr& call, const ast::MemberExpr& mem) {
    const FunctionSchema* fn = find_builtin_method(mem.member.name);
    if (!fn) {
      std::vector<std::string_view> names;
      for (const auto& f : builtin_functions())
        if (find_builtin_method(f.name)) names.push_back(f.name);
      names.push_back("view");
      c_.diags_.report(DiagKind::unknown_method, mem.member.range, {mem.member.name}).hint(did_you_mean(mem.member.name, names));
      (void)expr(*mem.object);
      return std::nullopt;
    }
    auto self = expr(*mem.object);
    std::vector<ArgIn> in{{nullptr, self, mem.object->range}};
    for (auto& a : plain_args(call)) in.push_back(a);
    if (!self) {
      for (const auto& a : call.args) (void)expr(*a.value);
      return std::nullopt;
    }
    return function_call(call, *fn, in);
  }

  // Named arguments to a layer call bind to the names of its `forward` (a user block's) or
  // to `input` / `x` (a built-in layer's one input); the IR gets them in positional order.
  std::optional<std::vector<ValueId>> layer_args(const ast::CallExpr& call, const ir::Submodule& sub) {
    bool any_named = false;
    for (const auto& a : call.args) any_named = any_named || a.is_named();
    std::vector<std::string> ignored;
    if (!any_named) return args(call, ignored);
    const ir::Instance* first = !sub.instances.empty() ? &sub.instances[0] : (!sub.else_instances.empty() ? &sub.else_instances[0] : nullptr);
    std::vector<std::string> params;
    std::vector<std::vector<std::string>> aliases;
    if (first && first->user) {
      auto it = c_.decls_.find(first->type_name);
      if (it != c_.decls_.end() && it->second.forward)
        for (const auto& p : it->second.forward->params) {
          params.push_back(p.name.name);
          aliases.push_back({p.name.name});
        }
    } else {
      params.push_back("input");
      aliases.push_back({"input", "x"});
    }
    std::vector<std::optional<ValueId>> slots(params.size());
    std::vector<bool> bound(params.size());
    bool ok = true;
    size_t positional = 0;
    for (const auto& a : call.args) {
      auto v = expr(*a.value);
      if (!v) ok = false;
      size_t idx = params.size();
      if (!a.is_named()) {
        idx = positional++;
        if (idx >= params.size()) {
          c_.diags_.report(DiagKind::wrong_argument_count, call.range,
                           {sub.name, std::to_string(params.size()), std::to_string(call.args.size())});
          return std::nullopt;
        }
      } else {
        for (size_t i = 0; i < params.size() && idx == params.size(); ++i)
          for (const auto& al : aliases[i])
            if (al == a.name.name) idx = i;
        if (idx == params.size()) {
          std::vector<std::string_view> pn;
          for (const auto& al : aliases)
            for (const auto& n : al) pn.push_back(n);
          c_.diags_.report(DiagKind::unknown_argument, a.name.range, {sub.name, a.name.name})
              .hint(did_you_mean(a.name.name, pn));
          ok = false;
          continue;
        }
        if (bound[idx]) {
          c_.diags_.report(DiagKind::duplicate_argument, a.name.range, {params[idx], sub.name});
          ok = false;
          continue;
        }
      }
      bound[idx] = true;
      slots[idx] = v;
    }
    for (size_t i = 0; i < params.size() && ok; ++i)
      if (!bound[i]) {
        c_.diags_.report(DiagKind::missing_argument, call.range, {sub.name, params[i]});
        ok = false;
      }
    if (!ok) return std::nullopt;
    std::vector<ValueId> out;
    for (const auto& s : slots) out.push_back(*s);
    return out;
  }

  std::optional<ValueId> call(const ast::CallExpr& call) {
    if (auto* mem = ast::dyn_cast<ast::MemberExpr>(call.callee.get())) return method_call(call, *mem);
    auto* callee = ast::dyn_cast<ast::NameExpr>(call.callee.get());
    if (!callee) {
      c_.diags_.report(DiagKind::unsupported_expression, call.callee->range, {"calling `" + c_.expr_text(call.callee->range) + "`"})
          .hint("call a layer, a built-in function or a method such as `x.view(b, -1)`");
      return std::nullopt;
    }
    const std::string& n = callee->name;
    auto not_callable = [&](const std::string& what) {
      c_.diags_.report(DiagKind::not_callable, callee->range, {n, what});
      return std::nullopt;
    };
    if (poisoned_.count(n)) return std::nullopt;
    if (locals_.count(n)) return not_callable("a local value");
    if (const ir::Submodule* sub = fn_scope_ ? nullptr : m_.find_submodule(n)) {
      used_layers_.insert(sub->name);
      auto a = layer_args(call, *sub);
      if (!a) return std::nullopt;
      std::vector<std::string> names(a->size());
      return emit(OpKind::CallLayer, ir::CallLayerAttrs{sub->name, names}, *a, call.range);
    }
    if (fn_scope_ == 0) {
      if (info_.layers.count(n)) return std::nullopt;
      if (m_.find_tensor(n) || info_.tensors.count(n)) return not_callable("a tensor");
      if (m_.find_constant(n)) return not_callable("a constant");
    }
    if (auto it = c_.functions_.find(n); it != c_.functions_.end()) return inline_fn(call, *it->second);
    if (const FunctionSchema* fn = find_builtin_function(n)) return function_call(call, *fn, plain_args(call));
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

  std::optional<ValueId> function_call(const ast::CallExpr& call, const FunctionSchema& fn, std::vector<ArgIn> in) {
    // PyTorch-style sizes: `reshape(x, b, -1)` is `reshape(x, [b, -1])`.
    size_t n_positional = 0;
    for (const auto& a : in) n_positional += !a.is_named();
    bool pack = fn.varargs && n_positional > 2;
    size_t positional = 0;
    std::vector<bool> bound(fn.params.size());
    bool ok = true;
    for (const auto& a : in) {
      if (!a.is_named()) {
        if (pack && positional >= 2) continue;  // packed into the second parameter
        if (positional >= fn.params.size()) {
          c_.diags_.report(DiagKind::wrong_argument_count, call.range,
                           {std::string(fn.name), "at most " + std::to_string(fn.params.size()), std::to_string(in.size())});
          return std::nullopt;
        }
        bound[positional++] = true;
        continue;
      }
      const ast::Argument& na = *a.ast;
      auto it = std::find_if(fn.params.begin(), fn.params.end(), [&](const FunctionParam& p) { return p.name == na.name.name; });
      if (it == fn.params.end()) {
        std::vector<std::string_view> pn;
        for (const auto& p : fn.params) pn.push_back(p.name);
        c_.diags_.report(DiagKind::unknown_argument, na.name.range, {std::string(fn.name), na.name.name}).hint(did_you_mean(na.name.name, pn));
        ok = false;
        continue;
      }
      size_t idx = static_cast<size_t>(it - fn.params.begin());
      if (bound[idx]) {
        c_.diags_.report(DiagKind::duplicate_argument, na.name.range, {na.name.name, std::string(fn.name)});
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
    std::vector<ValueId> vals;
    std::vector<ValueId> packed;
    SourceRange packed_range;
    size_t pack_slot = SIZE_MAX;
    size_t pos = 0;
    for (const auto& a : in) {
      auto v = a.ast ? expr(*a.ast->value) : a.value;
      if (!v) ok = false;
      if (!ok) continue;
      if (pack && !a.is_named() && pos++ >= 1) {
        if (pack_slot == SIZE_MAX) {
          pack_slot = vals.size();
          packed_range = a.range;
          names.push_back("");
          vals.push_back(*v);  // replaced by the list below
        }
        packed.push_back(*v);
        packed_range.end = a.range.end;
        continue;
      }
      names.push_back(a.is_named() ? a.ast->name.name : "");
      vals.push_back(*v);
    }
    if (!ok) return std::nullopt;
    if (pack) {
      vals[pack_slot] = emit(OpKind::MakeList, ir::MakeListAttrs{}, packed, packed_range);
    }
    return emit(OpKind::CallFunction, ir::CallFunctionAttrs{&fn, names}, vals, call.range);
  }

  // A call of a user `fn`: its arguments are lowered here, then its body in their place with
  // only the parameters (and other functions and built-ins) visible. The body's own
  // diagnostics were reported when it was checked alone, so they are muted here; shapes
  // are checked per call by the elaborator, which sees the inlined ops.
  std::optional<ValueId> inline_fn(const ast::CallExpr& call, const ast::FnDecl& fn) {
    const ast::ForwardItem& sig = *fn.signature;
    const std::string& name = fn.name.name;
    std::vector<std::optional<ValueId>> slots(sig.params.size());
    std::vector<bool> bound(sig.params.size());
    bool ok = true;
    size_t positional = 0;
    for (const auto& a : call.args) {
      auto v = expr(*a.value);
      if (!v) ok = false;
      size_t idx = sig.params.size();
      if (!a.is_named()) {
        idx = positional++;
        if (idx >= sig.params.size()) {
          c_.diags_.report(DiagKind::wrong_argument_count, call.range,
                           {name, std::to_string(sig.params.size()), std::to_string(call.args.size())});
          return std::nullopt;
        }
      } else {
        std::vector<std::string_view> pn;
        for (size_t i = 0; i < sig.params.size(); ++i) {
          pn.push_back(sig.params[i].name.name);
          if (sig.params[i].name.name == a.name.name) idx = i;
        }
        if (idx == sig.params.size()) {
          c_.diags_.report(DiagKind::unknown_argument, a.name.range, {name, a.name.name}).hint(did_you_mean(a.name.name, pn));
          ok = false;
          continue;
        }
        if (bound[idx]) {
          c_.diags_.report(DiagKind::duplicate_argument, a.name.range, {a.name.name, name});
          ok = false;
          continue;
        }
      }
      bound[idx] = true;
      slots[idx] = v;
    }
    for (size_t i = 0; i < sig.params.size() && ok; ++i)
      if (!bound[i]) {
        c_.diags_.report(DiagKind::missing_argument, call.range, {name, sig.params[i].name.name});
        ok = false;
      }
    if (!ok) return std::nullopt;
    if (std::find(inlining_.begin(), inlining_.end(), name) != inlining_.end()) {
      // Reported at the function itself, when it is checked alone.
      if (recursion_.empty()) {
        auto first = std::find(inlining_.begin(), inlining_.end(), name);
        for (auto it = first; it != inlining_.end(); ++it) recursion_ += "`" + *it + "` -> ";
        recursion_ += "`" + name + "`";
      }
      inline_failed_ = true;
      return std::nullopt;
    }
    auto saved_locals = std::move(locals_);
    auto saved_poisoned = std::move(poisoned_);
    auto saved_k = std::move(k_);
    bool saved_returned = returned_;
    auto saved_ret = ret_value_;
    ir::RegionId saved_ret_region = ret_region_;
    int saved_partial = partial_;
    locals_.clear();
    poisoned_.clear();
    for (size_t i = 0; i < sig.params.size(); ++i) locals_[sig.params[i].name.name] = *slots[i];
    k_ = {{&sig.body.stmts, 0}};
    returned_ = false;
    ret_value_ = std::nullopt;
    ret_region_ = ir::RegionId();  // no region: every `return` yields the call's value
    partial_ = 0;
    ++fn_scope_;
    inlining_.push_back(name);
    c_.diags_.mute();
    uint32_t muted_before = c_.diags_.muted_errors();
    run_seq();
    c_.diags_.unmute();
    bool failed = c_.diags_.muted_errors() != muted_before || !returned_;
    inlining_.pop_back();
    --fn_scope_;
    std::optional<ValueId> result = ret_value_;
    locals_ = std::move(saved_locals);
    poisoned_ = std::move(saved_poisoned);
    k_ = std::move(saved_k);
    returned_ = saved_returned;
    ret_value_ = saved_ret;
    ret_region_ = saved_ret_region;
    partial_ = saved_partial;
    if (failed || !result) {
      inline_failed_ = true;
      return std::nullopt;
    }
    return result;
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
  std::optional<ValueId> ret_value_;  // what the current branch returned (nullopt: failed)
  std::vector<Cont> k_;
  int partial_ = 0;  // inside an `if` already reported for returning on some paths only
  ir::RegionId ret_region_;  // where `return` is the function's own (the body)
  int fn_scope_ = 0;         // inside a `fn` body: the declaration's names are not visible
  std::vector<std::string> inlining_;  // the functions being inlined, outermost first
  std::string recursion_;              // the first call cycle found, as text
  bool inline_failed_ = false;         // a call of a `fn` failed (its errors are muted)
  std::set<std::string> used_layers_;
};

}  // namespace

void Checker::lower_forward(ir::Module& m, const DeclInfo& info, const ast::ForwardItem& fwd) {
  m.forward = ForwardLowering(*this, m, info).run(fwd);
}

void Checker::check_functions() {
  for (const auto& fn : file_.functions) {
    auto [it, fresh] = functions_.emplace(fn->name.name, fn.get());
    if (!fresh)
      diags_.report(DiagKind::duplicate_declaration, fn->name.range, {fn->name.name})
          .note(DiagKind::note_previous_declaration, it->second->name.range, {fn->name.name});
  }
  for (const auto& fn : file_.functions) {
    if (functions_[fn->name.name] != fn.get()) continue;
    ir::Module scratch;
    scratch.name = fn->name.name;
    DeclInfo info;
    (void)ForwardLowering(*this, scratch, info).run(*fn->signature, fn.get());
  }
}

}  // namespace triton::check_detail

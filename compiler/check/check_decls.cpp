// Declarations: collecting names, choosing the entry model, ordering modules so that each
// comes after what it instantiates (and rejecting recursion), and lowering constants,
// layer specifications and tensors to the IR (see checker.h for the whole flow).
#include <algorithm>
#include <cmath>

#include "check/checker_impl.h"
#include "ir/const_eval.h"
#include "diag/edit_distance.h"

namespace triton {

std::optional<ir::Program> check_program(const ast::File& file, DiagnosticEngine& diags, const CheckOptions& options) {
  return check_detail::Checker(file, diags, options).run();
}

namespace check_detail {

namespace {

std::string q(std::string_view s) { return "`" + std::string(s) + "`"; }

}  // namespace

bool Checker::first_report(DiagKind kind, SourceRange range, const std::string& message) {
  return reported_.insert({static_cast<int>(kind), range.begin, range.end, message}).second;
}

std::string Checker::expr_text(SourceRange r) const { return std::string(diags_.buffer().slice(r)); }

std::optional<ir::Program> Checker::run() {
  program_.source_name = options_.source_name;
  collect_decls();
  check_functions();
  // The entry: `--model NAME`, else the last model of the file.
  std::string entry;
  if (!options_.model_name.empty()) {
    auto it = decls_.find(options_.model_name);
    if (it == decls_.end() || it->second.decl->kind != ast::DeclKind::Model) {
      std::vector<std::string_view> models;
      for (const auto& n : decl_order_)
        if (decls_[n].decl->kind == ast::DeclKind::Model) models.push_back(n);
      diags_.report(DiagKind::unknown_model, std::nullopt, {options_.model_name}).hint(did_you_mean(options_.model_name, models));
      return std::nullopt;
    }
    entry = options_.model_name;
  } else {
    for (const auto& n : decl_order_)
      if (decls_[n].decl->kind == ast::DeclKind::Model) entry = n;
    if (entry.empty()) {
      if (!decl_order_.empty()) diags_.report(DiagKind::no_model, decls_[decl_order_.front()].decl->keyword_range);
      return std::nullopt;
    }
  }
  std::vector<std::string> order;
  for (const auto& n : decl_order_) {
    std::vector<std::string> stack;
    order_modules(n, stack, order);
  }
  for (const auto& n : order) lower_decl(decls_[n]);
  auto entry_id = decls_[entry].module;
  if (!entry_id) return std::nullopt;
  program_.entry = *entry_id;
  const DeclInfo& einfo = decls_[entry];
  for (const auto& item : einfo.decl->items) {
    if (auto* s = ast::dyn_cast<ast::SectionItem>(item.get())) {
      ConstValue v = check_section(*s, program_.module(*entry_id), einfo);
      if (s->section == ast::SectionKind::Training) program_.training = v;
      if (s->section == ast::SectionKind::Performance) program_.performance = v;
      if (s->section == ast::SectionKind::Optimization) program_.optimization = v;
      if (s->section == ast::SectionKind::Quantization && !diags_.has_errors()) apply_quantization(*s, v, program_);
    }
  }
  // Sections of other models are checked too, so their mistakes are reported.
  for (const auto& n : decl_order_) {
    if (n == entry || !decls_[n].module) continue;
    for (const auto& item : decls_[n].decl->items)
      if (auto* s = ast::dyn_cast<ast::SectionItem>(item.get())) check_section(*s, program_.module(*decls_[n].module), decls_[n]);
  }
  if (!diags_.has_errors()) elaborate_entry(program_);
  if (diags_.has_errors()) return std::nullopt;
  return std::move(program_);
}

void Checker::collect_decls() {
  for (const auto& d : file_.decls) {
    const std::string& name = d->name.name;
    if (name.empty()) continue;
    if (auto it = decls_.find(name); it != decls_.end()) {
      diags_.report(DiagKind::duplicate_declaration, d->name.range, {name})
          .note(DiagKind::note_previous_declaration, it->second.decl->name.range, {name});
      continue;
    }
    DeclInfo info;
    info.decl = d.get();
    if (find_builtin_layer(name)) {
      info.shadows_builtin = true;
      diags_.report(DiagKind::builtin_shadowed, d->name.range, {name});
    }
    auto add_constant = [&](const ast::Identifier& id) {
      if (id.empty()) return;
      if (auto it = info.constant_ranges.find(id.name); it != info.constant_ranges.end()) {
        diags_.report(DiagKind::duplicate_constant, id.range, {id.name, name})
            .note(DiagKind::note_previous_declaration, it->second, {id.name});
        return;
      }
      info.constant_ranges[id.name] = id.range;
    };
    std::function<void(const ast::LayerSpec&)> note_uses = [&](const ast::LayerSpec& spec) {
      if (!spec.type_name.empty()) info.used_modules.push_back(spec.type_name.name);
      for (const auto& c : spec.children) note_uses(*c);
    };
    for (const auto& item : d->items) {
      switch (item->kind) {
        case ast::ItemKind::HyperParam: add_constant(ast::cast<ast::HyperParamItem>(*item).name); break;
        case ast::ItemKind::Constant: add_constant(ast::cast<ast::ConstantItem>(*item).name); break;
        case ast::ItemKind::Params:
          for (const auto& p : ast::cast<ast::ParamsItem>(*item).params) add_constant(p.name);
          break;
        case ast::ItemKind::Layer: {
          const auto& l = ast::cast<ast::LayerItem>(*item);
          if (l.name.empty() || !l.spec) break;
          if (auto it = info.layers.find(l.name.name); it != info.layers.end()) {
            diags_.report(DiagKind::duplicate_layer, l.name.range, {l.name.name, name})
                .note(DiagKind::note_previous_declaration, it->second->name.range, {l.name.name});
            break;
          }
          if (auto it = info.tensors.find(l.name.name); it != info.tensors.end()) {
            diags_.report(DiagKind::duplicate_layer, l.name.range, {l.name.name, name})
                .note(DiagKind::note_previous_declaration, it->second->name.range, {l.name.name});
            break;
          }
          info.layers[l.name.name] = &l;
          note_uses(*l.spec);
          break;
        }
        case ast::ItemKind::Tensor: {
          const auto& t = ast::cast<ast::TensorItem>(*item);
          if (t.name.empty()) break;
          const ast::Identifier* prev = nullptr;
          if (auto it = info.tensors.find(t.name.name); it != info.tensors.end()) prev = &it->second->name;
          if (auto it = info.layers.find(t.name.name); it != info.layers.end()) prev = &it->second->name;
          if (prev) {
            diags_.report(DiagKind::duplicate_layer, t.name.range, {t.name.name, name})
                .note(DiagKind::note_previous_declaration, prev->range, {t.name.name});
            break;
          }
          info.tensors[t.name.name] = &t;
          break;
        }
        case ast::ItemKind::Forward:
          if (info.forward) {
            diags_.report(DiagKind::duplicate_declaration, ast::cast<ast::ForwardItem>(*item).keyword_range, {"forward"})
                .note(DiagKind::note_previous_declaration, info.forward->keyword_range, {"forward"});
            break;
          }
          info.forward = &ast::cast<ast::ForwardItem>(*item);
          break;
        case ast::ItemKind::Section: break;
      }
    }
    decl_order_.push_back(name);
    decls_[name] = std::move(info);
  }
}

// Depth-first: a module is appended after every user module its layers instantiate. A
// declaration found on the current path is recursion, reported at the first layer that
// closes the cycle; the declaration is then left out. So is one that nests blocks more than
// kMaxBlockNesting deep, reported at the layer where the chain passes the limit (the path
// is never longer than that, so neither this walk nor elaboration can overflow the stack).
// Membership is kept in sets, so a file of n declarations is ordered in O(n log n).
bool Checker::order_modules(const std::string& name, std::vector<std::string>& stack, std::vector<std::string>& order) {
  if (ordered_.count(name)) return true;
  if (failed_.count(name) && std::find(stack.begin(), stack.end(), name) == stack.end()) return false;
  auto pos = std::find(stack.begin(), stack.end(), name);
  if (pos != stack.end()) return false;
  stack.push_back(name);
  DeclInfo& info = decls_[name];
  bool ok = true;
  size_t nesting = 1;
  for (const auto& [lname, item] : info.layers) {
    const std::string& layer = lname;  // clang's lambdas cannot capture a structured binding
    std::vector<const ast::LayerSpec*> specs{item->spec.get()};
    while (!specs.empty()) {
      const ast::LayerSpec* s = specs.back();
      specs.pop_back();
      for (const auto& c : s->children) specs.push_back(c.get());
      const std::string& t = s->type_name.name;
      if (t.empty() || !decls_.count(t)) continue;
      bool closes_cycle = std::find(stack.begin(), stack.end(), t) != stack.end();
      auto too_deep = [&] {
        diags_.report(DiagKind::instantiation_too_deep, s->type_name.range, {layer, name, std::to_string(kMaxBlockNesting)});
        ok = false;
      };
      if (!closes_cycle && !ordered_.count(t) && !failed_.count(t) && stack.size() >= kMaxBlockNesting) {
        // Met on the way down (a file that declares users before what they use): every
        // later walk into the same chain would meet it again, so it is reported once.
        if (!deep_walk_reported_) too_deep();
        deep_walk_reported_ = true;
        ok = false;
        continue;
      }
      if (!order_modules(t, stack, order)) {
        // Report a cycle once, where it closes; modules that merely use it are left out quietly.
        if (ok && closes_cycle && !failed_.count(t)) {
          for (auto it = std::find(stack.begin(), stack.end(), t); it != stack.end(); ++it) failed_.insert(*it);
          std::string path;
          for (auto it = std::find(stack.begin(), stack.end(), t); it != stack.end(); ++it) path += q(*it) + " -> ";
          diags_.report(DiagKind::recursive_block, s->type_name.range, {name, "layer " + q(lname) + " (" + path + q(t) + ")"});
        }
        ok = false;
      } else if (nesting_[t] + 1 > kMaxBlockNesting) {
        too_deep();
      } else {
        nesting = std::max(nesting, nesting_[t] + 1);
      }
    }
  }
  stack.pop_back();
  if (ok) {
    order.push_back(name);
    ordered_.insert(name);
    nesting_[name] = nesting;
  } else {
    failed_.insert(name);
  }
  return ok;
}

ExprId Checker::lower_const_expr(ir::Module& m, const DeclInfo& info, const ast::Expr& e) {
  ir::ExprNode n;
  n.range = e.range;
  auto child = [&](const ast::ExprPtr& c) { return lower_const_expr(m, info, *c); };
  switch (e.kind) {
    case ast::ExprKind::Number: {
      const auto& num = ast::cast<ast::NumberExpr>(e);
      n.literal = num.is_integer ? ConstValue::of_int(num.int_value) : ConstValue::of_float(num.float_value);
      break;
    }
    case ast::ExprKind::String: n.literal = ConstValue::of_str(ast::cast<ast::StringExpr>(e).value); break;
    case ast::ExprKind::Bool: n.literal = ConstValue::of_bool(ast::cast<ast::BoolExpr>(e).value); break;
    case ast::ExprKind::None: break;
    case ast::ExprKind::Name: {
      const std::string& name = ast::cast<ast::NameExpr>(e).name;
      if (info.constant_ranges.count(name)) {
        n.kind = ir::ExprKind::Ref;
        n.name = name;
        break;
      }
      std::vector<std::string_view> names;
      for (const auto& [k, r] : info.constant_ranges) names.push_back(k);
      if (info.layers.count(name) || info.tensors.count(name))
        diags_.report(DiagKind::not_constant, e.range, {name});
      else
        diags_.report(DiagKind::undefined_name, e.range, {name}).hint(did_you_mean(name, names));
      break;
    }
    case ast::ExprKind::Unary: {
      const auto& u = ast::cast<ast::UnaryExpr>(e);
      n.kind = ir::ExprKind::Unary;
      n.unary_op = u.op == ast::UnaryOp::Negate ? ConstUnaryOp::Neg : (u.op == ast::UnaryOp::Plus ? ConstUnaryOp::Plus : ConstUnaryOp::Not);
      n.operands.push_back(child(u.operand));
      break;
    }
    case ast::ExprKind::Binary: {
      const auto& b = ast::cast<ast::BinaryExpr>(e);
      if (!const_binary_supported(b.op)) {
        diags_.report(DiagKind::unsupported_expression, b.op_range, {"operator `" + std::string(spelling(b.op)) + "` in a constant"});
        break;
      }
      n.kind = ir::ExprKind::Binary;
      n.binary_op = b.op;
      n.operands = {child(b.lhs), child(b.rhs)};
      break;
    }
    case ast::ExprKind::Conditional: {
      const auto& c = ast::cast<ast::ConditionalExpr>(e);
      n.kind = ir::ExprKind::Conditional;
      n.operands = {child(c.then_value), child(c.condition), child(c.else_value)};
      break;
    }
    case ast::ExprKind::List:
    case ast::ExprKind::Tuple: {
      n.kind = ir::ExprKind::List;
      const auto& elems = e.kind == ast::ExprKind::List ? ast::cast<ast::ListExpr>(e).elements : ast::cast<ast::TupleExpr>(e).elements;
      for (const auto& x : elems) n.operands.push_back(child(x));
      break;
    }
    case ast::ExprKind::Call: {
      const auto& c = ast::cast<ast::CallExpr>(e);
      const auto* callee = ast::dyn_cast<ast::NameExpr>(c.callee.get());
      static const std::set<std::string> allowed = {"floor_div", "min", "max", "int", "float"};
      if (!callee || !allowed.count(callee->name)) {
        diags_.report(DiagKind::not_constant, c.callee->range, {expr_text(c.callee->range)});
        break;
      }
      size_t want = callee->name == "int" || callee->name == "float" ? 1 : 2;
      if (c.args.size() != want || std::any_of(c.args.begin(), c.args.end(), [](const ast::Argument& a) { return a.is_named(); })) {
        diags_.report(DiagKind::wrong_argument_count, c.range, {callee->name, std::to_string(want), std::to_string(c.args.size())});
        break;
      }
      n.kind = ir::ExprKind::Call;
      n.name = callee->name;
      for (const auto& a : c.args) n.operands.push_back(child(a.value));
      break;
    }
    default:
      diags_.report(DiagKind::not_constant, e.range, {expr_text(e.range)});
      break;
  }
  return m.add_expr(std::move(n));
}

ConstResult Checker::eval(const ir::Module& m, ExprId id, const Env& env) {
  return ir::evaluate_constant(m, id, env);
}

// Converts a constant's value to its declared type; on failure reports at `range`, showing
// the operands of an inexact division or product.
std::optional<ConstValue> Checker::coerce_to_type(const ConstValue& v, const std::string& type, const std::string& name,
                                                  SourceRange range, const std::string& text) {
  if (type.empty()) return v;
  if (type == "int" && v.is_number()) {
    auto r = const_to_int(v);
    if (r.value) return r.value;
    std::string shown = v.is_number() ? v.to_source() : v.type_name() + " " + v.to_source();
    std::string msg = "`" + name + "` must be an int, but " + text + " is " + shown;
    if (first_report(DiagKind::not_integral, range, msg)) diags_.report(DiagKind::not_integral, range, {name, text, shown});
    return std::nullopt;
  }
  bool ok = (type == "int" && v.is_int()) || (type == "float" && v.is_number()) || (type == "bool" && v.is_bool()) || (type == "str" && v.is_str()) ||
            (type.rfind("list", 0) == 0 && v.is_list());
  if (type == "list[int]" && ok)
    for (const auto& e : v.as_list()) ok = ok && e.is_int();
  if (type == "list[float]" && ok)
    for (const auto& e : v.as_list()) ok = ok && e.is_number();
  if (!ok) {
    std::string shown = v.type_name() + " " + v.to_source();
    if (first_report(DiagKind::constant_type_mismatch, range, name + type + shown))
      diags_.report(DiagKind::constant_type_mismatch, range, {name, type, shown});
    return std::nullopt;
  }
  if (type == "float" && v.is_int()) return ConstValue::of_float(static_cast<double>(v.as_int()));
  return v;
}

namespace {

std::string type_text(const ast::TypeExpr* t) {
  if (!t) return "";
  if (t->kind == ast::TypeKind::List) return "list[" + type_text(t->element.get()) + "]";
  return t->name.name;
}

}  // namespace

void Checker::lower_decl(DeclInfo& info) {
  const ast::Decl& d = *info.decl;
  ir::Module m;
  m.name = d.name.name;
  m.kind = d.kind == ast::DeclKind::Model ? ir::ModuleKind::Model : (d.kind == ast::DeclKind::Block ? ir::ModuleKind::Block : ir::ModuleKind::Layer);
  m.range = d.range;
  std::set<std::string> seen;
  auto add = [&](const ast::Identifier& id, const ast::TypeExpr* type, const ast::Expr* value, bool is_param) {
    if (id.empty() || !seen.insert(id.name).second) return;
    ir::ConstantDecl c;
    c.name = id.name;
    c.type = type_text(type);
    static const std::set<std::string> known = {"int", "float", "bool", "str", "list", "list[int]", "list[float]", "list[str]", "list[bool]"};
    if (type && !known.count(c.type)) {
      diags_.report(DiagKind::unknown_type, type->range, {c.type});
      c.type.clear();
    }
    c.is_parameter = is_param;
    c.range = id.range;
    if (value) c.value = lower_const_expr(m, info, *value);
    m.constants.push_back(std::move(c));
  };
  for (const auto& item : d.items) {
    if (auto* h = ast::dyn_cast<ast::HyperParamItem>(item.get())) add(h->name, nullptr, h->value.get(), true);
    if (auto* p = ast::dyn_cast<ast::ParamsItem>(item.get()))
      for (const auto& pd : p->params) add(pd.name, pd.type.get(), pd.default_value.get(), true);
  }
  for (const auto& item : d.items)
    if (auto* c = ast::dyn_cast<ast::ConstantItem>(item.get())) add(c->name, c->type.get(), c->value.get(), false);
  order_constants(m);
  for (const auto& item : d.items) {
    if (auto* l = ast::dyn_cast<ast::LayerItem>(item.get()); l && l->spec && info.layers[l->name.name] == l) lower_layer(m, info, *l);
    if (auto* t = ast::dyn_cast<ast::TensorItem>(item.get()); t && info.tensors[t->name.name] == t) lower_tensor(m, info, *t);
  }
  if (info.forward) {
    lower_forward(m, info, *info.forward);
  } else if (d.kind != ast::DeclKind::Layer || !m.submodules.empty()) {
    diags_.report(DiagKind::no_forward, d.name.range, {d.name.name});
  }
  // Cache each expression's value under the defaults, for the printer and the summary.
  Env env;
  for (const auto& c : m.constants) {
    if (!c.value) continue;
    auto r = eval(m, *c.value, env);
    if (r.value) env[c.name] = *r.value;
    // A default that reads no other constant is emitted as its value (the generated
    // constructor's signature), so it must evaluate here even when nothing uses it.
    else if (!r.error.empty() && c.is_parameter && m.is_closed(*c.value) && first_report(DiagKind::constant_error, m.expr(*c.value).range, r.error))
      diags_.report(DiagKind::constant_error, m.expr(*c.value).range, {r.error});
  }
  for (size_t i = 0; i < m.exprs.size(); ++i) {
    auto r = eval(m, ExprId(i), env);
    if (r.value) m.exprs[i].value = *r.value;
  }
  for (auto& c : m.constants) {
    auto it = env.find(c.name);
    if (it != env.end()) c.default_value = it->second;
  }
  program_.modules.push_back(std::move(m));
  info.module = ModuleId(program_.modules.size() - 1);
}

// Parameters keep their order; derived constants are sorted so each comes after the
// constants it reads (declarations may be in any order). A cycle is reported once.
void Checker::order_constants(ir::Module& m) {
  std::vector<ir::ConstantDecl> out;
  std::vector<int> state(m.constants.size(), 0);
  std::function<void(size_t)> visit = [&](size_t i) {
    if (state[i] == 2) return;
    if (state[i] == 1) {
      diags_.report(DiagKind::constant_error, m.constants[i].range, {"constant `" + m.constants[i].name + "` depends on itself"});
      return;
    }
    state[i] = 1;
    if (m.constants[i].value) {
      std::vector<ExprId> work{*m.constants[i].value};
      while (!work.empty()) {
        const ir::ExprNode& n = m.expr(work.back());
        work.pop_back();
        for (ExprId o : n.operands) work.push_back(o);
        if (n.kind != ir::ExprKind::Ref) continue;
        for (size_t j = 0; j < m.constants.size(); ++j)
          if (m.constants[j].name == n.name && !m.constants[j].is_parameter) visit(j);
      }
    }
    state[i] = 2;
    out.push_back(m.constants[i]);
  };
  for (size_t i = 0; i < m.constants.size(); ++i)
    if (m.constants[i].is_parameter) {
      state[i] = 2;
      out.push_back(m.constants[i]);
    }
  for (size_t i = 0; i < m.constants.size(); ++i) visit(i);
  m.constants = std::move(out);
}

namespace {

// The attribute list of an instance: `name` replaced when present, else appended.
void set_attr(ir::Instance& inst, const std::string& name, ExprId value) {
  for (auto& [k, v] : inst.attrs)
    if (k == name) {
      v = value;
      return;
    }
  inst.attrs.emplace_back(name, value);
}

std::optional<ExprId> get_attr(const ir::Instance& inst, const std::string& name) {
  for (const auto& [k, v] : inst.attrs)
    if (k == name) return v;
  return std::nullopt;
}

// Whether a layer type takes `name` (a built-in attribute or a user module's parameter).
bool takes(const ir::Program& p, const ir::Instance& inst, const std::string& name) {
  if (inst.builtin) return inst.builtin->find_attr(name) != nullptr;
  if (inst.user) return p.module(*inst.user).find_constant(name) != nullptr;
  return false;
}

// The table columns of a layer type that names none: its schema row's, or the block row's.
std::vector<std::string> default_columns(const ir::Instance& inst) {
  const auto& cols = inst.builtin ? inst.builtin->table_columns : block_schema().table_columns;
  return {cols.begin(), cols.end()};
}

}  // namespace

std::vector<WidthAttrs> stack_widths(const ir::Program& p, const ir::Instance& inst) {
  std::vector<WidthAttrs> out;
  if (inst.builtin) {
    if (auto w = inst.builtin->widths()) out.push_back(*w);
  } else if (inst.user) {
    for (const auto& w : block_schema().widths)
      if (p.module(*inst.user).find_constant(std::string(w.input))) out.push_back(w);
  }
  return out;
}

std::optional<ir::Instance> Checker::lower_instance(ir::Module& m, const DeclInfo& info, const ast::LayerSpec& spec) {
  ir::Instance inst;
  inst.type_name = spec.type_name.name;
  inst.range = spec.type_name.range;
  auto user = decls_.find(inst.type_name);
  if (user != decls_.end()) {
    if (!user->second.module) return std::nullopt;  // recursive or failed: already reported
    inst.user = user->second.module;
  } else if (const LayerSchema* b = find_builtin_layer(inst.type_name)) {
    inst.builtin = b;
  } else {
    std::vector<std::string_view> names;
    for (const auto& l : builtin_layers()) names.push_back(l.name);
    for (const auto& n : decl_order_) names.push_back(n);
    diags_.report(DiagKind::unknown_layer_type, spec.type_name.range, {inst.type_name}).hint(did_you_mean(inst.type_name, names));
    return std::nullopt;
  }
  bool container = inst.builtin && inst.builtin->is_container;
  if (!spec.children.empty() && !container) {
    diags_.report(DiagKind::children_not_allowed, spec.children.front()->range, {inst.type_name});
  }
  for (const auto& c : spec.children)
    if (auto ci = lower_instance(m, info, *c)) inst.children.push_back(std::move(*ci));
  std::set<std::string> given;
  for (const auto& a : spec.attributes) {
    if (!given.insert(a.name.name).second) {
      diags_.report(DiagKind::duplicate_attribute, a.name.range, {a.name.name});
      continue;
    }
    if (!takes(program_, inst, a.name.name)) {
      std::vector<std::string_view> names;
      if (inst.builtin)
        for (const auto& s : inst.builtin->attrs) names.push_back(s.name);
      else
        for (const auto& c : program_.module(*inst.user).constants)
          if (c.is_parameter) names.push_back(c.name);
      diags_.report(DiagKind::unknown_attribute, a.name.range, {inst.type_name, a.name.name}).hint(did_you_mean(a.name.name, names));
      continue;
    }
    inst.attrs.emplace_back(a.name.name, lower_const_expr(m, info, *a.value));
  }
  return inst;
}

void Checker::lower_layer(ir::Module& m, DeclInfo& info, const ast::LayerItem& item) {
  const ast::LayerSpec& spec = *item.spec;
  ir::Submodule sub;
  sub.name = item.name.name;
  sub.range = item.name.range;
  const std::string stride(block_schema().stride_attr), repeat_column(block_schema().repeat_column);
  auto literal = [&](ConstValue v, SourceRange r) {
    ir::ExprNode n;
    n.literal = std::move(v);
    n.range = r;
    return m.add_expr(std::move(n));
  };
  switch (spec.kind) {
    case ast::LayerSpecKind::Instance: {
      auto inst = lower_instance(m, info, spec);
      if (!inst) return;
      if (inst->builtin && inst->builtin->is_container) {
        sub.form = ir::SubmoduleForm::List;
        sub.instances = std::move(inst->children);
      } else {
        sub.instances.push_back(std::move(*inst));
      }
      break;
    }
    case ast::LayerSpecKind::Repeat: {
      auto inst = lower_instance(m, info, spec);
      if (!inst) return;
      sub.form = ir::SubmoduleForm::Repeat;
      sub.count = lower_const_expr(m, info, *spec.count);
      // Later instances: input width from the previous output width, stride 1.
      ir::Instance rest = *inst;
      for (const WidthAttrs& w : stack_widths(program_, *inst)) {
        auto out = get_attr(*inst, std::string(w.output));
        if (out) set_attr(rest, std::string(w.input), *out);
      }
      if (get_attr(rest, stride)) set_attr(rest, stride, literal(ConstValue::of_int(1), spec.range));
      sub.instances.push_back(std::move(*inst));
      sub.instances.push_back(std::move(rest));
      break;
    }
    case ast::LayerSpecKind::Table: {
      auto base = lower_instance(m, info, spec);
      if (!base) return;
      sub.form = ir::SubmoduleForm::List;
      std::vector<std::string> columns = default_columns(*base);
      if (spec.has_columns) {
        columns.clear();
        for (const auto& c : spec.columns) {
          if (c.name != repeat_column && !takes(program_, *base, c.name)) {
            diags_.report(DiagKind::unknown_table_column, c.range, {base->type_name, c.name});
            return;
          }
          columns.push_back(c.name);
        }
      } else {
        const std::string example = "as in `" + base->type_name + "[](out_channels, repeat, stride)`";
        if (columns.empty()) {
          diags_.report(DiagKind::table_columns_required, spec.type_name.range, {base->type_name}).hint("name them, " + example);
          return;
        }
        const std::string hint = "name the columns, " + example;
        for (const auto& c : columns)
          if (c != repeat_column && !takes(program_, *base, c)) {
            diags_.report(DiagKind::unknown_table_column, spec.type_name.range, {base->type_name, c}).hint(hint);
            return;
          }
      }
      // Each row's input width is the previous row's output width.
      auto widths = stack_widths(program_, *base);
      const WidthAttrs* width = widths.empty() ? nullptr : &widths.front();
      std::optional<ExprId> prev_out = width ? get_attr(*base, std::string(width->input)) : std::nullopt;
      for (const auto& row : spec.rows) {
        if (row->elements.size() != columns.size()) {
          diags_.report(DiagKind::table_row_length, row->range,
                        {std::to_string(row->elements.size()), base->type_name + "[]", std::to_string(columns.size())});
          continue;
        }
        ir::Instance inst = *base;
        std::optional<ExprId> repeat;
        for (size_t i = 0; i < columns.size(); ++i) {
          ExprId v = lower_const_expr(m, info, *row->elements[i]);
          if (columns[i] == repeat_column) repeat = v;
          else set_attr(inst, columns[i], v);
        }
        int64_t n = 1;
        if (repeat) {
          auto r = eval(m, *repeat, {});
          if (!r.value || !r.value->is_int() || r.value->as_int() <= 0 || r.value->as_int() > 100'000) {
            diags_.report(DiagKind::bad_repeat_count, m.expr(*repeat).range,
                          {sub.name, r.value ? r.value->to_source() : "a value that is not a literal"});
            continue;
          }
          n = r.value->as_int();
        }
        for (int64_t k = 0; k < n; ++k) {
          ir::Instance one = inst;
          if (prev_out) set_attr(one, std::string(width->input), *prev_out);
          if (k > 0 && get_attr(one, stride)) set_attr(one, stride, literal(ConstValue::of_int(1), row->range));
          if (auto o = width ? get_attr(one, std::string(width->output)) : std::nullopt) prev_out = o;
          sub.instances.push_back(std::move(one));
        }
      }
      if (sub.instances.empty()) return;
      break;
    }
    case ast::LayerSpecKind::Conditional: {
      sub.form = ir::SubmoduleForm::Conditional;
      sub.condition = lower_const_expr(m, info, *spec.condition);
      bool failed = false;
      auto branch = [&](const std::vector<ast::LayerSpecPtr>& children, std::vector<ir::Instance>& out) {
        for (const auto& c : children) {
          if (c->kind == ast::LayerSpecKind::Conditional) {
            diags_.report(DiagKind::unsupported_expression, c->range, {"a conditional layer inside a conditional layer"})
                .hint("write one `if (cond) A { } else B { }` per layer, or combine the conditions with `and`/`or`");
            failed = true;
            continue;
          }
          auto inst = lower_instance(m, info, *c);
          if (!inst) {
            failed = true;
            continue;
          }
          if (inst->builtin && inst->builtin->is_container)
            for (auto& k : inst->children) out.push_back(std::move(k));
          else
            out.push_back(std::move(*inst));
        }
      };
      branch(spec.children, sub.instances);
      sub.has_else = spec.has_else;
      branch(spec.else_children, sub.else_instances);
      if (failed || (sub.instances.empty() && sub.else_instances.empty())) return;
      break;
    }
  }
  m.submodules.push_back(std::move(sub));
}

void Checker::lower_tensor(ir::Module& m, const DeclInfo& info, const ast::TensorItem& item) {
  ir::TensorDecl t;
  t.name = item.name.name;
  t.is_state = item.is_state;
  t.range = item.name.range;
  t.init = "zeros";
  if (item.condition) t.condition = lower_const_expr(m, info, *item.condition);
  if (item.scalar_value) {  // `param gain: float = 1.0`: shape [], constant init
    const bool scalar_type = item.type && item.type->kind == ast::TypeKind::Named &&
                             (item.type->name.name == "float" || item.type->name.name == "int");
    if (!scalar_type) {
      diags_.report(DiagKind::attribute_type_mismatch, item.scalar_value->range,
                    {"initial value", "Tensor", "a scalar declared `float` or `int` (a tensor takes `{ init: ... }`)", expr_text(item.scalar_value->range)});
      return;
    }
    t.init = "constant";
    t.options.emplace_back("value", lower_const_expr(m, info, *item.scalar_value));
    m.tensors.push_back(std::move(t));
    return;
  }
  if (item.type && item.type->has_shape)
    for (const auto& d : item.type->dims) t.shape.push_back(lower_const_expr(m, info, *d));
  bool has_shape = item.type && item.type->has_shape;
  for (const auto& a : item.attributes) {
    if (a.name.name == "shape") {
      if (has_shape) {
        diags_.report(DiagKind::duplicate_attribute, a.name.range, {"shape"});
        continue;
      }
      has_shape = true;
      const auto* list = ast::dyn_cast<ast::ListExpr>(a.value.get());
      if (!list) {
        diags_.report(DiagKind::attribute_type_mismatch, a.value->range, {"shape", "Tensor", "a list of ints", expr_text(a.value->range)});
        continue;
      }
      for (const auto& d : list->elements) t.shape.push_back(lower_const_expr(m, info, *d));
    } else if (a.name.name == "init") {
      const auto* s = ast::dyn_cast<ast::StringExpr>(a.value.get());
      // The initializers of `triton_dsl.init.tensor`.
      static const std::vector<std::string_view> inits = {"zeros", "ones", "constant", "normal", "uniform", "trunc_normal",
                                                          "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"};
      if (!s || std::find(inits.begin(), inits.end(), s->value) == inits.end()) {
        std::string choices;
        for (auto i : inits) choices += (choices.empty() ? "\"" : ", \"") + std::string(i) + "\"";
        diags_.report(DiagKind::attribute_bad_choice, a.value->range, {"init", "Tensor", choices, expr_text(a.value->range)});
        continue;
      }
      t.init = s->value;
    } else {
      static const std::vector<std::string_view> options = {"mean", "std", "a", "b", "value", "gain", "mode", "nonlinearity"};
      if (std::find(options.begin(), options.end(), a.name.name) == options.end()) {
        diags_.report(DiagKind::unknown_attribute, a.name.range, {"Tensor", a.name.name}).hint(did_you_mean(a.name.name, options));
        continue;
      }
      t.options.emplace_back(a.name.name, lower_const_expr(m, info, *a.value));
    }
  }
  if (!has_shape) {
    diags_.report(DiagKind::missing_attribute, item.name.range, {"Tensor", "shape"});
    return;
  }
  m.tensors.push_back(std::move(t));
}

}  // namespace check_detail
}  // namespace triton

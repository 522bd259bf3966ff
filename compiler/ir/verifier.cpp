// Checks, for every module: expression ids in range and constants referring to constants
// declared before them; every instance of a user module naming an earlier module; and for
// the forward: each op's attribute struct matches its kind, operands are defined before use
// (in the same region or an enclosing one), operand and region counts fit the op, no `binary`
// op is an `is`/`is not` (those are `is_none`), every `if` region ends in a `yield` of as
// many values as the `if` has results, and the body ends in a `return`.
#include "ir/verifier.h"

#include <set>

namespace triton::ir {

namespace {

class Verifier {
 public:
  Verifier(const Program& p, std::vector<std::string>& errors) : p_(p), errors_(errors) {}

  void run() {
    if (!p_.entry.valid() || p_.entry.index >= p_.modules.size()) fail("program", "entry module id out of range");
    for (size_t i = 0; i < p_.modules.size(); ++i) module(p_.modules[i], i);
  }

 private:
  void fail(const std::string& where, const std::string& what) { errors_.push_back(where + ": " + what); }

  void check_expr(const Module& m, ExprId id, const std::string& where) {
    if (!id.valid() || id.index >= m.exprs.size()) {
      fail(where, "expression id out of range");
      return;
    }
    const ExprNode& e = m.expr(id);
    for (ExprId o : e.operands) check_expr(m, o, where);
    if (e.kind == ExprKind::Ref && !m.find_constant(e.name)) fail(where, "reference to unknown constant `" + e.name + "`");
  }

  void check_instance(const Module& m, const Instance& inst, size_t self, const std::string& where) {
    if (!inst.builtin && !inst.user) fail(where, "instance of `" + inst.type_name + "` has no definition");
    if (inst.user && inst.user->index >= self)
      fail(where, "instance of `" + inst.type_name + "` refers to a module that does not come before it");
    for (const auto& [k, e] : inst.attrs) check_expr(m, e, where + "." + k);
    for (const auto& c : inst.children) check_instance(m, c, self, where);
  }

  void module(const Module& m, size_t index) {
    std::string where = "module " + m.name;
    for (const auto& c : m.constants)
      if (c.value) check_expr(m, *c.value, where + " constant " + c.name);
    for (const auto& s : m.submodules) {
      if (s.instances.empty() && s.else_instances.empty()) fail(where, "layer `" + s.name + "` has no instances");
      if (s.has_else && s.form != SubmoduleForm::Conditional) fail(where, "layer `" + s.name + "` has an `else` but no condition");
      for (const auto& inst : s.else_instances) check_instance(m, inst, index, where + " layer " + s.name + " else");
      if (s.form == SubmoduleForm::Repeat && (s.instances.size() != 2 || !s.count)) fail(where, "repeat `" + s.name + "` needs two instances and a count");
      if (s.form == SubmoduleForm::Conditional && !s.condition) fail(where, "conditional `" + s.name + "` has no condition");
      for (const auto& inst : s.instances) check_instance(m, inst, index, where + " layer " + s.name);
    }
    for (const auto& t : m.tensors)
      for (ExprId e : t.shape) check_expr(m, e, where + " tensor " + t.name);
    if (m.forward) function(m, *m.forward, where + " forward");
  }

  void function(const Module& m, const Function& f, const std::string& where) {
    if (!f.body.valid() || f.body.index >= f.regions.size()) {
      fail(where, "no body region");
      return;
    }
    std::set<uint32_t> defined;
    region(m, f, f.body, defined, where, true);
  }

  void region(const Module& m, const Function& f, RegionId r, std::set<uint32_t> defined, const std::string& where,
              bool is_body) {
    const auto& ops = f.region(r).ops;
    const Op* last = nullptr;
    for (OpId id : ops) {
      if (id.index >= f.ops.size()) {
        fail(where, "op id out of range");
        continue;
      }
      const Op& op = f.op(id);
      if (op.erased) continue;
      std::string at = where + " op " + std::to_string(id.index) + " (" + std::string(op_spelling(op.kind)) + ")";
      if (op.attrs.index() != static_cast<size_t>(op.kind)) fail(at, "attributes do not match the op kind");
      for (ValueId v : op.operands)
        if (!defined.count(v.index)) fail(at, "operand %" + std::to_string(v.index) + " is used before it is defined");
      size_t n = op.operands.size();
      auto want = [&](bool ok, const char* what) { if (!ok) fail(at, what); };
      switch (op.kind) {
        case OpKind::Input:
        case OpKind::Constant:
        case OpKind::ConstRef:
        case OpKind::TensorRef:
        case OpKind::LayerRef:
        case OpKind::Training: want(n == 0, "takes no operands"); break;
        case OpKind::AssignState: {
          want(n == 1 && op.results.empty(), "takes one operand and has no result");
          const TensorDecl* t = m.find_tensor(attrs_of<AssignStateAttrs>(op).tensor);
          want(t && t->is_state, "assigns something that is not a `state` tensor");
          break;
        }
        case OpKind::Binary: {
          want(n == 2, "takes two operands");
          const auto* b = std::get_if<BinaryAttrs>(&op.attrs);
          want(!b || (b->op != BinaryOp::Is && b->op != BinaryOp::IsNot), "compares with `is`; that is an `is_none` op");
          break;
        }
        case OpKind::Unary:
        case OpKind::IsNone:
        case OpKind::Member:
        case OpKind::TupleGet: want(n == 1, "takes one operand"); break;
        case OpKind::Select: want(n == 3, "takes three operands"); break;
        case OpKind::CallLayer:
          want(m.find_submodule(attrs_of<CallLayerAttrs>(op).submodule) != nullptr, "calls an unknown submodule");
          want(attrs_of<CallLayerAttrs>(op).arg_names.size() == n, "needs one name slot per operand");
          break;
        case OpKind::CallFunction:
          want(attrs_of<CallFunctionAttrs>(op).function != nullptr, "has no function");
          want(attrs_of<CallFunctionAttrs>(op).arg_names.size() == n, "needs one name slot per operand");
          break;
        case OpKind::CallFused: {
          const auto& a = attrs_of<CallFusedAttrs>(op);
          want(n == 1 && op.results.size() == 1, "takes one operand and has one result");
          want(m.find_submodule(a.layer) != nullptr, "fuses an unknown layer");
          want(a.norm.empty() || m.find_submodule(a.norm) != nullptr, "fuses an unknown norm");
          want(!a.norm.empty() || !a.activation.empty(), "fuses nothing into its layer");
          break;
        }
        case OpKind::If: {
          want(n == 1 && op.regions.size() == 2, "takes a condition and two regions");
          for (RegionId sub : op.regions) {
            region(m, f, sub, defined, where, false);
            const auto& sops = f.region(sub).ops;
            const Op* y = nullptr;
            for (auto it = sops.rbegin(); it != sops.rend(); ++it)
              if (!f.op(*it).erased) { y = &f.op(*it); break; }
            want(y && y->kind == OpKind::Yield && y->operands.size() == op.results.size(),
                 "region must end in a yield of one value per result");
          }
          break;
        }
        default: break;
      }
      if (op.kind == OpKind::ConstRef) want(m.find_constant(attrs_of<ConstRefAttrs>(op).name) != nullptr, "reads an unknown constant");
      if (op.kind == OpKind::TensorRef) want(m.find_tensor(attrs_of<TensorRefAttrs>(op).name) != nullptr, "reads an unknown tensor");
      for (ValueId v : op.results) {
        if (v.index >= f.values.size() || f.value(v).def != id) fail(at, "result does not point back to its op");
        defined.insert(v.index);
      }
      last = &op;
    }
    if (is_body && (!last || last->kind != OpKind::Return)) fail(where, "body does not end in a return");
  }

  const Program& p_;
  std::vector<std::string>& errors_;
};

}  // namespace

std::vector<std::string> verify(const Program& program) {
  std::vector<std::string> errors;
  Verifier(program, errors).run();
  return errors;
}

}  // namespace triton::ir

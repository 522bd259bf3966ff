// Implements const_eval.h.
#include "ir/const_eval.h"

#include <vector>

namespace triton::ir {

namespace {

bool truthy(const ConstValue& v) { return !const_unary(ConstUnaryOp::Not, v).value->as_bool(); }

ConstResult call(const std::string& name, const std::vector<ConstValue>& args) {
  if (name == "floor_div" && args.size() == 2) return const_binary(BinaryOp::FloorDiv, args[0], args[1]);
  if (name == "int" && args.size() == 1) return const_truncate_to_int(args[0]);
  if (name == "float" && args.size() == 1) {
    if (!args[0].is_number()) return ConstResult::fail("`float` needs a number, got " + args[0].type_name());
    return ConstResult::ok(ConstValue::of_float(args[0].as_number()));
  }
  if ((name == "min" || name == "max") && args.size() == 2) {
    auto lt = const_binary(BinaryOp::Lt, args[0], args[1]);
    if (!lt.value) return lt;
    return ConstResult::ok((name == "min") == lt.value->as_bool() ? args[0] : args[1]);
  }
  return ConstResult::fail("`" + name + "` in a constant");
}

}  // namespace

ConstResult evaluate_constant(const Module& m, ExprId id, const ConstEnv& env) {
  const ExprNode& n = m.expr(id);
  switch (n.kind) {
    case ExprKind::Literal: return ConstResult::ok(n.literal);
    case ExprKind::Ref: {
      auto it = env.find(n.name);
      if (it == env.end()) return ConstResult::fail("");
      return ConstResult::ok(it->second);
    }
    case ExprKind::Unary: {
      auto a = evaluate_constant(m, n.operands[0], env);
      if (!a.value) return a;
      return const_unary(n.unary_op, *a.value);
    }
    case ExprKind::Binary: {
      auto a = evaluate_constant(m, n.operands[0], env);
      if (!a.value) return a;
      // `and`/`or` short-circuit as in Python.
      if ((n.binary_op == BinaryOp::And || n.binary_op == BinaryOp::Or) &&
          (n.binary_op == BinaryOp::And) != truthy(*a.value))
        return a;
      auto b = evaluate_constant(m, n.operands[1], env);
      if (!b.value) return b;
      return const_binary(n.binary_op, *a.value, *b.value);
    }
    case ExprKind::Call: {
      std::vector<ConstValue> args;
      for (ExprId o : n.operands) {
        auto r = evaluate_constant(m, o, env);
        if (!r.value) return r;
        args.push_back(*r.value);
      }
      return call(n.name, args);
    }
    case ExprKind::List: {
      ConstList l;
      for (ExprId o : n.operands) {
        auto r = evaluate_constant(m, o, env);
        if (!r.value) return r;
        l.push_back(*r.value);
      }
      return ConstResult::ok(ConstValue::of_list(std::move(l)));
    }
    case ExprKind::Conditional: {
      auto c = evaluate_constant(m, n.operands[1], env);
      if (!c.value) return c;
      return evaluate_constant(m, n.operands[truthy(*c.value) ? 0 : 2], env);
    }
  }
  return ConstResult::fail("");
}

}  // namespace triton::ir

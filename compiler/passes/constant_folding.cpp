// Constant folding of forward arithmetic on literals (`2 * 64`, `-1`, `not true`).
// Algorithm:
//   1. Walk every module's forward ops in order (operands are defined before their users).
//   2. For a `binary` or `unary` op whose operands are all `constant` ops, evaluate it with
//      the exact constant arithmetic of schema/const_value.h.
//   3. On success, turn the op into a `constant` op holding the result (same result value,
//      so users need no rewrite); on failure (division by zero, ...) leave it alone.
// Values read from hyper-parameters are never folded: `Model(width=...)` must still work.
#include "passes/pass_manager.h"

namespace triton::passes {

namespace {

// Whether a forward `binary` op on two literals may become its constant value. `/` keeps
// Python's meaning in the backend (int / int prints `//`); `@` and `**` are tensor operations
// here; `and`/`or` stay as written. No `default`: a new operator in ast/binary_ops.def must
// be decided here.
bool foldable(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Sub:
    case BinaryOp::Mul:
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
    case BinaryOp::Eq:
    case BinaryOp::Ne:
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge: return true;
    case BinaryOp::Div:
    case BinaryOp::Pow:
    case BinaryOp::MatMul:
    case BinaryOp::Is:  // never a `binary` op: `is_none`
    case BinaryOp::IsNot:
    case BinaryOp::And:
    case BinaryOp::Or: return false;
  }
  return false;
}

bool fold(ir::Function& f) {
  bool changed = false;
  auto literal = [&](ir::ValueId v) -> const ConstValue* {
    const ir::Op& d = f.op(f.value(v).def);
    return d.kind == ir::OpKind::Constant && !d.erased ? &ir::attrs_of<ir::ConstantAttrs>(d).value : nullptr;
  };
  for (auto& op : f.ops) {
    if (op.erased) continue;
    std::optional<ConstValue> result;
    if (op.kind == ir::OpKind::Binary) {
      const BinaryOp k = ir::attrs_of<ir::BinaryAttrs>(op).op;
      const ConstValue* a = literal(op.operands[0]);
      const ConstValue* b = literal(op.operands[1]);
      if (foldable(k) && a && b) result = const_binary(k, *a, *b).value;
    } else if (op.kind == ir::OpKind::Unary) {
      const ConstValue* a = literal(op.operands[0]);
      auto k = ir::attrs_of<ir::UnaryAttrs>(op).op;
      if (a) result = const_unary(k == ir::UnaryKind::Neg ? ConstUnaryOp::Neg : k == ir::UnaryKind::Plus ? ConstUnaryOp::Plus : ConstUnaryOp::Not, *a).value;
    }
    if (!result) continue;
    op.kind = ir::OpKind::Constant;
    op.attrs = ir::ConstantAttrs{*result};
    op.operands.clear();
    changed = true;
  }
  return changed;
}

}  // namespace

Pass create_constant_folding() {
  return {"constant-folding", [](ir::Program& p) {
            bool changed = false;
            for (auto& m : p.modules)
              if (m.forward) changed |= fold(*m.forward);
            return changed;
          }};
}

}  // namespace triton::passes

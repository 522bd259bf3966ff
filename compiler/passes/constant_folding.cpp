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

std::optional<ConstBinaryOp> const_op(ir::BinaryKind k) {
  using B = ir::BinaryKind;
  switch (k) {
    case B::Add: return ConstBinaryOp::Add;
    case B::Sub: return ConstBinaryOp::Sub;
    case B::Mul: return ConstBinaryOp::Mul;
    case B::FloorDiv: return ConstBinaryOp::FloorDiv;
    case B::Mod: return ConstBinaryOp::Mod;
    case B::Eq: return ConstBinaryOp::Eq;
    case B::Ne: return ConstBinaryOp::Ne;
    case B::Lt: return ConstBinaryOp::Lt;
    case B::Le: return ConstBinaryOp::Le;
    case B::Gt: return ConstBinaryOp::Gt;
    case B::Ge: return ConstBinaryOp::Ge;
    default: return std::nullopt;  // `/` keeps Python's meaning in the backend; `@`, `**` on tensors
  }
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
      auto k = const_op(ir::attrs_of<ir::BinaryAttrs>(op).op);
      const ConstValue* a = literal(op.operands[0]);
      const ConstValue* b = literal(op.operands[1]);
      if (k && a && b) result = const_binary(*k, *a, *b).value;
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

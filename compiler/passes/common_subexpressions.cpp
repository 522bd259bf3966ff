// Common-subexpression elimination (-O2): a pure forward op that repeats an earlier one —
// same kind, same attributes, same operands — is dropped and its readers read the earlier
// result (`x.shape[0]` computed twice, the same `softmax(s, dim: -1)` in two branches'
// common prefix, a function body inlined twice on the same argument).
// Algorithm:
//   1. Walk the body in order with a table from an op's key to its results; an `if` walks
//      each of its regions with a copy of the table, so a region sees what dominates it and
//      nothing from its sibling.
//   2. Before looking at an op, rewrite its operands through the replacements made so far.
//   3. The key of a pure op is its spelling, its attribute text (ir/printer.h) and its
//      operands, where an operand defined by a `constant` op counts as that literal and a
//      tuple or list display as its elements' keys, so two `x.shape[0]` agree even when each
//      has its own `0`, and two `x.mean(dim: [2, 3])` each with its own list. Pure: arithmetic, comparisons,
//      member and index reads, tuple element reads, selects and every built-in function but
//      `dropout` (random). Tuple and list displays (`[0, 2, 1, 3]`) are left as written:
//      they cost nothing and read better at their use. Layer calls are never merged: a layer may keep state (batch-norm
//      statistics) or draw random numbers.
//   4. A key already in the table: map the op's results to the earlier ones and erase it.
//      Otherwise enter it.
#include <map>
#include <string>
#include <vector>

#include "ir/printer.h"
#include "passes/pass_manager.h"

namespace triton::passes {

namespace {

bool is_pure(const ir::Op& op) {
  switch (op.kind) {
    case ir::OpKind::Binary:
    case ir::OpKind::Unary:
    case ir::OpKind::IsNone:
    case ir::OpKind::Member:
    case ir::OpKind::Index:
    case ir::OpKind::TupleGet:
    case ir::OpKind::Select: return true;
    case ir::OpKind::CallFunction: return ir::attrs_of<ir::CallFunctionAttrs>(op).function->name != "dropout";
    default: return false;
  }
}

class Eliminator {
 public:
  explicit Eliminator(ir::Function& f) : f_(f), replacement_(f.values.size()) {}

  bool run() {
    walk(f_.body, {});
    return changed_;
  }

 private:
  using Table = std::map<std::string, std::vector<ir::ValueId>>;

  void walk(ir::RegionId r, Table table) {
    for (ir::OpId id : f_.region(r).ops) {
      ir::Op& op = f_.op(id);
      if (op.erased) continue;
      for (ir::ValueId& v : op.operands)
        if (replacement_[v.index].valid()) v = replacement_[v.index];
      for (ir::RegionId sub : op.regions) walk(sub, table);
      if (!is_pure(op)) continue;
      std::string key = key_of(op);
      auto [it, inserted] = table.try_emplace(std::move(key), op.results);
      if (inserted || it->second.size() != op.results.size()) continue;
      for (size_t i = 0; i < op.results.size(); ++i) replacement_[op.results[i].index] = it->second[i];
      op.erased = true;
      changed_ = true;
    }
  }

  std::string key_of(const ir::Op& op) const {
    std::string key = std::string(ir::op_spelling(op.kind)) + ir::op_attributes(op);
    for (ir::ValueId v : op.operands) key += " " + operand_key(v);
    return key;
  }

  // A literal by its value, a tuple or list display by its elements, anything else by its
  // value number.
  std::string operand_key(ir::ValueId v) const {
    const ir::Op& def = f_.op(f_.value(v).def);
    if (def.kind == ir::OpKind::Constant) return "c:" + ir::attrs_of<ir::ConstantAttrs>(def).value.to_source();
    if (def.kind == ir::OpKind::MakeList || def.kind == ir::OpKind::MakeTuple) {
      std::string key = def.kind == ir::OpKind::MakeList ? "[" : "(";
      for (ir::ValueId e : def.operands) key += operand_key(e) + ",";
      return key + (def.kind == ir::OpKind::MakeList ? "]" : ")");
    }
    return "%" + std::to_string(v.index);
  }

  ir::Function& f_;
  std::vector<ir::ValueId> replacement_;
  bool changed_ = false;
};

}  // namespace

Pass create_common_subexpression_elimination() {
  return {"common-subexpression-elimination", [](ir::Program& p) {
            bool changed = false;
            for (auto& m : p.modules)
              if (m.forward) changed |= Eliminator(*m.forward).run();
            return changed;
          }};
}

}  // namespace triton::passes

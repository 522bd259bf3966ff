// Dead-value elimination: removes forward ops whose results nobody uses.
// Algorithm:
//   1. Count the uses of every value over all live ops (nested regions included).
//   2. Walk the ops in reverse order; an op that has results, none of them used, and is not
//      an `input`, `if`, `yield` or `return` is erased, and the use counts of its operands
//      drop, so chains of dead values go in one walk.
//   3. Repeat until nothing changes (an erased op may free ops defined earlier in a region
//      visited before it).
// Layer calls whose result is unused are removed too: a built-in layer has no side effects
// a program can observe besides its result.
#include "passes/pass_manager.h"

namespace triton::passes {

namespace {

bool eliminate(ir::Function& f) {
  bool changed_any = false;
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<int> uses(f.values.size(), 0);
    for (const auto& op : f.ops)
      if (!op.erased)
        for (ir::ValueId v : op.operands) uses[v.index]++;
    for (size_t i = f.ops.size(); i-- > 0;) {
      ir::Op& op = f.ops[i];
      if (op.erased || op.results.empty()) continue;
      if (op.kind == ir::OpKind::Input || op.kind == ir::OpKind::If) continue;
      bool used = false;
      for (ir::ValueId v : op.results) used = used || uses[v.index] > 0;
      if (used) continue;
      op.erased = true;
      for (ir::ValueId v : op.operands) uses[v.index]--;
      changed = changed_any = true;
    }
  }
  return changed_any;
}

}  // namespace

Pass create_dead_value_elimination() {
  return {"dead-value-elimination", [](ir::Program& p) {
            bool changed = false;
            for (auto& m : p.modules)
              if (m.forward) changed |= eliminate(*m.forward);
            return changed;
          }};
}

}  // namespace triton::passes

// The IR verifier: structural invariants every pass must keep (see verifier.cpp). Run after
// lowering, and between passes under `--verify-each`. A failure is a compiler bug, so the
// driver reports it as an internal error.
#pragma once

#include <string>
#include <vector>

#include "ir/ir.h"

namespace triton::ir {

// Returns one message per broken invariant; empty when the program is well formed.
std::vector<std::string> verify(const Program& program);

}  // namespace triton::ir

// `--emit=ir`: prints a Program as deterministic text (see printer.cpp).
#pragma once

#include <string>

#include "ir/ir.h"

namespace triton::ir {

std::string print_program(const Program& program);

// An op's attributes as the printer writes them after its spelling (` relu`, ` [v, :]`):
// equal texts mean equal attributes, which common-subexpression elimination relies on.
std::string op_attributes(const Op& op);

}  // namespace triton::ir

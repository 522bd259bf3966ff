// `--emit=ir`: prints a Program as deterministic text (see printer.cpp).
#pragma once

#include <string>

#include "ir/ir.h"

namespace triton::ir {

std::string print_program(const Program& program);

}  // namespace triton::ir

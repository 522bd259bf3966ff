// `--emit=summary` and `triton summary FILE`: a per-layer table of the elaborated entry
// model (output shape, parameters, ternary or float, packed bytes, MACs) with totals.
#pragma once

#include <string>

#include "ir/ir.h"

namespace triton::codegen {

std::string emit_summary(const ir::Program& program);

}  // namespace triton::codegen

// The PyTorch backend: IR -> one Python module following the contract in
// docs/architecture.md ("Contract: generated Python <-> triton_dsl").
#pragma once

#include <string>

#include "ir/ir.h"

namespace triton::codegen {

std::string emit_pytorch(const ir::Program& program);

}  // namespace triton::codegen

// The checker: from the parsed file to the IR. It resolves names, evaluates constants
// exactly, validates every layer against the built-in schema or the user's `params`,
// expands repetitions and tables, lowers each `forward` to IR ops, and then elaborates the
// entry model under the file's default values, running shape inference through every
// layer and function call, so that a width mismatch is reported at its use with a note at
// the declaration. Every independent error is reported; the result is only produced when
// there were none.
#pragma once

#include <optional>
#include <string>

#include "ast/ast.h"
#include "diag/diagnostic.h"
#include "ir/ir.h"

namespace triton {

struct CheckOptions {
  std::string model_name;   // `--model NAME`; empty = the last `model` of the file
  std::string source_name;  // the file name for the generated docstring and MODEL_INFO
};

std::optional<ir::Program> check_program(const ast::File& file, DiagnosticEngine& diags,
                                         const CheckOptions& options);

}  // namespace triton

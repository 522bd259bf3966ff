// `--emit=ast`: a deterministic, indented text dump of the AST with every node's range as
// `line:col-line:col`. It is what the parse goldens compare, so its format changes only
// together with a regeneration of those goldens (tools/update_goldens).
#pragma once

#include <string>

#include "ast/ast.h"
#include "source/source_buffer.h"

namespace triton::ast {

std::string dump(const File& file, const SourceBuffer& buffer);
// One expression on one line in source-like syntax (for messages and compact dumps).
std::string to_source(const Expr& expr);

}  // namespace triton::ast

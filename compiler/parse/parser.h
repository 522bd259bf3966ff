// The parser: a hand-written recursive-descent parser from tokens to `ast::File`.
// Each parse function carries the grammar rule it implements as a comment, so the parser
// doubles as the grammar's reference (docs/language.md has the same grammar in EBNF).
//
// Errors are reported through the diagnostics engine and the parser recovers (it skips to
// the next item or statement at the same bracket depth), so one run reports every
// independent mistake; the resulting AST holds every construct that parsed. Nesting deeper
// than `max_nesting_depth` (brackets, blocks, unary operators, and each link of an operator
// chain such as `a + b + c`, since the tree is as deep as the chain) is reported once and
// never recursed into, so neither deep input nor a fuzzer can overflow the stack, here or in
// any later walk over the tree.
#pragma once

#include <vector>

#include "ast/ast.h"
#include "diag/diagnostic.h"
#include "lex/token.h"

namespace triton {

struct ParserLimits {
  uint32_t max_nesting_depth = 200;
  // Elements of one list literal: every element becomes a tree node here and an expression
  // and a constant later, so a multi-megabyte literal would cost gigabytes; beyond the limit
  // the list is reported and dropped.
  uint32_t max_list_elements = 10'000;
};

// `tokens` must end with EndOfFile (as `lex` guarantees).
ast::File parse(const TokenList& tokens, DiagnosticEngine& diags, const ParserLimits& limits = {});

}  // namespace triton

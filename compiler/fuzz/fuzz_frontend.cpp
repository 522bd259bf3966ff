// libFuzzer target over the front end: arbitrary bytes -> lex -> parse (-> AST dump).
//
// What it guards: the front end never crashes, hangs, overflows the stack, reads out of
// bounds or grows memory without bound, whatever the input; every error goes through the
// diagnostics engine, and rendering each diagnostic (snippet, caret) stays in bounds. A
// successful parse is dumped too, since the dump walks every node and range. Phases after
// the parser add their own step here when they exist (see the marked place).
#include <cstddef>
#include <cstdint>
#include <string>

#include "ast/ast_printer.h"
#include "diag/diagnostic.h"
#include "lex/lexer.h"
#include "parse/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  triton::SourceBuffer buffer("fuzz.triton",
                              std::string(reinterpret_cast<const char*>(data), size));
  triton::DiagnosticEngine diags(buffer, nullptr);
  const auto tokens = triton::lex(buffer, diags);
  (void)triton::dump_tokens(buffer, tokens);
  const triton::ast::File file = triton::parse(tokens, diags);
  for (const triton::Diagnostic& diagnostic : diags.diagnostics()) {
    (void)diags.render(diagnostic);
  }
  if (!diags.has_errors()) {
    (void)triton::ast::dump(file, buffer);
    // Later phases (check, lower) run here on error-free input.
  }
  return 0;
}

// libFuzzer target over the middle end: bytes -> lex -> parse -> check -> IR -> passes ->
// PyTorch code and summary, on every input the front end accepts.
//
// What it guards: the checker never crashes, hangs or reads out of bounds on a parsed
// program (however odd its constants, shapes or recursion), every diagnostic renders in
// bounds, the IR it produces always passes the verifier before and after the -O2 passes,
// and the backends can print whatever the checker accepted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "check/checker.h"
#include "codegen/pytorch/pytorch_backend.h"
#include "codegen/summary/summary.h"
#include "diag/diagnostic.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "lex/lexer.h"
#include "parse/parser.h"
#include "passes/pass_manager.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  triton::SourceBuffer buffer("fuzz.triton", std::string(reinterpret_cast<const char*>(data), size));
  triton::DiagnosticEngine diags(buffer, nullptr);
  const auto tokens = triton::lex(buffer, diags);
  const triton::ast::File file = triton::parse(tokens, diags);
  if (diags.has_errors()) return 0;
  auto program = triton::check_program(file, diags, triton::CheckOptions{"", "fuzz.triton"});
  for (const triton::Diagnostic& diagnostic : diags.diagnostics()) (void)diags.render(diagnostic);
  if (!program) return 0;
  if (!triton::ir::verify(*program).empty()) std::abort();  // the checker produced a broken IR
  (void)triton::ir::print_program(*program);
  std::ostringstream out, err;
  auto report = triton::passes::run_passes(*program, triton::passes::pipeline_for_level(2), {{}, true, false}, out, err);
  if (!report.ok) std::abort();  // a pass broke the IR
  (void)triton::codegen::emit_pytorch(*program);
  (void)triton::codegen::emit_summary(*program);
  return 0;
}

// libFuzzer target over the middle end: bytes -> lex -> parse -> check -> IR -> passes ->
// PyTorch code and summary, on every input the front end accepts.
//
// What it guards: the checker never crashes, hangs or reads out of bounds on a parsed
// program (however odd its constants, shapes or recursion), every diagnostic renders in
// bounds, the IR it produces always passes the verifier before and after the -O2 passes,
// and the backends can print whatever the checker accepted. Beyond not crashing, an accepted
// program must be one that runs, so two properties abort when broken: no declared input or
// tensor has more than 2^40 elements (a 64-bit overflow in a size once let a 2^32 x 2^32
// input through a 784-feature check), and the generated Python is well-formed UTF-8 with no
// raw bidi control character (Python refuses the first; the second hides code).
//
// Seeds: tests/compiler/fuzz_corpus/ holds programs from the structure-aware generator
// (tests/python/fixtures/program_gen.py: limit constants, huge dimensions, block graphs),
// and tests/compiler/fuzz.dict the tokens that reach those paths.
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

namespace {

bool has_oversized_tensor(const triton::ir::ElabNode& n) {
  if (n.type_name == "param" && n.output.too_large()) return true;
  for (const auto& child : n.children)
    if (has_oversized_tensor(child)) return true;
  return false;
}

// Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), and no U+202A-202E
// or U+2066-2069.
bool readable_python(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0, n = text.size(); i < n;) {
    const unsigned c = s[i];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    for (size_t k = 1; k < len; ++k)
      if ((s[i + k] & 0xC0) != 0x80) return false;
    if (len > 1) {
      const unsigned d = s[i + 1];
      if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d > 0x8F)) return false;
      if (c == 0xE2 && ((d == 0x80 && s[i + 2] >= 0xAA && s[i + 2] <= 0xAE) || (d == 0x81 && s[i + 2] >= 0xA6 && s[i + 2] <= 0xA9)))
        return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

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
  for (const auto& input : program->inputs)
    if (input.shape.too_large()) std::abort();  // a size overflow slipped past the checker
  if (has_oversized_tensor(program->root)) std::abort();
  (void)triton::ir::print_program(*program);
  std::ostringstream out, err;
  auto report = triton::passes::run_passes(*program, triton::passes::pipeline_for_level(3), {{}, true, false}, out, err);
  if (!report.ok) std::abort();  // a pass broke the IR
  if (!readable_python(triton::codegen::emit_pytorch(*program))) std::abort();  // Python would refuse it
  (void)triton::codegen::emit_summary(*program);
  return 0;
}

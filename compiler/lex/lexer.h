// The lexer: turns a SourceBuffer into a list of tokens in one pass, reporting malformed
// input (stray characters, unterminated strings and comments, bad numbers) through the
// diagnostics engine and carrying on, so that one run shows every lexical mistake.
// An erroneous token becomes TokenKind::Error, which the parser skips without another
// message. The token list always ends with one EndOfFile token.
#pragma once

#include <vector>

#include "diag/diagnostic.h"
#include "lex/token.h"

namespace triton {

struct LexerLimits {
  // Larger files are rejected before lexing with `file_too_large` (offsets are 32-bit, and
  // an unbounded input would let a fuzzer or a mistaken path exhaust memory).
  uint32_t max_file_bytes = 64u << 20;
};

TokenList lex(const SourceBuffer& buffer, DiagnosticEngine& diags, const LexerLimits& limits = {});

// `--emit=tokens`: one token per line, `line:col Kind 'spelling' [value]`.
std::string dump_tokens(const SourceBuffer& buffer, const TokenList& tokens);

// A string as the text dumps (tokens, AST) show it: double-quoted, with newline, tab,
// carriage return, NUL, backslash and quote escaped, so every dump stays one line per item.
std::string quote_for_dump(std::string_view text);

}  // namespace triton

// Tokens: the lexer's output and the parser's input. A token is a kind, a source range and,
// for literals, its decoded value. Newlines are not tokens; instead each token records
// whether a line break precedes it, because newlines end items only outside brackets and
// the parser is the one that knows the bracket context.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "source/source_buffer.h"

namespace triton {

enum class TokenKind : uint8_t {
#define TOKEN(id, spelling) id,
#include "lex/token_kinds.def"
};

// The spelling of punctuation and keywords ("(", "model"), a description otherwise.
std::string_view token_spelling(TokenKind kind);
std::string_view token_kind_name(TokenKind kind);  // "LParen", "KwModel", ...
bool is_keyword(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::EndOfFile;
  bool newline_before = false;  // a line break (or the start of the file) precedes it
  SourceRange range;
  // Literal payloads. Integer: int_value (count suffix already applied). Float: float_value.
  // String: text holds the decoded contents. Identifier: text holds the name.
  // Number literals keep their suffix letter ('K', 'M', 'B', 'G' or 0).
  int64_t int_value = 0;
  double float_value = 0;
  char suffix = 0;
  std::string text;

  bool is(TokenKind k) const { return kind == k; }
};

}  // namespace triton

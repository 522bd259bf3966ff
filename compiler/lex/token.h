// Tokens: the lexer's output and the parser's input. A token is a kind, a source range and,
// for literals, its decoded value; it is kept small (32 bytes) because a large model has
// millions of them. An identifier's name is its source text; a string literal's decoded
// contents live in the TokenList beside the tokens. Newlines are not tokens; instead each token records
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
  char suffix = 0;  // number literals: 'K', 'M', 'B', 'G' or 0
  // Literal payloads. Integer: int_value (count suffix already applied). Float: float_value.
  // String: int_value indexes TokenList::strings.
  int64_t int_value = 0;
  double float_value = 0;

  bool is(TokenKind k) const { return kind == k; }
};

// The lexer's output: the tokens, always ending with one EndOfFile, and the decoded
// contents of the string literals among them.
struct TokenList {
  std::vector<Token> tokens;
  std::vector<std::string> strings;

  const std::string& string_value(const Token& token) const {
    return strings[static_cast<size_t>(token.int_value)];
  }
};

}  // namespace triton

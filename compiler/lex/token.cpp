// Token kind names and spellings, generated from `token_kinds.def`.
#include "lex/token.h"

#include <array>

namespace triton {
namespace {
struct TokenInfo {
  std::string_view name;
  std::string_view spelling;
  bool keyword;
};
constexpr std::array kTokens = {
#define TOKEN(id, spelling) TokenInfo{#id, spelling, false},
#define KEYWORD(id, spelling) TokenInfo{#id, spelling, true},
#include "lex/token_kinds.def"
};
}  // namespace

std::string_view token_spelling(TokenKind kind) { return kTokens[static_cast<size_t>(kind)].spelling; }
std::string_view token_kind_name(TokenKind kind) { return kTokens[static_cast<size_t>(kind)].name; }
bool is_keyword(TokenKind kind) { return kTokens[static_cast<size_t>(kind)].keyword; }

}  // namespace triton

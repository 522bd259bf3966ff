// Implements the lexer (see lexer.h). Rules, as in docs/language.md:
//   - whitespace and newlines separate tokens; a newline sets `newline_before` on the next
//     token instead of being a token;
//   - comments: `// ...` and `# ...` to the end of the line, `/* ... */` (not nested);
//   - numbers: digits [`.` digits] [(`e`|`E`) [`+`|`-`] digits] [`K`|`M`|`B`|`G`];
//   - strings: double quotes on one line with escapes \n \t \r \0 \\ \" \u{hex};
//   - identifiers: [A-Za-z_][A-Za-z0-9_]*, some of which are keywords.
#include "lex/lexer.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <unordered_map>

namespace triton {
namespace {

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

const std::unordered_map<std::string_view, TokenKind>& keyword_table() {
  static const auto* table = [] {
    auto* map = new std::unordered_map<std::string_view, TokenKind>();
#define TOKEN(id, spelling)
#define KEYWORD(id, spelling) map->emplace(spelling, TokenKind::id);
#include "lex/token_kinds.def"
    return map;
  }();
  return *table;
}

// Length of the UTF-8 sequence starting at `text[i]`, or 0 if it is malformed.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
  else return 0;
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are malformed too
  // (Python refuses a file that holds them, so they must never reach generated code).
  const auto second = static_cast<unsigned char>(text[i + 1]);
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) || (lead == 0xF0 && second < 0x90) ||
      (lead == 0xF4 && second > 0x8F))
    return 0;
  return length;
}

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

class Lexer {
 public:
  Lexer(const SourceBuffer& buffer, DiagnosticEngine& diags)
      : text_(buffer.text()), diags_(diags) {}

  TokenList run() {
    // A UTF-8 byte order mark, which some editors write, is not part of the program.
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    TokenList list;
    std::vector<Token>& tokens = list.tokens;
    // Real sources average well over 8 bytes per token; over-reserving costs page faults.
    tokens.reserve(text_.size() / 8 + 16);
    bool newline = true;
    while (true) {
      newline = skip_trivia() || newline;
      Token token = next();
      token.newline_before = newline;
      newline = false;
      const bool done = token.kind == TokenKind::EndOfFile;
      tokens.push_back(std::move(token));
      if (done || diags_.limit_reached()) break;
    }
    if (!tokens.back().is(TokenKind::EndOfFile)) {
      Token eof;
      eof.range = {size(), size()};
      eof.newline_before = true;
      tokens.push_back(std::move(eof));
    }
    list.strings = std::move(strings_);
    return list;
  }

 private:
  uint32_t size() const { return static_cast<uint32_t>(text_.size()); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  // Skips whitespace and comments; returns whether a line break was crossed.
  bool skip_trivia() {
    bool newline = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        newline = true;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '#' || (c == '/' && peek(1) == '/')) {
        while (pos_ < text_.size() && text_[pos_] != '\n') {
          // The language reference makes invalid UTF-8 an error everywhere, comments included.
          const size_t length = utf8_sequence_length(text_, pos_);
          if (length == 0) {
            const uint32_t bad_start = pos_++;
            while (pos_ < text_.size() && (static_cast<unsigned char>(text_[pos_]) & 0xC0) == 0x80) ++pos_;
            diags_.report(DiagKind::invalid_utf8, SourceRange{bad_start, pos_});
          } else {
            pos_ += static_cast<uint32_t>(length);
          }
        }
      } else if (c == '/' && peek(1) == '*') {
        const uint32_t start = pos_;
        const size_t close = text_.find("*/", pos_ + 2);
        if (close == std::string_view::npos) {
          diags_.report(DiagKind::unterminated_block_comment, SourceRange{start, start + 2});
          pos_ = size();
          return newline;
        }
        for (size_t i = pos_ + 2; i < close;) {
          newline = newline || text_[i] == '\n';
          const size_t length = utf8_sequence_length(text_, i);
          if (length == 0) {
            const size_t bad_start = i++;
            while (i < close && (static_cast<unsigned char>(text_[i]) & 0xC0) == 0x80) ++i;
            diags_.report(DiagKind::invalid_utf8, SourceRange{static_cast<uint32_t>(bad_start), static_cast<uint32_t>(i)});
          } else {
            i += length;
          }
        }
        pos_ = static_cast<uint32_t>(close + 2);
      } else {
        break;
      }
    }
    return newline;
  }

  Token make(TokenKind kind, uint32_t start) {
    Token token;
    token.kind = kind;
    token.range = {start, pos_};
    return token;
  }

  Token next() {
    const uint32_t start = pos_;
    if (pos_ >= text_.size()) return make(TokenKind::EndOfFile, start);
    const char c = text_[pos_];
    if (is_ident_start(c)) return identifier(start);
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return number(start);
    if (c == '"') return string(start);
    ++pos_;
    auto two = [&](char second, TokenKind if_two, TokenKind if_one) {
      if (peek() == second) {
        ++pos_;
        return make(if_two, start);
      }
      return make(if_one, start);
    };
    switch (c) {
      case '(': return make(TokenKind::LParen, start);
      case ')': return make(TokenKind::RParen, start);
      case '[': return make(TokenKind::LBracket, start);
      case ']': return make(TokenKind::RBracket, start);
      case '{': return make(TokenKind::LBrace, start);
      case '}': return make(TokenKind::RBrace, start);
      case ',': return make(TokenKind::Comma, start);
      case ':': return make(TokenKind::Colon, start);
      case ';': return make(TokenKind::Semicolon, start);
      case '@': return make(TokenKind::At, start);
      case '%': return make(TokenKind::Percent, start);
      case '.':
        if (peek() == '.' && peek(1) == '.') {
          pos_ += 2;
          return make(TokenKind::Ellipsis, start);
        }
        return make(TokenKind::Dot, start);
      case '+': return two('=', TokenKind::PlusAssign, TokenKind::Plus);
      case '-':
        if (peek() == '>') {
          ++pos_;
          return make(TokenKind::Arrow, start);
        }
        return two('=', TokenKind::MinusAssign, TokenKind::Minus);
      case '*':
        if (peek() == '*') {
          ++pos_;
          return make(TokenKind::StarStar, start);
        }
        return two('=', TokenKind::StarAssign, TokenKind::Star);
      case '/': return two('=', TokenKind::SlashAssign, TokenKind::Slash);
      case '=': return two('=', TokenKind::EqualEqual, TokenKind::Assign);
      case '<': return two('=', TokenKind::LessEqual, TokenKind::Less);
      case '>': return two('=', TokenKind::GreaterEqual, TokenKind::Greater);
      case '!':
        if (peek() == '=') {
          ++pos_;
          return make(TokenKind::NotEqual, start);
        }
        break;
      case '\'': return single_quoted(start);
      default: break;
    }
    return stray(start);
  }

  Token stray(uint32_t start) {
    const size_t length = utf8_sequence_length(text_, start);
    if (length == 0) {
      // One diagnostic for a run of bad bytes, not one per byte.
      pos_ = start + 1;
      while (pos_ < text_.size() && static_cast<unsigned char>(text_[pos_]) >= 0x80 &&
             utf8_sequence_length(text_, pos_) == 0) {
        ++pos_;
      }
      diags_.report(DiagKind::invalid_utf8, SourceRange{start, pos_});
      return make(TokenKind::Error, start);
    }
    pos_ = static_cast<uint32_t>(start + length);
    const std::string shown(text_.substr(start, length));
    diags_.report(DiagKind::stray_character, SourceRange{start, pos_}, {shown});
    return make(TokenKind::Error, start);
  }

  // 'abc' is a common slip from Python; consume it as one bad token so the rest of the
  // line is not reported character by character.
  Token single_quoted(uint32_t start) {
    while (pos_ < text_.size() && text_[pos_] != '\'' && text_[pos_] != '\n') ++pos_;
    if (peek() == '\'') ++pos_;
    diags_.report(DiagKind::single_quoted_string, SourceRange{start, pos_});
    return make(TokenKind::Error, start);
  }

  Token identifier(uint32_t start) {
    while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    const auto& keywords = keyword_table();
    if (auto it = keywords.find(word); it != keywords.end()) return make(it->second, start);
    return make(TokenKind::Identifier, start);
  }

  Token number(uint32_t start) {
    bool is_float = false;
    while (is_digit(peek())) ++pos_;
    if (peek() == '.' && is_digit(peek(1))) {
      is_float = true;
      ++pos_;
      while (is_digit(peek())) ++pos_;
    } else if (peek() == '.' && !(peek(1) == '.') && !is_ident_start(peek(1))) {
      // `1.` is accepted as a float, as in Python; `1.x` stays member access on 1.
      is_float = true;
      ++pos_;
    }
    bool bad = false;
    if ((peek() == 'e' || peek() == 'E') &&
        (is_digit(peek(1)) || ((peek(1) == '+' || peek(1) == '-')))) {
      is_float = true;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!is_digit(peek())) {
        consume_word_tail();
        diags_.report(DiagKind::number_missing_exponent, SourceRange{start, pos_},
                      {text_.substr(start, pos_ - start)});
        return make(TokenKind::Error, start);
      }
      while (is_digit(peek())) ++pos_;
    } else if ((peek() == 'e' || peek() == 'E') && !is_ident_char(peek(1))) {
      ++pos_;
      diags_.report(DiagKind::number_missing_exponent, SourceRange{start, pos_},
                    {text_.substr(start, pos_ - start)});
      return make(TokenKind::Error, start);
    }
    const uint32_t digits_end = pos_;
    char suffix = 0;
    if (is_ident_start(peek())) {
      const uint32_t suffix_start = pos_;
      consume_word_tail();
      const std::string_view tail = text_.substr(suffix_start, pos_ - suffix_start);
      if (tail == "K" || tail == "M" || tail == "B" || tail == "G") {
        suffix = tail[0];
      } else {
        bad = true;
        diags_.report(DiagKind::number_invalid_suffix, SourceRange{suffix_start, pos_},
                      {tail, text_.substr(start, pos_ - start)});
      }
    }
    // `1.2.3`: a second fraction is a malformed number, not member access.
    if (!bad && peek() == '.' && is_digit(peek(1))) {
      while (is_digit(peek()) || peek() == '.') ++pos_;
      diags_.report(DiagKind::number_extra_dot, SourceRange{start, pos_},
                    {text_.substr(start, pos_ - start)});
      bad = true;
    }
    if (bad) return make(TokenKind::Error, start);

    const std::string digits(text_.substr(start, digits_end - start));
    const double multiplier = suffix == 'K' ? 1e3 : suffix == 'M' ? 1e6
                            : (suffix == 'B' || suffix == 'G') ? 1e9 : 1.0;
    Token token = make(TokenKind::Float, start);
    token.suffix = suffix;
    errno = 0;
    const double value = std::strtod(digits.c_str(), nullptr) * multiplier;
    if (errno == ERANGE && std::isinf(value)) {
      diags_.report(DiagKind::number_too_large, token.range, {text_.substr(start, pos_ - start)});
      return make(TokenKind::Error, start);
    }
    token.float_value = value;
    if (!is_float) {
      errno = 0;
      const unsigned long long raw = std::strtoull(digits.c_str(), nullptr, 10);
      const auto scale = static_cast<unsigned long long>(multiplier);
      if (errno == ERANGE || raw > static_cast<unsigned long long>(INT64_MAX) / scale) {
        diags_.report(DiagKind::number_too_large, token.range, {text_.substr(start, pos_ - start)});
        return make(TokenKind::Error, start);
      }
      token.kind = TokenKind::Integer;
      token.int_value = static_cast<int64_t>(raw * scale);
    } else if (suffix != 0 && value == std::floor(value) && std::fabs(value) < 9.0e18) {
      // `16.8B` is a count: a whole number once the suffix is applied.
      token.kind = TokenKind::Integer;
      token.int_value = static_cast<int64_t>(std::llround(value));
    }
    return token;
  }

  void consume_word_tail() {
    while (is_ident_char(peek())) ++pos_;
  }

  Token string(uint32_t start) {
    ++pos_;  // opening quote
    std::string value;
    bool bad = false;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') {
        diags_.report(DiagKind::unterminated_string, SourceRange{start, pos_});
        return make(TokenKind::Error, start);
      }
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        break;
      }
      if (static_cast<unsigned char>(c) >= 0x80) {
        // Strings are copied into the generated program, which Python decodes as UTF-8.
        const size_t length = utf8_sequence_length(text_, pos_);
        if (length == 0) {
          // One diagnostic per malformed sequence: its stray continuation bytes go with it.
          const uint32_t bad_start = pos_++;
          while (pos_ < text_.size() && (static_cast<unsigned char>(text_[pos_]) & 0xC0) == 0x80) ++pos_;
          diags_.report(DiagKind::invalid_utf8, SourceRange{bad_start, pos_});
          bad = true;
          continue;
        }
        value.append(text_.substr(pos_, length));
        pos_ += static_cast<uint32_t>(length);
        continue;
      }
      if (c != '\\') {
        value.push_back(c);
        ++pos_;
        continue;
      }
      const uint32_t escape_start = pos_;
      const char e = peek(1);
      pos_ += 2;
      switch (e) {
        case 'n': value.push_back('\n'); break;
        case 't': value.push_back('\t'); break;
        case 'r': value.push_back('\r'); break;
        case '0': value.push_back('\0'); break;
        case '\\': value.push_back('\\'); break;
        case '"': value.push_back('"'); break;
        case 'u':
          if (!unicode_escape(value)) {
            diags_.report(DiagKind::invalid_escape, SourceRange{escape_start, pos_},
                          {text_.substr(escape_start + 1, pos_ - escape_start - 1)});
            bad = true;
          }
          break;
        case '\n':
        case '\0':
          pos_ = escape_start + 1;  // let the loop report the unterminated string
          break;
        default: {
          const size_t length = std::max<size_t>(1, utf8_sequence_length(text_, escape_start + 1));
          pos_ = static_cast<uint32_t>(escape_start + 1 + length);
          diags_.report(DiagKind::invalid_escape, SourceRange{escape_start, pos_},
                        {text_.substr(escape_start + 1, length)});
          bad = true;
        }
      }
    }
    if (bad) return make(TokenKind::Error, start);
    Token token = make(TokenKind::String, start);
    token.int_value = static_cast<int64_t>(strings_.size());
    strings_.push_back(std::move(value));
    return token;
  }

  // After `\u`: `{` 1-6 hex digits `}` naming a Unicode scalar value.
  bool unicode_escape(std::string& value) {
    if (peek() != '{') return false;
    ++pos_;
    uint32_t code_point = 0;
    int digits = 0;
    while (std::isxdigit(static_cast<unsigned char>(peek())) && digits < 7) {
      const char h = peek();
      code_point = code_point * 16 + static_cast<uint32_t>(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
      ++digits;
      ++pos_;
    }
    if (peek() != '}' || digits == 0 || digits > 6) return false;
    ++pos_;
    if (code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
    append_utf8(value, code_point);
    return true;
  }

  std::string_view text_;
  DiagnosticEngine& diags_;
  uint32_t pos_ = 0;
  std::vector<std::string> strings_;
};


}  // namespace

std::string quote_for_dump(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      default: out.push_back(c);
    }
  }
  return out + "\"";
}

TokenList lex(const SourceBuffer& buffer, DiagnosticEngine& diags, const LexerLimits& limits) {
  if (buffer.text().size() > limits.max_file_bytes) {
    diags.report(DiagKind::file_too_large, std::nullopt,
                 {std::to_string(buffer.text().size()), std::to_string(limits.max_file_bytes)});
    TokenList list;
    list.tokens.emplace_back().newline_before = true;
    return list;
  }
  return Lexer(buffer, diags).run();
}

std::string dump_tokens(const SourceBuffer& buffer, const TokenList& tokens) {
  std::string out;
  for (const Token& token : tokens.tokens) {
    const LineColumn lc = buffer.line_column(token.range.begin);
    out += std::to_string(lc.line) + ":" + std::to_string(lc.column) + " ";
    out += token_kind_name(token.kind);
    out += " ";
    out += quote_for_dump(buffer.slice(token.range));
    switch (token.kind) {
      case TokenKind::Integer: out += " = " + std::to_string(token.int_value); break;
      case TokenKind::Float: {
        // Shortest text that reads back as the same double: stable across platforms.
        char text[64];
        const auto result = std::to_chars(text, text + sizeof text, token.float_value);
        out += " = ";
        out.append(text, result.ptr);
        break;
      }
      case TokenKind::String: out += " = " + quote_for_dump(tokens.string_value(token)); break;
      default: break;
    }
    if (token.newline_before) out += " (line start)";
    out += '\n';
  }
  return out;
}

}  // namespace triton

// The parser's core: the token cursor, error reporting and recovery, and the top level
// (the file and its declarations). Items, statements and expressions live in
// parse_decl.cpp, parse_stmt.cpp and parse_expr.cpp.
#include "parse/parser.h"

#include <array>

#include "diag/edit_distance.h"
#include "diag/internal_error.h"
#include "parse/parser_impl.h"

namespace triton {
namespace parse_detail {
namespace {

constexpr std::array<std::string_view, 3> kDeclKeywords = {"model", "block", "layer"};

}  // namespace

Parser::Parser(const TokenList& tokens, DiagnosticEngine& diags, const ParserLimits& limits)
    : list_(tokens), tokens_(tokens.tokens), diags_(diags), limits_(limits) {}

const Token& Parser::advance() {
  const Token& current = tokens_[pos_];
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return current;
}

bool Parser::consume(TokenKind kind) {
  if (!at(kind)) return false;
  advance();
  return true;
}

bool Parser::expect(TokenKind kind, std::string_view what) {
  if (consume(kind)) return true;
  report_expected(DiagKind::expected_token, what);
  return false;
}

std::string Parser::describe_current(bool at_item_start) const {
  if (at_end()) return "end of file";
  if (!at_item_start && tok().newline_before && newline_significant() && pos_ > 0) {
    return "end of line";
  }
  std::string_view text = diags_.buffer().slice(tok().range);
  if (text.size() > 32) return "`" + std::string(text.substr(0, 29)) + "...`";
  return "`" + std::string(text) + "`";
}

// Lexer error tokens stay in the stream: they were reported already, so every "expected"
// message is silent at one, and the construct around it fails quietly and recovers.
void Parser::report_expected(DiagKind kind, std::string_view what) {
  if (at(TokenKind::Error)) return;
  const bool end_of_line = tok().newline_before && newline_significant() && pos_ > 0 && !at_end();
  const SourceRange where = end_of_line ? SourceRange{previous().range.end, previous().range.end}
                                        : tok().range;
  const std::string found = describe_current();
  diags_.report(kind, where, {what, found});
}

void Parser::report_expected(DiagKind kind) {
  if (at(TokenKind::Error)) return;
  const std::string found = describe_current(/*at_item_start=*/true);
  diags_.report(kind, tok().range, {found});
}

void Parser::report_unclosed(TokenKind closer, SourceRange open) {
  if (at(TokenKind::Error)) return;
  const std::string what = "`" + std::string(token_spelling(closer)) + "`";
  const std::string opener(diags_.buffer().slice(open));
  const SourceRange where = at_end() ? tok().range : tok().range;
  diags_.report(DiagKind::expected_token, where, {what, describe_current()})
      .note(DiagKind::note_to_match, open, {opener});
}

bool Parser::enter_level() {
  if (depth_ >= limits_.max_nesting_depth) {
    if (!abandoned_) {
      diags_.report(DiagKind::nesting_too_deep, tok().range,
                          {std::to_string(limits_.max_nesting_depth)});
    }
    abandoned_ = true;
    return false;
  }
  ++depth_;
  return true;
}

void Parser::recover_to_item_end() {
  uint32_t depth = 0;
  bool moved = false;
  while (!at_end()) {
    const Token& t = tok();
    if (depth == 0) {
      if (t.is(TokenKind::RBrace)) return;
      if (t.is(TokenKind::Comma) || t.is(TokenKind::Semicolon)) {
        advance();
        return;
      }
      if (moved && t.newline_before) return;
    }
    switch (t.kind) {
      case TokenKind::LParen:
      case TokenKind::LBracket:
      case TokenKind::LBrace: ++depth; break;
      case TokenKind::RParen:
      case TokenKind::RBracket:
      case TokenKind::RBrace:
        if (depth > 0) --depth;
        break;
      default: break;
    }
    advance();
    moved = true;
  }
}

void Parser::expect_separator(std::string_view after_what) {
  if (consume(TokenKind::Comma) || consume(TokenKind::Semicolon)) return;
  if (at(TokenKind::RBrace) || at_end() || tok().newline_before) return;
  // An entry that ends with its own `}` needs no separator: `if (c) { A {} B {} }`.
  if (previous().is(TokenKind::RBrace)) return;
  if (at(TokenKind::Error)) {
    recover_to_item_end();
    return;
  }
  const std::string found = describe_current();
  diags_.report(DiagKind::expected_separator, tok().range, {after_what, found});
  recover_to_item_end();
}

// name = IDENT          (a keyword is reported, then accepted, to keep parsing)
bool Parser::parse_name(ast::Identifier& out, std::string_view what) {
  if (at(TokenKind::Identifier)) {
    out = {text(tok()), tok().range};
    advance();
    return true;
  }
  if (is_keyword(tok().kind) && !(tok().newline_before && newline_significant())) {
    // Report, then use it as the name so the rest of the construct still parses.
    const std::string word(token_spelling(tok().kind));
    diags_.report(DiagKind::keyword_as_name, tok().range, {word});
    out = {word, tok().range};
    advance();
    return true;
  }
  report_expected(DiagKind::expected_token, what);
  return false;
}

// fn_decl = "fn" IDENT "(" [ fparam { "," fparam } [ "," ] ] ")" [ "->" type ] stmt_block ;
std::unique_ptr<ast::FnDecl> Parser::parse_fn_decl() {
  const uint32_t begin = tok().range.begin;
  auto fn = std::make_unique<ast::FnDecl>();
  fn->keyword_range = tok().range;
  advance();  // `fn`
  if (!parse_name(fn->name, "a function name")) return nullptr;
  auto sig = parse_forward_rest(begin, fn->keyword_range);
  if (!sig) return nullptr;
  fn->signature.reset(static_cast<ast::ForwardItem*>(sig.release()));
  fn->range = range_from(begin);
  return fn;
}

bool Parser::at_fn_decl() const {
  return at(TokenKind::Identifier) && text(tok()) == "fn" && peek().is(TokenKind::Identifier) && !peek().newline_before;
}

// file = { decl | fn_decl } EOF
// decl = ("model" | "block" | "layer") IDENT "{" { item } "}"
ast::File Parser::parse_file() {
  ast::File file;
  file.range = {0, diags_.buffer().size()};
  // Skips to the next line that starts with a declaration keyword, outside any braces.
  auto skip_to_next_decl = [&] {
    uint32_t depth = 0;
    advance();
    while (!at_end()) {
      if (depth == 0 && tok().newline_before &&
          (at(TokenKind::KwModel) || at(TokenKind::KwBlock) || at(TokenKind::KwLayer) || at_fn_decl())) {
        break;
      }
      if (at(TokenKind::LBrace)) ++depth;
      if (at(TokenKind::RBrace) && depth > 0) --depth;
      advance();
    }
  };
  while (!at_end() && !abandoned()) {
    if (at_fn_decl()) {
      if (auto fn = parse_fn_decl()) file.functions.push_back(std::move(fn));
      else skip_to_next_decl();
      continue;
    }
    std::optional<ast::DeclKind> kind;
    if (at(TokenKind::KwModel)) kind = ast::DeclKind::Model;
    else if (at(TokenKind::KwBlock)) kind = ast::DeclKind::Block;
    else if (at(TokenKind::KwLayer)) kind = ast::DeclKind::Layer;
    else if (at(TokenKind::Identifier) && peek().is(TokenKind::Identifier) &&
             !peek().newline_before) {
      // `modle Net {`: a misspelled declaration keyword; parse on as what was meant.
      if (auto match = closest_match(text(tok()), kDeclKeywords)) {
        diags_.report(DiagKind::misspelled_keyword, tok().range, {text(tok()), *match});
        kind = *match == "model" ? ast::DeclKind::Model
             : *match == "block" ? ast::DeclKind::Block : ast::DeclKind::Layer;
      }
    }
    if (!kind) {
      if (at(TokenKind::RBrace) || at(TokenKind::RParen) || at(TokenKind::RBracket)) {
        diags_.report(DiagKind::unmatched_closing, tok().range,
                            {token_spelling(tok().kind)});
      } else if (!at(TokenKind::Error)) {
        report_expected(DiagKind::expected_declaration);
      }
      skip_to_next_decl();
      continue;
    }
    if (auto decl = parse_decl(*kind)) file.decls.push_back(std::move(decl));
  }
  if (file.decls.empty() && file.functions.empty() && !diags_.has_errors()) {
    diags_.report(DiagKind::no_declarations, std::nullopt, {diags_.buffer().name()});
  }
  return file;
}

// decl = ( "model" | "block" | "layer" ) IDENT "{" { item } "}"
std::unique_ptr<ast::Decl> Parser::parse_decl(ast::DeclKind kind) {
  auto decl = std::make_unique<ast::Decl>();
  decl->kind = kind;
  decl->keyword_range = tok().range;
  const uint32_t begin = tok().range.begin;
  advance();
  const std::string what = "a name after `" + std::string(ast::spelling(kind)) + "`";
  if (!parse_name(decl->name, what)) {
    // Resynchronize on the body if it is there, otherwise on the next declaration.
    while (!at_end() && !at(TokenKind::LBrace) &&
           !(tok().newline_before && (at(TokenKind::KwModel) || at(TokenKind::KwBlock)))) {
      advance();
    }
    if (!at(TokenKind::LBrace)) return nullptr;
  }
  parse_braced("the item", [&] { return parse_item(*decl); });
  decl->range = range_from(begin);
  return decl;
}

}  // namespace parse_detail

ast::File parse(const TokenList& tokens, DiagnosticEngine& diags, const ParserLimits& limits) {
  check_invariant(!tokens.tokens.empty() && tokens.tokens.back().is(TokenKind::EndOfFile),
                  "the token stream must end with EndOfFile");
  parse_detail::Parser parser(tokens, diags, limits);
  return parser.parse_file();
}

}  // namespace triton

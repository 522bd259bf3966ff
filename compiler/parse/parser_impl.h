// The Parser class shared by the parse_*.cpp files (one per group of constructs: the file
// and declarations, declaration items, statements, expressions). Internal to parse/.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ast/ast.h"
#include "diag/diagnostic.h"
#include "lex/token.h"
#include "parse/parser.h"

namespace triton::parse_detail {

class Parser {
 public:
  Parser(const TokenList& tokens, DiagnosticEngine& diags, const ParserLimits& limits);
  ast::File parse_file();

  // ---- token stream (parser.cpp) ----
  const Token& tok() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& previous() const { return tokens_[pos_ == 0 ? 0 : pos_ - 1]; }
  // An identifier's name or a string literal's decoded contents.
  std::string text(const Token& token) const {
    if (token.is(TokenKind::String)) return list_.string_value(token);
    return std::string(diags_.buffer().slice(token.range));
  }
  bool at(TokenKind kind) const { return tokens_[pos_].kind == kind; }
  bool at_end() const { return at(TokenKind::EndOfFile); }
  const Token& advance();
  bool consume(TokenKind kind);
  // Consumes `kind` or reports "expected <what>, found <current>" and returns false.
  bool expect(TokenKind kind, std::string_view what);
  // The same, building the description only on failure (the common path is success, and a
  // model with 100,000 layers would otherwise format 100,000 unused messages).
  template <class MakeWhat>
    requires std::is_invocable_r_v<std::string, MakeWhat>
  bool expect(TokenKind kind, MakeWhat&& what) {
    if (consume(kind)) return true;
    report_expected(DiagKind::expected_token, what());
    return false;
  }
  // Reports `kind` with args {what, found} at the current token, or just after the previous
  // token when the current one starts a new line ("found end of line").
  void report_expected(DiagKind kind, std::string_view what);
  void report_expected(DiagKind kind);
  // `at_item_start`: the current token begins the construct being reported, so it is
  // described itself rather than as "end of line".
  std::string describe_current(bool at_item_start = false) const;
  // "expected `}`, found ..." with a note "to match this `{`" at `open`.
  void report_unclosed(TokenKind closer, SourceRange open);
  SourceRange range_from(uint32_t begin) const { return {begin, previous().range.end}; }

  // ---- newline significance ----
  // Inside `{}` a line break ends an item or a statement; inside `()` and `[]` it does not.
  bool newline_significant() const { return newline_modes_.back(); }
  bool at_line_break() const { return tok().newline_before && newline_significant(); }

  // ---- limits and recovery ----
  // Enters one nesting level; false (after reporting once) when the limit is exceeded, in
  // which case the parser abandons the rest of the file.
  bool enter_level();
  void leave_level() { --depth_; }
  bool abandoned() const { return abandoned_ || diags_.limit_reached(); }
  // Skips to the end of the current item or statement: a `,` or `;` (consumed), the start of
  // a new line, or a `}` closing the enclosing block (not consumed), at the current depth.
  void recover_to_item_end();
  // After an item or statement: accepts `,`/`;`, a line break or a closing `}`.
  void expect_separator(std::string_view after_what);
  // Parses `{ entry (sep entry)* }` calling `entry()` for each; handles separators, recovery
  // and the closing brace with a "to match this `{`" note. Returns the range of the braces.
  template <class EntryFn>
  SourceRange parse_braced(std::string_view entry_name, EntryFn entry);

  // ---- file and declarations (parser.cpp) ----
  std::unique_ptr<ast::Decl> parse_decl(ast::DeclKind kind);
  bool parse_name(ast::Identifier& out, std::string_view what);

  // ---- items (parse_decl.cpp) ----
  bool parse_item(ast::Decl& decl);
  ast::ItemPtr parse_named_item();
  ast::ItemPtr parse_params();
  ast::ItemPtr parse_layer_item();
  ast::LayerSpecPtr parse_layer_spec();
  ast::ItemPtr parse_forward_rest(uint32_t begin, SourceRange keyword);
  std::unique_ptr<ast::FnDecl> parse_fn_decl();
  bool at_fn_decl() const;
  bool parse_layer_branch(std::vector<ast::LayerSpecPtr>& out);
  void parse_layer_body(ast::LayerSpec& spec);
  ast::ItemPtr parse_tensor_item(bool is_state);
  ast::ItemPtr parse_forward();
  ast::ItemPtr parse_section(ast::SectionKind kind, const ast::Identifier& name);
  ast::TypeExprPtr parse_type();
  bool parse_attribute(std::vector<ast::Attribute>& out);

  // ---- statements (parse_stmt.cpp) ----
  bool parse_stmt_block(ast::StmtBlock& block);
  ast::StmtPtr parse_stmt();
  ast::StmtPtr parse_if_stmt();
  ast::StmtPtr parse_for_stmt();
  bool check_assignment_target(const ast::Expr& target);

  // ---- expressions (parse_expr.cpp) ----
  ast::ExprPtr parse_expr();
  ast::ExprPtr parse_expr_list();  // `a, b` becomes an unparenthesized tuple
  ast::ExprPtr parse_or();
  ast::ExprPtr parse_and();
  ast::ExprPtr parse_not();
  ast::ExprPtr parse_comparison();
  ast::ExprPtr parse_arith();
  ast::ExprPtr parse_term();
  ast::ExprPtr parse_factor();
  ast::ExprPtr parse_power();
  ast::ExprPtr parse_postfix();
  ast::ExprPtr parse_primary();
  ast::ExprPtr parse_paren();
  std::unique_ptr<ast::ListExpr> parse_list();
  std::unique_ptr<ast::MapExpr> parse_map();
  bool parse_map_entry(ast::MapExpr& map);
  ast::ExprPtr parse_call(ast::ExprPtr callee);
  ast::ExprPtr parse_index(ast::ExprPtr object);
  ast::ExprPtr parse_index_item();

  const TokenList& list_;
  const std::vector<Token>& tokens_;
  DiagnosticEngine& diags_;
  ParserLimits limits_;
  size_t pos_ = 0;
  uint32_t depth_ = 0;
  bool abandoned_ = false;
  std::vector<bool> newline_modes_{true};
};

// RAII for a nesting level; `ok()` is false when the limit was hit.
class LevelGuard {
 public:
  explicit LevelGuard(Parser& parser) : parser_(parser), ok_(parser.enter_level()) {}
  ~LevelGuard() {
    if (ok_) parser_.leave_level();
  }
  bool ok() const { return ok_; }

 private:
  Parser& parser_;
  bool ok_;
};

// Counts each link of an operator chain (`a + b + c`, `x.y[0](z)`) as a nesting level: the
// parser builds such chains in a loop, but the tree they make is as deep as the chain, and
// every later walk over it (the dump, the checker, even destruction) recurses.
class ChainDepth {
 public:
  explicit ChainDepth(Parser& parser) : parser_(parser) {}
  ~ChainDepth() {
    for (uint32_t i = 0; i < taken_; ++i) parser_.leave_level();
  }
  bool step() {
    if (!parser_.enter_level()) return false;
    ++taken_;
    return true;
  }

 private:
  Parser& parser_;
  uint32_t taken_ = 0;
};

// RAII for the newline mode of a bracket context.
class NewlineMode {
 public:
  NewlineMode(Parser& parser, bool significant) : parser_(parser) {
    parser_.newline_modes_.push_back(significant);
  }
  ~NewlineMode() { parser_.newline_modes_.pop_back(); }

 private:
  Parser& parser_;
};

template <class EntryFn>
SourceRange Parser::parse_braced(std::string_view entry_name, EntryFn entry) {
  const SourceRange open = tok().range;
  if (!expect(TokenKind::LBrace, "`{`")) return open;
  LevelGuard level(*this);
  if (!level.ok()) return open;
  NewlineMode mode(*this, true);
  while (!at(TokenKind::RBrace) && !at_end() && !abandoned()) {
    if (consume(TokenKind::Comma) || consume(TokenKind::Semicolon)) continue;
    const size_t before = pos_;
    if (entry()) {
      expect_separator(entry_name);
    } else {
      recover_to_item_end();
    }
    if (pos_ == before) advance();  // guarantees progress whatever entry() did
  }
  if (abandoned()) return open;
  if (!at(TokenKind::RBrace)) {
    report_unclosed(TokenKind::RBrace, open);
    return open;
  }
  advance();
  return {open.begin, previous().range.end};
}

}  // namespace triton::parse_detail

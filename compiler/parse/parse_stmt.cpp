// Parsing of forward bodies: blocks, assignments (plain, unpacking, augmented), `if`/`else`,
// `return` and expression statements.
#include <array>

#include "ast/ast_printer.h"
#include "diag/edit_distance.h"
#include "parse/parser_impl.h"

namespace triton::parse_detail {
namespace {

std::optional<BinaryOp> augmented_op(TokenKind kind) {
  switch (kind) {
    case TokenKind::PlusAssign: return BinaryOp::Add;
    case TokenKind::MinusAssign: return BinaryOp::Sub;
    case TokenKind::StarAssign: return BinaryOp::Mul;
    case TokenKind::SlashAssign: return BinaryOp::Div;
    default: return std::nullopt;
  }
}

// Tokens that can begin an expression; used to spot `retrun x` (a word, then more on the line).
bool starts_expression(TokenKind kind) {
  switch (kind) {
    case TokenKind::Identifier:
    case TokenKind::Integer:
    case TokenKind::Float:
    case TokenKind::String:
    case TokenKind::KwTrue:
    case TokenKind::KwFalse:
    case TokenKind::KwTrueCap:
    case TokenKind::KwFalseCap:
    case TokenKind::KwNone:
    case TokenKind::KwNot:
      return true;
    default:
      return false;
  }
}

}  // namespace

// stmt_block = "{" { stmt } "}"
bool Parser::parse_stmt_block(ast::StmtBlock& block) {
  if (!at(TokenKind::LBrace)) {
    report_expected(DiagKind::expected_token, "`{`");
    return false;
  }
  const uint32_t begin = tok().range.begin;
  parse_braced("the statement", [&] {
    auto stmt = parse_stmt();
    if (!stmt) return false;
    block.stmts.push_back(std::move(stmt));
    return true;
  });
  block.range = range_from(begin);
  return true;
}

// stmt = if_stmt
//      | for_stmt
//      | "return" [ expr_list ]
//      | expr_list [ ( "=" | "+=" | "-=" | "*=" | "/=" ) expr_list ]
ast::StmtPtr Parser::parse_stmt() {
  const uint32_t begin = tok().range.begin;
  if (at(TokenKind::KwIf)) return parse_if_stmt();
  if (at(TokenKind::Identifier) && text(tok()) == "for" && peek().kind == TokenKind::Identifier && !peek().newline_before)
    return parse_for_stmt();
  if (at(TokenKind::Identifier) && text(tok()) == "elif") {
    diags_.report(DiagKind::elif_keyword, tok().range);
    return parse_if_stmt();  // parse it as an `if` so its body raises no further errors
  }
  if (consume(TokenKind::KwReturn)) {
    auto stmt = std::make_unique<ast::ReturnStmt>(SourceRange{});
    if (!at_line_break() && !at(TokenKind::RBrace) && !at(TokenKind::Semicolon) && !at_end()) {
      stmt->value = parse_expr_list();
      if (!stmt->value) return nullptr;
    }
    stmt->range = range_from(begin);
    return stmt;
  }
  if (at(TokenKind::KwElse)) {
    report_expected(DiagKind::expected_statement);
    return nullptr;
  }
  // `retrun x`: a lone word followed by more on the same line is a misspelled keyword.
  if (at(TokenKind::Identifier) && starts_expression(peek().kind) && !peek().newline_before) {
    static constexpr std::array<std::string_view, 2> kStmtKeywords = {"return", "if"};
    if (auto match = closest_match(text(tok()), kStmtKeywords)) {
      diags_.report(DiagKind::misspelled_keyword, tok().range, {text(tok()), *match});
      if (*match == "if") return parse_if_stmt();
      advance();
      auto stmt = std::make_unique<ast::ReturnStmt>(SourceRange{});
      stmt->value = parse_expr_list();
      if (!stmt->value) return nullptr;
      stmt->range = range_from(begin);
      return stmt;
    }
  }
  auto lhs = parse_expr_list();
  if (!lhs) return nullptr;
  if (at(TokenKind::Assign)) {
    advance();
    if (!check_assignment_target(*lhs)) return nullptr;
    auto stmt = std::make_unique<ast::AssignStmt>(SourceRange{});
    stmt->target = std::move(lhs);
    stmt->value = parse_expr_list();
    if (!stmt->value) return nullptr;
    stmt->range = range_from(begin);
    return stmt;
  }
  if (auto op = augmented_op(tok().kind)) {
    auto stmt = std::make_unique<ast::AugAssignStmt>(SourceRange{});
    stmt->op = *op;
    stmt->op_range = tok().range;
    advance();
    if (ast::isa<ast::TupleExpr>(lhs.get())) {
      diags_.report(DiagKind::invalid_assignment_target, lhs->range,
                          {"a tuple with `" + std::string(token_spelling(previous().kind)) + "`"});
      return nullptr;
    }
    if (!check_assignment_target(*lhs)) return nullptr;
    stmt->target = std::move(lhs);
    stmt->value = parse_expr();
    if (!stmt->value) return nullptr;
    stmt->range = range_from(begin);
    return stmt;
  }
  auto stmt = std::make_unique<ast::ExprStmt>(SourceRange{});
  stmt->expr = std::move(lhs);
  stmt->range = range_from(begin);
  return stmt;
}

// Targets are names, member accesses, indexings, or tuples of those.
bool Parser::check_assignment_target(const ast::Expr& target) {
  switch (target.kind) {
    case ast::ExprKind::Name:
    case ast::ExprKind::Member:
    case ast::ExprKind::Index:
      return true;
    case ast::ExprKind::Tuple:
      for (const auto& element : ast::cast<ast::TupleExpr>(target).elements) {
        if (!check_assignment_target(*element)) return false;
      }
      return true;
    default: {
      const std::string what = "`" + ast::to_source(target) + "`";
      diags_.report(DiagKind::invalid_assignment_target, target.range, {what});
      return false;
    }
  }
}

// for_stmt = "for" IDENT "in" expr stmt_block      (the checker wants `range(...)` there)
ast::StmtPtr Parser::parse_for_stmt() {
  LevelGuard level(*this);  // loops nest
  if (!level.ok()) return nullptr;
  const uint32_t begin = tok().range.begin;
  advance();  // `for`
  auto stmt = std::make_unique<ast::ForStmt>(SourceRange{});
  stmt->var = ast::Identifier{std::string(text(tok())), tok().range};
  advance();
  if (!(at(TokenKind::Identifier) && text(tok()) == "in")) {
    report_expected(DiagKind::expected_token, "`in`");
    return nullptr;
  }
  advance();
  stmt->iterable = parse_expr();
  if (!stmt->iterable) return nullptr;
  if (!parse_stmt_block(stmt->body)) return nullptr;
  stmt->range = range_from(begin);
  return stmt;
}

// if_stmt = "if" expr stmt_block [ "else" ( if_stmt | stmt_block ) ]
ast::StmtPtr Parser::parse_if_stmt() {
  LevelGuard level(*this);  // `else if` chains recurse
  if (!level.ok()) return nullptr;
  const uint32_t begin = tok().range.begin;
  advance();  // `if` (or a misspelling of it)
  auto stmt = std::make_unique<ast::IfStmt>(SourceRange{});
  stmt->condition = parse_expr();
  if (!stmt->condition) return nullptr;
  if (at(TokenKind::Assign)) {
    diags_.report(DiagKind::assignment_in_condition, tok().range);
    return nullptr;
  }
  if (!parse_stmt_block(stmt->then_body)) return nullptr;
  // `else` may sit on the line after the closing brace.
  if (at(TokenKind::KwElse)) {
    advance();
    stmt->has_else = true;
    if (at(TokenKind::KwIf)) {
      const uint32_t else_begin = tok().range.begin;
      auto nested = parse_if_stmt();
      if (!nested) return nullptr;
      stmt->else_body.stmts.push_back(std::move(nested));
      stmt->else_body.range = range_from(else_begin);
    } else if (!parse_stmt_block(stmt->else_body)) {
      return nullptr;
    }
  }
  stmt->range = range_from(begin);
  return stmt;
}

}  // namespace triton::parse_detail

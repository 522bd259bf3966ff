// Parsing of expressions by precedence climbing, lowest first:
//   conditional `a if c else b` < `or` < `and` < `not` < comparisons (== != < <= > >= is,
//   is not) < `+ -` < `* / % @` < unary `- +` < `**` (right-associative) < postfix
//   (call, index, member) < primary.
// Outside brackets a line break ends an expression; inside `()` and `[]` it does not.
#include "ast/ast_printer.h"
#include "parse/parser_impl.h"

namespace triton::parse_detail {
namespace {

template <class T, class... Args>
std::unique_ptr<T> make_node(SourceRange range, Args&&... args) {
  return std::make_unique<T>(range, std::forward<Args>(args)...);
}

ast::ExprPtr make_binary(BinaryOp op, SourceRange op_range, ast::ExprPtr lhs, ast::ExprPtr rhs) {
  auto node = make_node<ast::BinaryExpr>(SourceRange::cover(lhs->range, rhs->range));
  node->op = op;
  node->op_range = op_range;
  node->lhs = std::move(lhs);
  node->rhs = std::move(rhs);
  return node;
}

}  // namespace

// expr_list = expr { "," expr } [ "," ]      (a tuple when there is a comma)
ast::ExprPtr Parser::parse_expr_list() {
  auto first = parse_expr();
  if (!first || !at(TokenKind::Comma)) return first;
  auto tuple = make_node<ast::TupleExpr>(first->range);
  tuple->elements.push_back(std::move(first));
  while (consume(TokenKind::Comma)) {
    // A trailing comma: `(a,)`, `return a, b,`.
    if (at_line_break() || at(TokenKind::Assign) || at(TokenKind::RBrace) ||
        at(TokenKind::RParen) || at(TokenKind::RBracket) || at_end()) {
      break;
    }
    auto next = parse_expr();
    if (!next) return nullptr;
    tuple->elements.push_back(std::move(next));
  }
  tuple->range = range_from(tuple->range.begin);
  return tuple;
}

// expr = or_expr [ "if" or_expr "else" expr ]
ast::ExprPtr Parser::parse_expr() {
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  auto value = parse_or();
  if (!value || !at(TokenKind::KwIf) || at_line_break()) return value;
  advance();
  auto node = make_node<ast::ConditionalExpr>(value->range);
  node->then_value = std::move(value);
  node->condition = parse_or();
  if (!node->condition) return nullptr;
  if (!expect(TokenKind::KwElse, "`else` in the conditional expression")) return nullptr;
  node->else_value = parse_expr();
  if (!node->else_value) return nullptr;
  node->range = range_from(node->range.begin);
  return node;
}

// or_expr = and_expr { "or" and_expr }
ast::ExprPtr Parser::parse_or() {
  auto lhs = parse_and();
  ChainDepth chain(*this);
  while (lhs && at(TokenKind::KwOr) && !at_line_break()) {
    if (!chain.step()) return nullptr;
    const SourceRange op = advance().range;
    auto rhs = parse_and();
    if (!rhs) return nullptr;
    lhs = make_binary(BinaryOp::Or, op, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

// and_expr = not_expr { "and" not_expr }
ast::ExprPtr Parser::parse_and() {
  auto lhs = parse_not();
  ChainDepth chain(*this);
  while (lhs && at(TokenKind::KwAnd) && !at_line_break()) {
    if (!chain.step()) return nullptr;
    const SourceRange op = advance().range;
    auto rhs = parse_not();
    if (!rhs) return nullptr;
    lhs = make_binary(BinaryOp::And, op, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

// not_expr = "not" not_expr | comparison
ast::ExprPtr Parser::parse_not() {
  if (!at(TokenKind::KwNot)) return parse_comparison();
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const SourceRange op = advance().range;
  auto operand = parse_not();
  if (!operand) return nullptr;
  auto node = make_node<ast::UnaryExpr>(SourceRange::cover(op, operand->range));
  node->op = ast::UnaryOp::Not;
  node->op_range = op;
  node->operand = std::move(operand);
  return node;
}

// comparison = arith { comp_op arith }
// comp_op    = "==" | "!=" | "<" | "<=" | ">" | ">=" | "is" [ "not" ]
ast::ExprPtr Parser::parse_comparison() {
  auto lhs = parse_arith();
  ChainDepth chain(*this);
  while (lhs && !at_line_break()) {
    BinaryOp op;
    switch (tok().kind) {
      case TokenKind::EqualEqual: op = BinaryOp::Eq; break;
      case TokenKind::NotEqual: op = BinaryOp::Ne; break;
      case TokenKind::Less: op = BinaryOp::Lt; break;
      case TokenKind::LessEqual: op = BinaryOp::Le; break;
      case TokenKind::Greater: op = BinaryOp::Gt; break;
      case TokenKind::GreaterEqual: op = BinaryOp::Ge; break;
      case TokenKind::KwIs: op = BinaryOp::Is; break;
      default: return lhs;
    }
    if (!chain.step()) return nullptr;
    SourceRange op_range = advance().range;
    if (op == BinaryOp::Is && at(TokenKind::KwNot)) {
      op = BinaryOp::IsNot;
      op_range = SourceRange::cover(op_range, advance().range);
    }
    auto rhs = parse_arith();
    if (!rhs) return nullptr;
    lhs = make_binary(op, op_range, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

// arith = term { ( "+" | "-" ) term }
ast::ExprPtr Parser::parse_arith() {
  auto lhs = parse_term();
  ChainDepth chain(*this);
  while (lhs && (at(TokenKind::Plus) || at(TokenKind::Minus)) && !at_line_break()) {
    if (!chain.step()) return nullptr;
    const BinaryOp op = at(TokenKind::Plus) ? BinaryOp::Add : BinaryOp::Sub;
    const SourceRange op_range = advance().range;
    auto rhs = parse_term();
    if (!rhs) return nullptr;
    lhs = make_binary(op, op_range, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

// term = factor { ( "*" | "/" | "%" | "@" ) factor }
ast::ExprPtr Parser::parse_term() {
  auto lhs = parse_factor();
  ChainDepth chain(*this);
  while (lhs && !at_line_break()) {
    BinaryOp op;
    switch (tok().kind) {
      case TokenKind::Star: op = BinaryOp::Mul; break;
      case TokenKind::Slash: op = BinaryOp::Div; break;
      case TokenKind::Percent: op = BinaryOp::Mod; break;
      case TokenKind::At: op = BinaryOp::MatMul; break;
      default: return lhs;
    }
    if (!chain.step()) return nullptr;
    const SourceRange op_range = advance().range;
    auto rhs = parse_factor();
    if (!rhs) return nullptr;
    lhs = make_binary(op, op_range, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

// factor = ( "-" | "+" ) factor | power
ast::ExprPtr Parser::parse_factor() {
  if (!at(TokenKind::Minus) && !at(TokenKind::Plus)) return parse_power();
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const ast::UnaryOp op = at(TokenKind::Minus) ? ast::UnaryOp::Negate : ast::UnaryOp::Plus;
  const SourceRange op_range = advance().range;
  auto operand = parse_factor();
  if (!operand) return nullptr;
  auto node = make_node<ast::UnaryExpr>(SourceRange::cover(op_range, operand->range));
  node->op = op;
  node->op_range = op_range;
  node->operand = std::move(operand);
  return node;
}

// power = postfix [ "**" factor ]        (-2 ** 2 is -(2 ** 2); 2 ** -1 is allowed)
ast::ExprPtr Parser::parse_power() {
  auto base = parse_postfix();
  if (!base || !at(TokenKind::StarStar) || at_line_break()) return base;
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const SourceRange op_range = advance().range;
  auto exponent = parse_factor();
  if (!exponent) return nullptr;
  return make_binary(BinaryOp::Pow, op_range, std::move(base), std::move(exponent));
}

// postfix = primary { "(" args ")" | "[" indices "]" | "." name }
ast::ExprPtr Parser::parse_postfix() {
  auto expr = parse_primary();
  ChainDepth chain(*this);
  while (expr && !at_line_break()) {
    if ((at(TokenKind::LParen) || at(TokenKind::LBracket) || at(TokenKind::Dot)) && !chain.step()) {
      return nullptr;
    }
    if (at(TokenKind::LParen)) {
      expr = parse_call(std::move(expr));
    } else if (at(TokenKind::LBracket)) {
      expr = parse_index(std::move(expr));
    } else if (at(TokenKind::Dot)) {
      advance();
      auto member = make_node<ast::MemberExpr>(expr->range);
      if (at(TokenKind::Identifier) || is_keyword(tok().kind)) {
        member->member = {at(TokenKind::Identifier) ? text(tok())
                                                    : std::string(token_spelling(tok().kind)),
                          tok().range};
        advance();
      } else {
        report_expected(DiagKind::expected_token, "a member name after `.`");
        return nullptr;
      }
      member->object = std::move(expr);
      member->range = range_from(member->range.begin);
      expr = std::move(member);
    } else {
      break;
    }
  }
  return expr;
}

// args = [ arg { "," arg } [ "," ] ]
// arg  = IDENT ( ":" | "=" ) expr | expr
ast::ExprPtr Parser::parse_call(ast::ExprPtr callee) {
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const SourceRange open = advance().range;
  NewlineMode mode(*this, false);
  auto call = make_node<ast::CallExpr>(callee->range);
  call->callee = std::move(callee);
  bool seen_named = false;
  while (!at(TokenKind::RParen) && !at_end()) {
    ast::Argument arg;
    const uint32_t begin = tok().range.begin;
    if (at(TokenKind::Identifier) && (peek().is(TokenKind::Colon) || peek().is(TokenKind::Assign))) {
      arg.name = {text(tok()), tok().range};
      advance();
      arg.equals_style = advance().is(TokenKind::Assign);
      seen_named = true;
    } else if (seen_named) {
      diags_.report(DiagKind::positional_after_named, tok().range);
      return nullptr;
    }
    arg.value = parse_expr();
    if (!arg.value) return nullptr;
    arg.range = range_from(begin);
    call->args.push_back(std::move(arg));
    if (!consume(TokenKind::Comma)) break;
  }
  if (!at(TokenKind::RParen)) {
    report_unclosed(TokenKind::RParen, open);
    return nullptr;
  }
  advance();
  call->range = range_from(call->range.begin);
  return call;
}

// indices = index { "," index } [ "," ]
ast::ExprPtr Parser::parse_index(ast::ExprPtr object) {
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const SourceRange open = advance().range;
  NewlineMode mode(*this, false);
  auto index = make_node<ast::IndexExpr>(object->range);
  index->object = std::move(object);
  while (!at(TokenKind::RBracket) && !at_end()) {
    auto item = parse_index_item();
    if (!item) return nullptr;
    index->indices.push_back(std::move(item));
    if (!consume(TokenKind::Comma)) break;
  }
  if (!at(TokenKind::RBracket)) {
    report_unclosed(TokenKind::RBracket, open);
    return nullptr;
  }
  if (index->indices.empty()) {
    report_expected(DiagKind::expected_expression);
    return nullptr;
  }
  advance();
  index->range = range_from(index->range.begin);
  return index;
}

// index = "..." | [ expr ] ":" [ expr ] [ ":" [ expr ] ] | expr
ast::ExprPtr Parser::parse_index_item() {
  const uint32_t begin = tok().range.begin;
  if (at(TokenKind::Ellipsis)) return make_node<ast::EllipsisExpr>(advance().range);
  auto ends_part = [&] {
    return at(TokenKind::Colon) || at(TokenKind::Comma) || at(TokenKind::RBracket);
  };
  ast::ExprPtr lower;
  if (!at(TokenKind::Colon)) {
    lower = parse_expr();
    if (!lower || !at(TokenKind::Colon)) return lower;
  }
  advance();  // first `:`
  auto slice = make_node<ast::SliceExpr>(SourceRange{});
  slice->lower = std::move(lower);
  if (!ends_part()) {
    slice->upper = parse_expr();
    if (!slice->upper) return nullptr;
  }
  if (consume(TokenKind::Colon) && !ends_part()) {
    slice->step = parse_expr();
    if (!slice->step) return nullptr;
  }
  slice->range = range_from(begin);
  return slice;
}

// primary = NUMBER | STRING | "true" | "false" | "True" | "False" | "None" | IDENT
//         | "(" [ expr_list ] ")" | list | map
ast::ExprPtr Parser::parse_primary() {
  const Token& t = tok();
  switch (t.kind) {
    case TokenKind::Integer:
    case TokenKind::Float: {
      auto node = make_node<ast::NumberExpr>(t.range);
      node->is_integer = t.is(TokenKind::Integer);
      node->int_value = t.int_value;
      node->float_value = node->is_integer ? static_cast<double>(t.int_value) : t.float_value;
      node->suffix = t.suffix;
      node->spelling = std::string(diags_.buffer().slice(t.range));
      advance();
      return node;
    }
    case TokenKind::String: {
      auto node = make_node<ast::StringExpr>(t.range, text(t));
      advance();
      return node;
    }
    case TokenKind::KwTrue:
    case TokenKind::KwTrueCap:
    case TokenKind::KwFalse:
    case TokenKind::KwFalseCap: {
      const bool value = t.is(TokenKind::KwTrue) || t.is(TokenKind::KwTrueCap);
      auto node = make_node<ast::BoolExpr>(t.range, value);
      advance();
      return node;
    }
    case TokenKind::KwNone: return make_node<ast::NoneExpr>(advance().range);
    case TokenKind::Identifier: {
      auto node = make_node<ast::NameExpr>(t.range, text(t));
      advance();
      return node;
    }
    case TokenKind::LParen: return parse_paren();
    case TokenKind::LBracket: return parse_list();
    case TokenKind::LBrace: return parse_map();
    case TokenKind::Error: return nullptr;  // reported by the lexer
    default:
      if (at_line_break() || at_end()) {
        report_expected(DiagKind::expected_token, "an expression");
      } else if (at(TokenKind::RParen) || at(TokenKind::RBracket) || at(TokenKind::RBrace)) {
        report_expected(DiagKind::expected_expression);
      } else if (is_keyword(t.kind)) {
        diags_.report(DiagKind::keyword_as_name, t.range, {token_spelling(t.kind)});
      } else {
        report_expected(DiagKind::expected_expression);
      }
      return nullptr;
  }
}

// paren = "(" ")" | "(" expr ")" | "(" expr "," [ expr { "," expr } [ "," ] ] ")"
ast::ExprPtr Parser::parse_paren() {
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const SourceRange open = advance().range;
  NewlineMode mode(*this, false);
  if (consume(TokenKind::RParen)) {
    auto empty = make_node<ast::TupleExpr>(range_from(open.begin));
    empty->parenthesized = true;
    return empty;
  }
  auto inner = parse_expr_list();
  if (!inner) return nullptr;
  if (!at(TokenKind::RParen)) {
    report_unclosed(TokenKind::RParen, open);
    return nullptr;
  }
  advance();
  if (auto* tuple = ast::dyn_cast<ast::TupleExpr>(inner.get()); tuple && !tuple->parenthesized) {
    tuple->parenthesized = true;
    tuple->range = range_from(open.begin);
    return inner;
  }
  // A parenthesized expression keeps its own range (the caret points inside the parens).
  return inner;
}

// list = "[" [ expr { "," expr } [ "," ] ] "]"
std::unique_ptr<ast::ListExpr> Parser::parse_list() {
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const SourceRange open = advance().range;
  NewlineMode mode(*this, false);
  auto list = make_node<ast::ListExpr>(open);
  while (!at(TokenKind::RBracket) && !at_end()) {
    auto element = parse_expr();
    if (!element) return nullptr;
    if (list->elements.size() >= limits_.max_list_elements) {
      // Reported once; the rest is skipped up to the matching `]` without building it, and
      // the list keeps the elements it has so nothing after it cascades.
      diags_.report(DiagKind::list_too_long, element->range, {std::to_string(limits_.max_list_elements)});
      for (int depth = 0; !at_end() && !(depth == 0 && at(TokenKind::RBracket)); advance()) {
        if (at(TokenKind::LBracket) || at(TokenKind::LParen) || at(TokenKind::LBrace)) ++depth;
        if (at(TokenKind::RBracket) || at(TokenKind::RParen) || at(TokenKind::RBrace)) --depth;
      }
      break;
    }
    list->elements.push_back(std::move(element));
    if (at(TokenKind::RBracket)) break;
    if (!consume(TokenKind::Comma)) {
      // Lists need commas: a newline alone does not separate elements.
      report_expected(DiagKind::expected_token, "`,` or `]` in the list");
      return nullptr;
    }
  }
  if (!at(TokenKind::RBracket)) {
    report_unclosed(TokenKind::RBracket, open);
    return nullptr;
  }
  advance();
  list->range = range_from(open.begin);
  return list;
}

// map       = "{" { map_entry } "}"
// map_entry = ( name | STRING ) ( ":" expr | map )
std::unique_ptr<ast::MapExpr> Parser::parse_map() {
  auto map = make_node<ast::MapExpr>(tok().range);
  const uint32_t begin = tok().range.begin;
  parse_braced("the entry", [&] { return parse_map_entry(*map); });
  map->range = range_from(begin);
  return map;
}

// map_entry = ( name | STRING ) ( ":" expr | map )        (`key { ... }` means `key: { ... }`)
bool Parser::parse_map_entry(ast::MapExpr& map) {
  ast::MapEntry entry;
  const uint32_t begin = tok().range.begin;
  if (at(TokenKind::String)) {
    entry.key = {text(tok()), tok().range};
    entry.key_is_string = true;
  } else if (at(TokenKind::Identifier) || is_keyword(tok().kind)) {
    entry.key = {at(TokenKind::Identifier) ? text(tok()) : std::string(token_spelling(tok().kind)),
                 tok().range};
  } else {
    report_expected(DiagKind::expected_token, "a key `name: value`");
    return false;
  }
  advance();
  if (at(TokenKind::LBrace) && !at_line_break()) {
    entry.value = parse_map();
  } else {
    if (!expect(TokenKind::Colon,
                 [&] { return "`:` after the key `" + entry.key.name + "`"; })) return false;
    if (at_line_break() || at(TokenKind::RBrace)) {
      report_expected(DiagKind::expected_token, "a value after `" + entry.key.name + ":`");
      return false;
    }
    entry.value = parse_expr();
  }
  if (!entry.value) return false;
  entry.range = range_from(begin);
  map.entries.push_back(std::move(entry));
  return true;
}

}  // namespace triton::parse_detail

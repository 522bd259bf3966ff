// Parsing of declaration items: hyper-parameters and constants, `params`, `layer` items and
// their specifications (instances, repetitions, tables, conditionals, inline sequences),
// `param`/`state` tensors, `forward`, the metadata sections, and types.
#include <array>

#include "ast/ast_printer.h"
#include "diag/edit_distance.h"
#include "parse/parser_impl.h"

namespace triton::parse_detail {
namespace {

constexpr std::array<std::string_view, 4> kSectionNames = {"training", "performance",
                                                          "optimization", "quantization"};
constexpr std::array<std::string_view, 7> kTypeNames = {"int",    "float",  "bool",
                                                        "str",    "list",   "Tensor",
                                                        "TernaryTensor"};

std::optional<ast::SectionKind> section_kind(std::string_view name) {
  if (name == "training") return ast::SectionKind::Training;
  if (name == "performance") return ast::SectionKind::Performance;
  if (name == "optimization") return ast::SectionKind::Optimization;
  if (name == "quantization") return ast::SectionKind::Quantization;
  return std::nullopt;
}

bool is_type_name(std::string_view name) {
  for (std::string_view type : kTypeNames) {
    if (type == name) return true;
  }
  return false;
}

}  // namespace

// item = hyper_param | constant | params | layer_item | tensor_item | forward | section
// Items end at a line break; a `,` or `;` between items is optional.
bool Parser::parse_item(ast::Decl& decl) {
  ast::ItemPtr item;
  switch (tok().kind) {
    case TokenKind::KwParams: item = parse_params(); break;
    case TokenKind::KwLayer: item = parse_layer_item(); break;
    case TokenKind::KwParam: item = parse_tensor_item(/*is_state=*/false); break;
    case TokenKind::KwState: item = parse_tensor_item(/*is_state=*/true); break;
    case TokenKind::KwForward: item = parse_forward(); break;
    case TokenKind::Identifier: {
      const Token& next = peek();
      if (next.is(TokenKind::Colon)) {
        item = parse_named_item();
        break;
      }
      if (next.is(TokenKind::LBrace)) {
        // `training { ... }`, or a misspelled section / `params`.
        ast::Identifier name{text(tok()), tok().range};
        if (auto kind = section_kind(name.name)) {
          advance();
          item = parse_section(*kind, name);
          break;
        }
        if (edit_distance(name.name, "params") <= 2) {
          diags_.report(DiagKind::misspelled_keyword, name.range, {name.name, "params"});
          item = parse_params();
          break;
        }
        diags_.report(DiagKind::unknown_section, name.range, {name.name})
            .hint(did_you_mean(name.name, kSectionNames).empty()
                      ? "the sections are `training`, `performance` and `optimization`"
                      : did_you_mean(name.name, kSectionNames));
        advance();
        // Parse the body anyway (and drop it) so its contents raise no further errors.
        (void)parse_map();
        return true;
      }
      if (next.is(TokenKind::LParen) && edit_distance(text(tok()), "forward") <= 2) {
        diags_.report(DiagKind::misspelled_keyword, tok().range, {text(tok()), "forward"});
        item = parse_forward();
        break;
      }
      if (next.is(TokenKind::Identifier) && !next.newline_before) {
        static constexpr std::array<std::string_view, 3> kItemKeywords = {"layer", "param",
                                                                           "state"};
        if (auto match = closest_match(text(tok()), kItemKeywords)) {
          diags_.report(DiagKind::misspelled_keyword, tok().range, {text(tok()), *match});
          item = *match == "layer" ? parse_layer_item() : parse_tensor_item(*match == "state");
          break;
        }
      }
      if (!next.newline_before && !next.is(TokenKind::Error) && !next.is(TokenKind::EndOfFile)) {
        // `num_classes 10`: the colon is missing.
        advance();
        report_expected(DiagKind::expected_token, "`:` after `" + text(previous()) + "`");
        return false;
      }
      report_expected(DiagKind::expected_item);
      return false;
    }
    default:
      if (at(TokenKind::RParen) || at(TokenKind::RBracket)) {
        diags_.report(DiagKind::unmatched_closing, tok().range, {token_spelling(tok().kind)});
      } else {
        report_expected(DiagKind::expected_item);
      }
      return false;  // silent at a lexer error token
  }
  if (!item) return false;
  decl.items.push_back(std::move(item));
  return true;
}

// hyper_param = IDENT ":" expr
// constant    = IDENT ":" type "=" expr
// section     = SECTION_NAME ":" map          (the colon form of a section)
ast::ItemPtr Parser::parse_named_item() {
  const uint32_t begin = tok().range.begin;
  ast::Identifier name{text(tok()), tok().range};
  advance();  // name
  advance();  // `:`
  if (at(TokenKind::LBrace)) {
    if (auto kind = section_kind(name.name)) return parse_section(*kind, name);
  }
  if (at(TokenKind::Identifier) && is_type_name(text(tok())) && !at_line_break()) {
    auto constant = std::make_unique<ast::ConstantItem>(SourceRange{});
    constant->name = name;
    constant->type = parse_type();
    if (!constant->type) return nullptr;
    if (!expect(TokenKind::Assign,
                 [&] { return "`=` and a value after the type of `" + name.name + "`"; })) {
      return nullptr;
    }
    constant->value = parse_expr();
    if (!constant->value) return nullptr;
    constant->range = range_from(begin);
    return constant;
  }
  auto hyper = std::make_unique<ast::HyperParamItem>(SourceRange{});
  hyper->name = name;
  if (at_line_break() || at(TokenKind::RBrace)) {
    report_expected(DiagKind::expected_token, "a value after `" + name.name + ":`");
    return nullptr;
  }
  hyper->value = parse_expr();
  if (!hyper->value) return nullptr;
  hyper->range = range_from(begin);
  return hyper;
}

// params     = "params" "{" { param_decl } "}"
// param_decl = IDENT ":" type [ "=" expr ]
ast::ItemPtr Parser::parse_params() {
  const uint32_t begin = tok().range.begin;
  advance();
  auto params = std::make_unique<ast::ParamsItem>(SourceRange{});
  parse_braced("the parameter", [&] {
    ast::ParamDecl param;
    const uint32_t param_begin = tok().range.begin;
    if (!parse_name(param.name, "a parameter name")) return false;
    if (!expect(TokenKind::Colon,
                 [&] { return "`:` and a type after `" + param.name.name + "`"; })) return false;
    param.type = parse_type();
    if (!param.type) return false;
    if (consume(TokenKind::Assign)) {
      param.default_value = parse_expr();
      if (!param.default_value) return false;
    }
    param.range = range_from(param_begin);
    params->params.push_back(std::move(param));
    return true;
  });
  params->range = range_from(begin);
  return params;
}

// layer_item = "layer" IDENT ":" layer_spec
ast::ItemPtr Parser::parse_layer_item() {
  const uint32_t begin = tok().range.begin;
  advance();
  auto item = std::make_unique<ast::LayerItem>(SourceRange{});
  if (!parse_name(item->name, "a layer name after `layer`")) return nullptr;
  if (!expect(TokenKind::Colon,
               [&] { return "`:` after the layer name `" + item->name.name + "`"; })) {
    return nullptr;
  }
  item->spec = parse_layer_spec();
  if (!item->spec) return nullptr;
  item->range = range_from(begin);
  return item;
}

// layer_branch = "{" { layer_spec sep } "}" | layer_spec ;
bool Parser::parse_layer_branch(std::vector<ast::LayerSpecPtr>& out) {
  if (at(TokenKind::LBrace)) {
    parse_braced("the layer", [&] {
      auto child = parse_layer_spec();
      if (!child) return false;
      out.push_back(std::move(child));
      return true;
    });
    return true;
  }
  auto child = parse_layer_spec();
  if (!child) return false;
  out.push_back(std::move(child));
  return true;
}

// layer_spec = "if" "(" expr ")" layer_branch [ "else" layer_branch ]
//            | IDENT [ "[" [ expr ] "]" [ "(" IDENT { "," IDENT } ")" ] ] [ layer_body ]
ast::LayerSpecPtr Parser::parse_layer_spec() {
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  const uint32_t begin = tok().range.begin;
  auto spec = std::make_unique<ast::LayerSpec>();
  if (consume(TokenKind::KwIf)) {
    spec->kind = ast::LayerSpecKind::Conditional;
    const SourceRange open = tok().range;
    if (!expect(TokenKind::LParen, "`(` and a condition after `if`")) return nullptr;
    {
      NewlineMode mode(*this, false);
      spec->condition = parse_expr();
      if (!spec->condition) return nullptr;
      if (!at(TokenKind::RParen)) {
        report_unclosed(TokenKind::RParen, open);
        return nullptr;
      }
      advance();
    }
    if (!parse_layer_branch(spec->children)) return nullptr;
    // `else` may follow on the same line as the closing `}` or on the next one.
    if (at(TokenKind::KwElse)) {
      advance();
      spec->has_else = true;
      if (!parse_layer_branch(spec->else_children)) return nullptr;
    }
    spec->range = range_from(begin);
    return spec;
  }
  if (!at(TokenKind::Identifier)) {
    report_expected(DiagKind::expected_token, "a layer type");
    return nullptr;
  }
  spec->type_name = {text(tok()), tok().range};
  advance();
  if (at(TokenKind::LBracket) && !at_line_break()) {
    const SourceRange open = tok().range;
    advance();
    NewlineMode mode(*this, false);
    if (consume(TokenKind::RBracket)) {
      spec->kind = ast::LayerSpecKind::Table;
      if (at(TokenKind::LParen)) {
        const SourceRange paren = tok().range;
        advance();
        spec->has_columns = true;
        while (!at(TokenKind::RParen) && !at_end()) {
          ast::Identifier column;
          if (!parse_name(column, "a column name")) return nullptr;
          spec->columns.push_back(column);
          if (!consume(TokenKind::Comma)) break;
        }
        if (!at(TokenKind::RParen)) {
          report_unclosed(TokenKind::RParen, paren);
          return nullptr;
        }
        advance();
      }
    } else {
      spec->kind = ast::LayerSpecKind::Repeat;
      spec->count = parse_expr();
      if (!spec->count) return nullptr;
      if (!at(TokenKind::RBracket)) {
        report_unclosed(TokenKind::RBracket, open);
        return nullptr;
      }
      advance();
    }
  }
  if (at(TokenKind::LBrace) && !at_line_break()) parse_layer_body(*spec);
  spec->range = range_from(begin);
  return spec;
}

// layer_body = "{" { attribute | table_row | layer_spec } "}"
// table_row  = list            (tables only)
// A child layer (`Conv2d { ... }`) is told apart from an attribute by the `:` after a name.
void Parser::parse_layer_body(ast::LayerSpec& spec) {
  parse_braced("the attribute", [&] {
    if (at(TokenKind::LBracket) && spec.kind == ast::LayerSpecKind::Table) {
      auto row = parse_list();
      if (!row) return false;
      spec.rows.push_back(std::move(row));
      return true;
    }
    const bool named = at(TokenKind::Identifier) || is_keyword(tok().kind);
    if (named && peek().is(TokenKind::Colon)) return parse_attribute(spec.attributes);
    if (at(TokenKind::Identifier) && !peek().newline_before) {
      // A child layer's type is followed by its body, `[`, or the end of the entry;
      // anything else means `name value` with the colon left out.
      switch (peek().kind) {
        case TokenKind::LBrace: case TokenKind::LBracket: case TokenKind::Comma:
        case TokenKind::Semicolon: case TokenKind::RBrace: case TokenKind::EndOfFile:
        case TokenKind::Error:
          break;
        default:
          advance();
          report_expected(DiagKind::expected_token, "`:` after `" + text(previous()) + "`");
          return false;
      }
    }
    if (at(TokenKind::Identifier) || at(TokenKind::KwIf)) {
      auto child = parse_layer_spec();
      if (!child) return false;
      spec.children.push_back(std::move(child));
      return true;
    }
    if (spec.kind == ast::LayerSpecKind::Table) {
      // `(6, 24, 2, 2)` or a bare `6, 24, 2, 2`: parse it to point at all of it.
      auto row = parse_expr_list();
      if (row) {
        const std::string found = "`" + ast::to_source(*row) + "`";
        diags_.report(DiagKind::table_row_not_list, row->range, {found});
      }
      return false;
    }
    report_expected(DiagKind::expected_token, "an attribute `name: value`");
    return false;
  });
}

// attribute = name ":" expr
bool Parser::parse_attribute(std::vector<ast::Attribute>& out) {
  ast::Attribute attribute;
  const uint32_t begin = tok().range.begin;
  attribute.name = {at(TokenKind::Identifier) ? text(tok()) : std::string(token_spelling(tok().kind)),
                    tok().range};
  advance();
  if (!expect(TokenKind::Colon,
               [&] { return "`:` after `" + attribute.name.name + "`"; })) return false;
  if (at_line_break() || at(TokenKind::RBrace)) {
    report_expected(DiagKind::expected_token, "a value after `" + attribute.name.name + ":`");
    return false;
  }
  attribute.value = parse_expr();
  if (!attribute.value) return false;
  attribute.range = range_from(begin);
  out.push_back(std::move(attribute));
  return true;
}

// tensor_item = ("param" | "state") IDENT ":" [ "if" "(" expr ")" ] type
//               [ "{" { attribute } "}" ]
// `is_state`: the keyword (or what a misspelled keyword was taken for) is `state`.
ast::ItemPtr Parser::parse_tensor_item(bool is_state) {
  const uint32_t begin = tok().range.begin;
  auto item = std::make_unique<ast::TensorItem>(SourceRange{});
  item->is_state = is_state;
  item->keyword_range = tok().range;
  advance();
  const std::string keyword = item->is_state ? "state" : "param";
  if (!parse_name(item->name, "a tensor name after `" + keyword + "`")) return nullptr;
  if (!expect(TokenKind::Colon,
               [&] { return "`:` after the tensor name `" + item->name.name + "`"; })) {
    return nullptr;
  }
  if (at(TokenKind::KwIf)) {
    const SourceRange if_range = tok().range;
    advance();
    const SourceRange open = tok().range;
    if (!expect(TokenKind::LParen, "`(` and a condition after `if`")) return nullptr;
    NewlineMode mode(*this, false);
    item->condition = parse_expr();
    if (!item->condition) return nullptr;
    if (!at(TokenKind::RParen)) {
      report_unclosed(TokenKind::RParen, open);
      return nullptr;
    }
    advance();
    (void)if_range;
  }
  item->type = parse_type();
  if (!item->type) return nullptr;
  // `param gain: float = 1.0`, `state steps: int = 0`: a scalar with its initial value.
  if (consume(TokenKind::Assign)) {
    item->scalar_value = parse_expr();
    if (!item->scalar_value) return nullptr;
    item->range = range_from(begin);
    return item;
  }
  if (at(TokenKind::LBrace) && !at_line_break()) {
    parse_braced("the attribute", [&] {
      const bool named = at(TokenKind::Identifier) || is_keyword(tok().kind);
      if (!named || !peek().is(TokenKind::Colon)) {
        report_expected(DiagKind::expected_token, "an attribute `name: value`");
        return false;
      }
      return parse_attribute(item->attributes);
    });
  }
  item->range = range_from(begin);
  return item;
}

// forward = "forward" "(" [ fparam { "," fparam } [ "," ] ] ")" [ "->" type ] stmt_block
// fparam  = IDENT [ ":" type ]
ast::ItemPtr Parser::parse_forward() {
  const uint32_t begin = tok().range.begin;
  const SourceRange keyword = tok().range;
  advance();
  return parse_forward_rest(begin, keyword);
}

// The parameters, return type and body of a `forward` or a `fn`.
ast::ItemPtr Parser::parse_forward_rest(uint32_t begin, SourceRange keyword) {
  auto item = std::make_unique<ast::ForwardItem>(SourceRange{});
  item->keyword_range = keyword;
  const SourceRange open = tok().range;
  if (!expect(TokenKind::LParen, "`(` after `forward`")) return nullptr;
  {
    NewlineMode mode(*this, false);
    while (!at(TokenKind::RParen) && !at_end()) {
      ast::ForwardParam param;
      const uint32_t param_begin = tok().range.begin;
      if (!parse_name(param.name, "a parameter name")) return nullptr;
      if (consume(TokenKind::Colon)) {
        param.type = parse_type();
        if (!param.type) return nullptr;
      }
      param.range = range_from(param_begin);
      item->params.push_back(std::move(param));
      if (!consume(TokenKind::Comma)) break;
    }
    if (!at(TokenKind::RParen)) {
      report_unclosed(TokenKind::RParen, open);
      return nullptr;
    }
    advance();
  }
  if (consume(TokenKind::Arrow)) {
    item->return_type = parse_type();
    if (!item->return_type) return nullptr;
  }
  if (!parse_stmt_block(item->body)) return nullptr;
  item->range = range_from(begin);
  return item;
}

// section = SECTION_NAME map     SECTION_NAME = "training" | "performance" | "optimization" | "quantization"
ast::ItemPtr Parser::parse_section(ast::SectionKind kind, const ast::Identifier& name) {
  auto item = std::make_unique<ast::SectionItem>(SourceRange{});
  item->section = kind;
  item->name = name;
  item->body = parse_map();
  if (!item->body) return nullptr;
  item->range = {name.range.begin, previous().range.end};
  return item;
}

// type = IDENT                           int, float, bool, str, a user name
//      | "list" "[" type "]"
//      | ("Tensor" | "TernaryTensor") [ "[" [ expr { "," expr } ] "]" ]
ast::TypeExprPtr Parser::parse_type() {
  LevelGuard level(*this);
  if (!level.ok()) return nullptr;
  if (!at(TokenKind::Identifier) || at_line_break()) {
    report_expected(DiagKind::type_name_expected);
    return nullptr;
  }
  auto type = std::make_unique<ast::TypeExpr>();
  const uint32_t begin = tok().range.begin;
  type->name = {text(tok()), tok().range};
  advance();
  const bool is_tensor = type->name.name == "Tensor" || type->name.name == "TernaryTensor";
  if (type->name.name == "list") {
    type->kind = ast::TypeKind::List;
    const SourceRange open = tok().range;
    if (!expect(TokenKind::LBracket, "`[` and an element type after `list`")) return nullptr;
    NewlineMode mode(*this, false);
    type->element = parse_type();
    if (!type->element) return nullptr;
    if (!at(TokenKind::RBracket)) {
      report_unclosed(TokenKind::RBracket, open);
      return nullptr;
    }
    advance();
  } else if (is_tensor) {
    type->kind = ast::TypeKind::Tensor;
    if (at(TokenKind::LBracket) && !at_line_break()) {
      const SourceRange open = tok().range;
      advance();
      type->has_shape = true;
      NewlineMode mode(*this, false);
      while (!at(TokenKind::RBracket) && !at_end()) {
        auto dim = parse_expr();
        if (!dim) return nullptr;
        type->dims.push_back(std::move(dim));
        if (!consume(TokenKind::Comma)) break;
      }
      if (!at(TokenKind::RBracket)) {
        report_unclosed(TokenKind::RBracket, open);
        return nullptr;
      }
      advance();
    }
  }
  type->range = range_from(begin);
  return type;
}

}  // namespace triton::parse_detail

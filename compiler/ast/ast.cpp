// Names and spellings of AST kinds and operators, generated from `ast_nodes.def` so the
// dump, diagnostics and the enums can never disagree.
#include "ast/ast.h"

namespace triton::ast {

std::string_view kind_name(ExprKind kind) {
  switch (kind) {
#define EXPR_NODE(k) \
  case ExprKind::k:  \
    return #k;
#include "ast/ast_nodes.def"
  }
  return "?";
}

std::string_view kind_name(StmtKind kind) {
  switch (kind) {
#define STMT_NODE(k) \
  case StmtKind::k:  \
    return #k;
#include "ast/ast_nodes.def"
  }
  return "?";
}

std::string_view kind_name(ItemKind kind) {
  switch (kind) {
#define ITEM_NODE(k) \
  case ItemKind::k:  \
    return #k;
#include "ast/ast_nodes.def"
  }
  return "?";
}

std::string_view spelling(UnaryOp op) {
  switch (op) {
    case UnaryOp::Negate: return "-";
    case UnaryOp::Plus: return "+";
    case UnaryOp::Not: return "not";
  }
  return "?";
}

std::string_view spelling(SectionKind kind) {
  switch (kind) {
    case SectionKind::Training: return "training";
    case SectionKind::Performance: return "performance";
    case SectionKind::Optimization: return "optimization";
    case SectionKind::Quantization: return "quantization";
  }
  return "?";
}

std::string_view spelling(DeclKind kind) {
  switch (kind) {
    case DeclKind::Model: return "model";
    case DeclKind::Block: return "block";
    case DeclKind::Layer: return "layer";
  }
  return "?";
}

}  // namespace triton::ast

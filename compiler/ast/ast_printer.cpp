// Implements the AST dump (`--emit=ast`) and `to_source`, the one-line rendering of an
// expression used in messages. The dump writes one node per line, children indented by two
// spaces, each with its range as `@line:col-line:col`; it never depends on addresses or
// hash order, so it is stable enough for golden files.
#include "ast/ast_printer.h"

#include "lex/lexer.h"

#include <charconv>

namespace triton::ast {
namespace {

std::string number_text(double value) {
  char text[64];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

// Binding strength of an expression on the scale of ast/binary_ops.def (Python's): the
// binary operators take theirs from that list; around them sit the conditional (0), `not`
// (3), unary `-`/`+` (8) and atoms (20). An unparenthesized tuple binds loosest of all.
int precedence(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::Conditional: return 0;
    case ExprKind::Tuple: return ast::cast<TupleExpr>(expr).parenthesized ? 20 : -1;
    case ExprKind::Unary:
      return ast::cast<UnaryExpr>(expr).op == UnaryOp::Not ? 3 : 8;
    case ExprKind::Binary: return triton::precedence(ast::cast<BinaryExpr>(expr).op);
    default: return 20;
  }
}

void write_source(std::string& out, const Expr* expr, int min_precedence = 0);

void write_child(std::string& out, const Expr* expr, int min_precedence) {
  if (expr != nullptr && precedence(*expr) < min_precedence) {
    out += '(';
    write_source(out, expr);
    out += ')';
  } else {
    write_source(out, expr);
  }
}

void write_list(std::string& out, const std::vector<ExprPtr>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    write_source(out, items[i].get());
  }
}

void write_source(std::string& out, const Expr* expr, int) {
  if (expr == nullptr) {
    out += "<error>";
    return;
  }
  switch (expr->kind) {
    case ExprKind::Number: out += cast<NumberExpr>(*expr).spelling; break;
    case ExprKind::String: out += quote_for_dump(cast<StringExpr>(*expr).value); break;
    case ExprKind::Bool: out += cast<BoolExpr>(*expr).value ? "true" : "false"; break;
    case ExprKind::None: out += "None"; break;
    case ExprKind::Name: out += cast<NameExpr>(*expr).name; break;
    case ExprKind::Unary: {
      const auto& e = cast<UnaryExpr>(*expr);
      out += spelling(e.op);
      if (e.op == UnaryOp::Not) out += ' ';
      write_child(out, e.operand.get(), precedence(e));
      break;
    }
    case ExprKind::Binary: {
      const auto& e = cast<BinaryExpr>(*expr);
      const int p = precedence(e);
      const bool right_assoc = e.op == BinaryOp::Pow;
      write_child(out, e.lhs.get(), right_assoc ? p + 1 : p);
      out += ' ';
      out += spelling(e.op);
      out += ' ';
      write_child(out, e.rhs.get(), right_assoc ? p : p + 1);
      break;
    }
    case ExprKind::Conditional: {
      const auto& e = cast<ConditionalExpr>(*expr);
      write_child(out, e.then_value.get(), 1);
      out += " if ";
      write_child(out, e.condition.get(), 1);
      out += " else ";
      write_child(out, e.else_value.get(), 0);
      break;
    }
    case ExprKind::Call: {
      const auto& e = cast<CallExpr>(*expr);
      write_child(out, e.callee.get(), 20);
      out += '(';
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i > 0) out += ", ";
        if (e.args[i].is_named()) out += e.args[i].name.name + ": ";
        write_source(out, e.args[i].value.get());
      }
      out += ')';
      break;
    }
    case ExprKind::Member: {
      const auto& e = cast<MemberExpr>(*expr);
      write_child(out, e.object.get(), 20);
      out += '.';
      out += e.member.name;
      break;
    }
    case ExprKind::Index: {
      const auto& e = cast<IndexExpr>(*expr);
      write_child(out, e.object.get(), 20);
      out += '[';
      write_list(out, e.indices);
      out += ']';
      break;
    }
    case ExprKind::Slice: {
      const auto& e = cast<SliceExpr>(*expr);
      if (e.lower) write_source(out, e.lower.get());
      out += ':';
      if (e.upper) write_source(out, e.upper.get());
      if (e.step) {
        out += ':';
        write_source(out, e.step.get());
      }
      break;
    }
    case ExprKind::Ellipsis: out += "..."; break;
    case ExprKind::List:
      out += '[';
      write_list(out, cast<ListExpr>(*expr).elements);
      out += ']';
      break;
    case ExprKind::Tuple: {
      const auto& e = cast<TupleExpr>(*expr);
      if (e.parenthesized) out += '(';
      write_list(out, e.elements);
      if (e.elements.size() == 1) out += ',';
      if (e.parenthesized) out += ')';
      break;
    }
    case ExprKind::Map: {
      const auto& e = cast<MapExpr>(*expr);
      out += '{';
      for (size_t i = 0; i < e.entries.size(); ++i) {
        out += i > 0 ? ", " : " ";
        out += e.entries[i].key_is_string ? quote_for_dump(e.entries[i].key.name) : e.entries[i].key.name;
        out += ": ";
        write_source(out, e.entries[i].value.get());
      }
      out += e.entries.empty() ? "}" : " }";
      break;
    }
  }
}

class Dumper {
 public:
  explicit Dumper(const SourceBuffer& buffer) : buffer_(buffer) {}

  std::string run(const File& file) {
    line(0, "File", file.range);
    for (const auto& decl : file.decls) dump_decl(1, *decl);
    for (const auto& fn : file.functions) {
      line(1, "Fn " + name(fn->name), fn->range);
      dump_item(2, *fn->signature);
    }
    return std::move(out_);
  }

 private:
  void line(int depth, std::string_view text, SourceRange range) {
    out_.append(static_cast<size_t>(depth) * 2, ' ');
    out_ += text;
    const LineColumn b = buffer_.line_column(range.begin);
    const LineColumn e = buffer_.line_column(range.end);
    out_ += " @" + std::to_string(b.line) + ":" + std::to_string(b.column) + "-" +
            std::to_string(e.line) + ":" + std::to_string(e.column) + "\n";
  }
  static std::string name(const Identifier& id) { return "`" + id.name + "`"; }

  void dump_decl(int depth, const Decl& decl) {
    line(depth, std::string(spelling(decl.kind)) + " " + name(decl.name), decl.range);
    for (const auto& item : decl.items) dump_item(depth + 1, *item);
  }

  void dump_item(int depth, const Item& item) {
    const std::string kind(kind_name(item.kind));
    switch (item.kind) {
      case ItemKind::HyperParam: {
        const auto& i = cast<HyperParamItem>(item);
        line(depth, kind + " " + name(i.name), i.range);
        dump_expr(depth + 1, i.value.get());
        break;
      }
      case ItemKind::Constant: {
        const auto& i = cast<ConstantItem>(item);
        line(depth, kind + " " + name(i.name), i.range);
        dump_type(depth + 1, i.type.get());
        dump_expr(depth + 1, i.value.get());
        break;
      }
      case ItemKind::Params: {
        const auto& i = cast<ParamsItem>(item);
        line(depth, kind, i.range);
        for (const auto& p : i.params) {
          line(depth + 1, "Param " + name(p.name) + (p.default_value ? "" : " required"), p.range);
          dump_type(depth + 2, p.type.get());
          if (p.default_value) dump_expr(depth + 2, p.default_value.get());
        }
        break;
      }
      case ItemKind::Layer: {
        const auto& i = cast<LayerItem>(item);
        line(depth, kind + " " + name(i.name), i.range);
        dump_spec(depth + 1, i.spec.get());
        break;
      }
      case ItemKind::Tensor: {
        const auto& i = cast<TensorItem>(item);
        line(depth, std::string(i.is_state ? "State " : "Param ") + name(i.name), i.range);
        if (i.condition) {
          line(depth + 1, "if", i.condition->range);
          dump_expr(depth + 2, i.condition.get());
        }
        dump_type(depth + 1, i.type.get());
        dump_attributes(depth + 1, i.attributes);
        if (i.scalar_value) {
          line(depth + 1, "=", i.scalar_value->range);
          dump_expr(depth + 2, i.scalar_value.get());
        }
        break;
      }
      case ItemKind::Forward: {
        const auto& i = cast<ForwardItem>(item);
        line(depth, kind, i.range);
        for (const auto& p : i.params) {
          line(depth + 1, "Arg " + name(p.name), p.range);
          if (p.type) dump_type(depth + 2, p.type.get());
        }
        if (i.return_type) {
          line(depth + 1, "Returns", i.return_type->range);
          dump_type(depth + 2, i.return_type.get());
        }
        dump_block(depth + 1, "Body", i.body);
        break;
      }
      case ItemKind::Section: {
        const auto& i = cast<SectionItem>(item);
        line(depth, kind + " " + std::string(spelling(i.section)), i.range);
        if (i.body) dump_map_entries(depth + 1, *i.body);
        break;
      }
    }
  }

  void dump_spec(int depth, const LayerSpec* spec) {
    if (spec == nullptr) return;
    switch (spec->kind) {
      case LayerSpecKind::Instance:
        line(depth, "Instance " + name(spec->type_name), spec->range);
        break;
      case LayerSpecKind::Repeat:
        line(depth, "Repeat " + name(spec->type_name), spec->range);
        line(depth + 1, "count", spec->count ? spec->count->range : spec->range);
        dump_expr(depth + 2, spec->count.get());
        break;
      case LayerSpecKind::Table: {
        std::string text = "Table " + name(spec->type_name);
        if (spec->has_columns) {
          text += " columns(";
          for (size_t c = 0; c < spec->columns.size(); ++c) {
            text += (c > 0 ? ", " : "") + spec->columns[c].name;
          }
          text += ")";
        }
        line(depth, text, spec->range);
        for (const auto& row : spec->rows) line(depth + 1, "Row " + to_source(*row), row->range);
        break;
      }
      case LayerSpecKind::Conditional:
        line(depth, "Conditional", spec->range);
        dump_expr(depth + 1, spec->condition.get());
        break;
    }
    dump_attributes(depth + 1, spec->attributes);
    for (const auto& child : spec->children) dump_spec(depth + 1, child.get());
    if (spec->has_else) {
      line(depth + 1, "Else", spec->range);
      for (const auto& child : spec->else_children) dump_spec(depth + 2, child.get());
    }
  }

  void dump_attributes(int depth, const std::vector<Attribute>& attributes) {
    for (const auto& a : attributes) {
      line(depth, "Attribute " + name(a.name), a.range);
      dump_expr(depth + 1, a.value.get());
    }
  }

  void dump_type(int depth, const TypeExpr* type) {
    if (type == nullptr) return;
    switch (type->kind) {
      case TypeKind::Named: line(depth, "Type " + type->name.name, type->range); break;
      case TypeKind::List:
        line(depth, "Type list", type->range);
        dump_type(depth + 1, type->element.get());
        break;
      case TypeKind::Tensor:
        line(depth, "Type " + type->name.name + (type->has_shape ? " shaped" : ""), type->range);
        for (const auto& dim : type->dims) dump_expr(depth + 1, dim.get());
        break;
    }
  }

  void dump_block(int depth, std::string_view label, const StmtBlock& block) {
    line(depth, label, block.range);
    for (const auto& stmt : block.stmts) dump_stmt(depth + 1, *stmt);
  }

  void dump_stmt(int depth, const Stmt& stmt) {
    const std::string kind(kind_name(stmt.kind));
    switch (stmt.kind) {
      case StmtKind::Assign: {
        const auto& s = cast<AssignStmt>(stmt);
        line(depth, kind, s.range);
        dump_expr(depth + 1, s.target.get());
        dump_expr(depth + 1, s.value.get());
        break;
      }
      case StmtKind::AugAssign: {
        const auto& s = cast<AugAssignStmt>(stmt);
        line(depth, kind + " " + std::string(spelling(s.op)) + "=", s.range);
        dump_expr(depth + 1, s.target.get());
        dump_expr(depth + 1, s.value.get());
        break;
      }
      case StmtKind::If: {
        const auto& s = cast<IfStmt>(stmt);
        line(depth, kind, s.range);
        dump_expr(depth + 1, s.condition.get());
        dump_block(depth + 1, "Then", s.then_body);
        if (s.has_else) dump_block(depth + 1, "Else", s.else_body);
        break;
      }
      case StmtKind::For: {
        const auto& s = cast<ForStmt>(stmt);
        line(depth, kind + " " + name(s.var), s.range);
        dump_expr(depth + 1, s.iterable.get());
        dump_block(depth + 1, "Body", s.body);
        break;
      }
      case StmtKind::Return: {
        const auto& s = cast<ReturnStmt>(stmt);
        line(depth, kind, s.range);
        if (s.value) dump_expr(depth + 1, s.value.get());
        break;
      }
      case StmtKind::ExprStmt: {
        const auto& s = cast<ExprStmt>(stmt);
        line(depth, kind, s.range);
        dump_expr(depth + 1, s.expr.get());
        break;
      }
    }
  }

  void dump_map_entries(int depth, const MapExpr& map) {
    for (const auto& entry : map.entries) {
      line(depth, "Entry " + (entry.key_is_string ? quote_for_dump(entry.key.name) : name(entry.key)),
           entry.range);
      dump_expr(depth + 1, entry.value.get());
    }
  }

  // Leaves and small expressions print as source on one line; calls, maps and lists of
  // maps open up so that their parts get their own ranges.
  void dump_expr(int depth, const Expr* expr) {
    if (expr == nullptr) {
      line(depth, "<error>", {});
      return;
    }
    const std::string kind(kind_name(expr->kind));
    switch (expr->kind) {
      case ExprKind::Number: {
        const auto& e = cast<NumberExpr>(*expr);
        std::string text = kind + " " + e.spelling + " = ";
        text += e.is_integer ? std::to_string(e.int_value) : number_text(e.float_value);
        text += e.is_integer ? " int" : " float";
        line(depth, text, e.range);
        return;
      }
      case ExprKind::Map:
        line(depth, kind, expr->range);
        dump_map_entries(depth + 1, cast<MapExpr>(*expr));
        return;
      case ExprKind::Call: {
        const auto& e = cast<CallExpr>(*expr);
        line(depth, kind + " " + to_source(*e.callee), e.range);
        for (const auto& arg : e.args) {
          line(depth + 1, arg.is_named() ? "Arg " + name(arg.name) : std::string("Arg"), arg.range);
          dump_expr(depth + 2, arg.value.get());
        }
        return;
      }
      case ExprKind::Unary: {
        const auto& e = cast<UnaryExpr>(*expr);
        line(depth, kind + " " + std::string(spelling(e.op)), e.range);
        dump_expr(depth + 1, e.operand.get());
        return;
      }
      case ExprKind::Binary: {
        const auto& e = cast<BinaryExpr>(*expr);
        line(depth, kind + " " + std::string(spelling(e.op)), e.range);
        dump_expr(depth + 1, e.lhs.get());
        dump_expr(depth + 1, e.rhs.get());
        return;
      }
      case ExprKind::Conditional: {
        const auto& e = cast<ConditionalExpr>(*expr);
        line(depth, kind, e.range);
        dump_expr(depth + 1, e.then_value.get());
        dump_expr(depth + 1, e.condition.get());
        dump_expr(depth + 1, e.else_value.get());
        return;
      }
      case ExprKind::List:
      case ExprKind::Tuple: {
        const auto& elements = expr->kind == ExprKind::List ? cast<ListExpr>(*expr).elements
                                                            : cast<TupleExpr>(*expr).elements;
        line(depth, kind + " " + to_source(*expr), expr->range);
        bool nested = false;
        for (const auto& element : elements) {
          nested = nested || (element && (element->kind == ExprKind::Map ||
                                          element->kind == ExprKind::Call));
        }
        if (nested) {
          for (const auto& element : elements) dump_expr(depth + 1, element.get());
        }
        return;
      }
      default:
        line(depth, kind + " " + to_source(*expr), expr->range);
        return;
    }
  }

  const SourceBuffer& buffer_;
  std::string out_;
};

}  // namespace

std::string dump(const File& file, const SourceBuffer& buffer) { return Dumper(buffer).run(file); }

std::string to_source(const Expr& expr) {
  std::string out;
  write_source(out, &expr);
  return out;
}

}  // namespace triton::ast

// Unit tests of the parser: the AST shape of each construct, source ranges, precedence, and
// error recovery (several independent errors per run, none from cascades).
#include <gtest/gtest.h>

#include "ast/ast_printer.h"
#include "lex/lexer.h"
#include "parse/parser.h"

namespace triton {
namespace {

struct Parsed {
  std::unique_ptr<SourceBuffer> buffer;
  std::unique_ptr<DiagnosticEngine> diags;
  ast::File file;

  std::vector<DiagKind> kinds() const {
    std::vector<DiagKind> out;
    for (const auto& d : diags->diagnostics()) out.push_back(d.kind);
    return out;
  }
  std::string text(SourceRange range) const { return std::string(buffer->slice(range)); }
};

Parsed parse_text(std::string text, ParserLimits limits = {}) {
  Parsed result;
  result.buffer = std::make_unique<SourceBuffer>("test.triton", std::move(text));
  result.diags = std::make_unique<DiagnosticEngine>(*result.buffer, nullptr);
  const auto tokens = lex(*result.buffer, *result.diags);
  result.file = parse(tokens, *result.diags, limits);
  return result;
}

// Parses `expr` as the value of a hyper-parameter and returns it.
const ast::Expr& parse_value(Parsed& parsed, const std::string& expr) {
  parsed = parse_text("model M {\n  v: " + expr + "\n}\n");
  EXPECT_FALSE(parsed.diags->has_errors()) << expr;
  const auto& item = ast::cast<ast::HyperParamItem>(*parsed.file.decls.at(0)->items.at(0));
  return *item.value;
}

TEST(Parser, DeclarationsInAnyOrderWithNamesAndRanges) {
  auto parsed = parse_text("block B { }\nmodel M { }\nlayer L { }\n");
  ASSERT_FALSE(parsed.diags->has_errors());
  ASSERT_EQ(parsed.file.decls.size(), 3u);
  EXPECT_EQ(parsed.file.decls[0]->kind, ast::DeclKind::Block);
  EXPECT_EQ(parsed.file.decls[1]->kind, ast::DeclKind::Model);
  EXPECT_EQ(parsed.file.decls[2]->kind, ast::DeclKind::Layer);
  EXPECT_EQ(parsed.file.decls[1]->name.name, "M");
  EXPECT_EQ(parsed.text(parsed.file.decls[1]->range), "model M { }");
  EXPECT_EQ(parsed.text(parsed.file.decls[1]->name.range), "M");
}

TEST(Parser, HyperParameterVersusTypedConstant) {
  auto parsed = parse_text("model M {\n  width: 64\n  hidden: int = width * 4\n  xs: list[int] = [1]\n}");
  ASSERT_FALSE(parsed.diags->has_errors());
  const auto& items = parsed.file.decls[0]->items;
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0]->kind, ast::ItemKind::HyperParam);
  ASSERT_EQ(items[1]->kind, ast::ItemKind::Constant);
  const auto& constant = ast::cast<ast::ConstantItem>(*items[1]);
  EXPECT_EQ(constant.type->name.name, "int");
  EXPECT_EQ(ast::to_source(*constant.value), "width * 4");
  const auto& list_constant = ast::cast<ast::ConstantItem>(*items[2]);
  EXPECT_EQ(list_constant.type->kind, ast::TypeKind::List);
  EXPECT_EQ(list_constant.type->element->name.name, "int");
}

TEST(Parser, LayerSpecKinds) {
  auto parsed = parse_text(
      "model M {\n"
      "  layer a: Linear { in_features: 1, out_features: 2 }\n"
      "  layer b: Block[3] { width: 4 }\n"
      "  layer c: IR[] { [1, 16, 1, 1], [6, 24, 2, 2] }\n"
      "  layer d: IR[](t, c, n, s) { [1, 16, 1, 1] }\n"
      "  layer e: if (x > 1) { A {} B { p: 1 } }\n"
      "  layer f: Sequential { A {} B[2] {} }\n"
      "  layer g: ReLU\n"
      "}");
  ASSERT_FALSE(parsed.diags->has_errors());
  const auto& items = parsed.file.decls[0]->items;
  ASSERT_EQ(items.size(), 7u);
  auto spec = [&](size_t i) -> const ast::LayerSpec& {
    return *ast::cast<ast::LayerItem>(*items[i]).spec;
  };
  EXPECT_EQ(spec(0).kind, ast::LayerSpecKind::Instance);
  EXPECT_EQ(spec(0).attributes.size(), 2u);
  EXPECT_EQ(spec(1).kind, ast::LayerSpecKind::Repeat);
  EXPECT_EQ(ast::to_source(*spec(1).count), "3");
  EXPECT_EQ(spec(2).kind, ast::LayerSpecKind::Table);
  EXPECT_EQ(spec(2).rows.size(), 2u);
  EXPECT_FALSE(spec(2).has_columns);
  EXPECT_TRUE(spec(3).has_columns);
  EXPECT_EQ(spec(3).columns.size(), 4u);
  EXPECT_EQ(spec(4).kind, ast::LayerSpecKind::Conditional);
  EXPECT_EQ(spec(4).children.size(), 2u);
  EXPECT_EQ(spec(4).children[1]->attributes.size(), 1u);
  EXPECT_EQ(spec(5).type_name.name, "Sequential");
  EXPECT_EQ(spec(5).children.size(), 2u);
  EXPECT_EQ(spec(5).children[1]->kind, ast::LayerSpecKind::Repeat);
  EXPECT_EQ(spec(6).attributes.size(), 0u);
}

TEST(Parser, TensorItems) {
  auto parsed = parse_text(
      "block B {\n"
      "  param cls: Tensor[1, 1, dim] { init: \"normal\", std: 0.02 }\n"
      "  param bias: if (use_bias) Tensor { shape: [n], init: \"zeros\" }\n"
      "  state scale: Tensor { shape: [c] }\n"
      "}");
  ASSERT_FALSE(parsed.diags->has_errors());
  const auto& items = parsed.file.decls[0]->items;
  const auto& cls = ast::cast<ast::TensorItem>(*items[0]);
  EXPECT_FALSE(cls.is_state);
  EXPECT_TRUE(cls.type->has_shape);
  EXPECT_EQ(cls.type->dims.size(), 3u);
  EXPECT_EQ(cls.attributes.size(), 2u);
  const auto& bias = ast::cast<ast::TensorItem>(*items[1]);
  ASSERT_NE(bias.condition, nullptr);
  EXPECT_EQ(ast::to_source(*bias.condition), "use_bias");
  EXPECT_TRUE(ast::cast<ast::TensorItem>(*items[2]).is_state);
}

TEST(Parser, Precedence) {
  Parsed parsed;
  struct Case {
    const char* input;
    const char* expected;
  };
  for (const Case& c : {Case{"1 + 2 * 3", "1 + 2 * 3"}, Case{"(1 + 2) * 3", "(1 + 2) * 3"},
                        Case{"-2 ** 2", "-2 ** 2"}, Case{"2 ** 3 ** 2", "2 ** 3 ** 2"},
                        Case{"(2 ** 3) ** 2", "(2 ** 3) ** 2"},
                        Case{"a or b and not c", "a or b and not c"},
                        Case{"(a or b) and c", "(a or b) and c"},
                        Case{"x is not None", "x is not None"},
                        Case{"a if c else b if d else e", "a if c else b if d else e"},
                        Case{"a @ b % c", "a @ b % c"}}) {
    EXPECT_EQ(ast::to_source(parse_value(parsed, c.input)), c.expected) << c.input;
  }
  const auto& power = ast::cast<ast::UnaryExpr>(parse_value(parsed, "-2 ** 2"));
  EXPECT_EQ(power.op, ast::UnaryOp::Negate);
  EXPECT_EQ(power.operand->kind, ast::ExprKind::Binary);
}

// The parser's precedence levels (one function each) agree with the precedence column of
// ast/binary_ops.def: every infix operator parses to its own enumerator, and in `a P b Q c`
// the tighter operator (on a tie the left one, but for right-associative `**`) groups first.
TEST(Parser, EveryInfixOperatorBindsByItsListedPrecedence) {
  Parsed parsed;
  std::vector<BinaryOp> infix;
  for (BinaryOp op : kAllBinaryOps)
    if (op != BinaryOp::FloorDiv) infix.push_back(op);  // no infix form: `floor_div(a, b)`
  for (BinaryOp op : infix) {
    const std::string text = "a " + std::string(spelling(op)) + " b";
    const auto& e = parse_value(parsed, text);
    ASSERT_EQ(e.kind, ast::ExprKind::Binary) << text;
    EXPECT_EQ(spelling(ast::cast<ast::BinaryExpr>(e).op), spelling(op)) << text;
    EXPECT_EQ(ast::to_source(e), text);
  }
  for (BinaryOp p : infix) {
    for (BinaryOp q : infix) {
      const std::string text = "a " + std::string(spelling(p)) + " b " + std::string(spelling(q)) + " c";
      const auto& e = parse_value(parsed, text);
      ASSERT_EQ(e.kind, ast::ExprKind::Binary) << text;
      const auto& root = ast::cast<ast::BinaryExpr>(e);
      const bool right_assoc = p == BinaryOp::Pow && q == BinaryOp::Pow;
      const bool p_first = precedence(p) > precedence(q) || (precedence(p) == precedence(q) && !right_assoc);
      EXPECT_EQ(spelling(root.op), spelling(p_first ? q : p)) << text;
      EXPECT_EQ(ast::to_source(e), text);
    }
  }
}

TEST(Parser, CallsIndexingAndSlices) {
  Parsed parsed;
  const auto& call = ast::cast<ast::CallExpr>(parse_value(parsed, "f(x, dim: 1, keepdim=true)"));
  ASSERT_EQ(call.args.size(), 3u);
  EXPECT_FALSE(call.args[0].is_named());
  EXPECT_EQ(call.args[1].name.name, "dim");
  EXPECT_FALSE(call.args[1].equals_style);
  EXPECT_TRUE(call.args[2].equals_style);
  const auto& index = ast::cast<ast::IndexExpr>(parse_value(parsed, "t[..., 1:3, :, ::2]"));
  ASSERT_EQ(index.indices.size(), 4u);
  EXPECT_EQ(index.indices[0]->kind, ast::ExprKind::Ellipsis);
  const auto& slice = ast::cast<ast::SliceExpr>(*index.indices[1]);
  EXPECT_NE(slice.lower, nullptr);
  EXPECT_NE(slice.upper, nullptr);
  EXPECT_EQ(slice.step, nullptr);
  const auto& step = ast::cast<ast::SliceExpr>(*index.indices[3]);
  EXPECT_EQ(step.lower, nullptr);
  EXPECT_NE(step.step, nullptr);
  EXPECT_EQ(parsed.text(index.range), "t[..., 1:3, :, ::2]");
}

TEST(Parser, CountSuffixesReachTheAst) {
  Parsed parsed;
  const auto& number = ast::cast<ast::NumberExpr>(parse_value(parsed, "16.8B"));
  EXPECT_TRUE(number.is_integer);
  EXPECT_EQ(number.int_value, 16'800'000'000);
  EXPECT_EQ(number.suffix, 'B');
}

TEST(Parser, Statements) {
  auto parsed = parse_text(
      "block B {\n forward(x: Tensor) -> Tensor {\n"
      "  b, n, c = x.shape\n  out += x\n  if a { y = 1 } else if b { y = 2 } else { y = 3 }\n"
      "  f(x)\n  return a, b\n }\n}");
  ASSERT_FALSE(parsed.diags->has_errors());
  const auto& forward = ast::cast<ast::ForwardItem>(*parsed.file.decls[0]->items[0]);
  ASSERT_EQ(forward.body.stmts.size(), 5u);
  const auto& unpack = ast::cast<ast::AssignStmt>(*forward.body.stmts[0]);
  EXPECT_EQ(ast::cast<ast::TupleExpr>(*unpack.target).elements.size(), 3u);
  EXPECT_EQ(ast::cast<ast::AugAssignStmt>(*forward.body.stmts[1]).op, BinaryOp::Add);
  const auto& if_stmt = ast::cast<ast::IfStmt>(*forward.body.stmts[2]);
  ASSERT_TRUE(if_stmt.has_else);
  ASSERT_EQ(if_stmt.else_body.stmts.size(), 1u);
  EXPECT_EQ(if_stmt.else_body.stmts[0]->kind, ast::StmtKind::If);
  EXPECT_EQ(forward.body.stmts[3]->kind, ast::StmtKind::ExprStmt);
  const auto& ret = ast::cast<ast::ReturnStmt>(*forward.body.stmts[4]);
  EXPECT_EQ(ret.value->kind, ast::ExprKind::Tuple);
}

TEST(Parser, NewlinesEndItemsOnlyOutsideBrackets) {
  auto parsed = parse_text("model M {\n  a: f(1,\n        2)\n  b: 1\n  + 2\n}");
  // `+ 2` on its own line is not a continuation of `b: 1`.
  EXPECT_EQ(parsed.kinds(), std::vector<DiagKind>{DiagKind::expected_item});
  const auto& a = ast::cast<ast::HyperParamItem>(*parsed.file.decls[0]->items[0]);
  EXPECT_EQ(ast::to_source(*a.value), "f(1, 2)");
}

TEST(Parser, SectionsWithNestedMaps) {
  auto parsed = parse_text(
      "model M {\n training {\n  lr_schedule { type: \"cosine\" }\n  recipes { fast { epochs: 3 } }\n"
      "  milestones: [50, 75]\n }\n}");
  ASSERT_FALSE(parsed.diags->has_errors());
  const auto& section = ast::cast<ast::SectionItem>(*parsed.file.decls[0]->items[0]);
  EXPECT_EQ(section.section, ast::SectionKind::Training);
  ASSERT_EQ(section.body->entries.size(), 3u);
  const auto& recipes = ast::cast<ast::MapExpr>(*section.body->entries[1].value);
  EXPECT_EQ(recipes.entries[0].key.name, "fast");
  EXPECT_EQ(recipes.entries[0].value->kind, ast::ExprKind::Map);
}

TEST(ParserRecovery, ReportsEachIndependentErrorOnce) {
  auto parsed = parse_text(
      "model M {\n"
      "  a 1\n"                                     // missing colon
      "  layer fc: Linear { in_features: 1 out_features: 2 }\n"  // missing comma
      "  forward(x) {\n    y = relu(x\n    return y\n  }\n"     // unclosed paren
      "  trainig { }\n"                              // unknown section
      "}\n");
  EXPECT_EQ(parsed.kinds(), (std::vector<DiagKind>{DiagKind::expected_token,
                                                   DiagKind::expected_separator,
                                                   DiagKind::expected_token,
                                                   DiagKind::unknown_section}));
}

TEST(ParserRecovery, LexerErrorsCauseNoParserErrors) {
  auto parsed = parse_text("model M {\n  a: $\n  b: 'x'\n  c: \"open\n  d: 1\n}\n");
  EXPECT_EQ(parsed.kinds(), (std::vector<DiagKind>{DiagKind::stray_character,
                                                   DiagKind::single_quoted_string,
                                                   DiagKind::unterminated_string}));
  // The item after the bad lines still parsed.
  EXPECT_EQ(ast::cast<ast::HyperParamItem>(*parsed.file.decls[0]->items.back()).name.name, "d");
}

TEST(ParserLimits, DeepNestingIsOneErrorNotACrash) {
  std::string deep = "model M { v: " + std::string(100000, '[') + " }";
  auto parsed = parse_text(deep);
  EXPECT_EQ(parsed.kinds(), std::vector<DiagKind>{DiagKind::nesting_too_deep});
}

TEST(ParserLimits, NestingLimitIsConfigurable) {
  auto shallow = parse_text("model M { v: ((1)) }", ParserLimits{3});
  EXPECT_EQ(shallow.kinds(), std::vector<DiagKind>{DiagKind::nesting_too_deep});
  auto fine = parse_text("model M { v: ((1)) }", ParserLimits{10});
  EXPECT_FALSE(fine.diags->has_errors());
}

TEST(ParserLimits, DeepUnaryChainsAreBounded) {
  auto parsed = parse_text("model M { v: " + std::string(50000, '-') + "1 }");
  EXPECT_EQ(parsed.kinds(), std::vector<DiagKind>{DiagKind::nesting_too_deep});
  auto nots = parse_text("model M { v: " + [] {
    std::string s;
    for (int i = 0; i < 20000; ++i) s += "not ";
    return s;
  }() + "x }");
  EXPECT_EQ(nots.kinds(), std::vector<DiagKind>{DiagKind::nesting_too_deep});
}

TEST(ParserLimits, OperatorChainsCountAsNesting) {
  // The tree of `a + a + ... + a` is as deep as the chain; later walks recurse over it.
  std::string sum = "a";
  for (int i = 0; i < 5000; ++i) sum += " + a";
  EXPECT_EQ(parse_text("model M { v: " + sum + " }").kinds(),
            std::vector<DiagKind>{DiagKind::nesting_too_deep});
  std::string member = "x";
  for (int i = 0; i < 5000; ++i) member += ".y[0](z)";
  EXPECT_EQ(parse_text("model M { v: " + member + " }").kinds(),
            std::vector<DiagKind>{DiagKind::nesting_too_deep});
  std::string chain = "block B { forward(x) { if a { }";
  for (int i = 0; i < 5000; ++i) chain += " else if a { }";
  EXPECT_EQ(parse_text(chain + " } }").kinds(), std::vector<DiagKind>{DiagKind::nesting_too_deep});
  // Realistic chains are far below the limit.
  std::string fine = "a";
  for (int i = 0; i < 50; ++i) fine += " * a";
  EXPECT_FALSE(parse_text("model M { v: " + fine + " }").diags->has_errors());
}

TEST(Parser, EmptyFileIsAnError) {
  auto parsed = parse_text("// nothing\n");
  EXPECT_EQ(parsed.kinds(), std::vector<DiagKind>{DiagKind::no_declarations});
}

}  // namespace
}  // namespace triton

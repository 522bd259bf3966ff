// Tests of the checker's limits on hostile input: how deep blocks may nest, how many layers
// a model may expand to, and how long a list literal may be. The big inputs are generated
// here rather than committed; each must give one located error, not a crash, a stall or
// gigabytes of memory.
#include <gtest/gtest.h>

#include <string>

#include "check/checker.h"
#include "lex/lexer.h"
#include "parse/parser.h"

namespace triton {
namespace {

struct Checked {
  std::unique_ptr<SourceBuffer> buffer;
  std::unique_ptr<DiagnosticEngine> diags;
  ast::File file;
  std::optional<ir::Program> program;
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const auto& d : diags->diagnostics()) out.push_back(d.message);
    return out;
  }
};

Checked check_text(std::string text) {
  Checked c;
  c.buffer = std::make_unique<SourceBuffer>("test.triton", std::move(text));
  c.diags = std::make_unique<DiagnosticEngine>(*c.buffer, nullptr);
  auto tokens = lex(*c.buffer, *c.diags);
  c.file = parse(tokens, *c.diags);
  if (!c.diags->has_errors()) c.program = check_program(c.file, *c.diags, CheckOptions{"", "test.triton"});
  return c;
}

// `n` blocks, each using the previous one, and a model using the last; `users_first`
// declares them from the model down, so the checker meets the chain before its end.
std::string block_chain(int n, bool users_first) {
  std::vector<std::string> decls;
  decls.push_back("block B0 {\n    layer fc: Linear { in_features: 4, out_features: 4 }\n"
                  "    forward(x: Tensor) -> Tensor { return fc(x) }\n}\n");
  for (int i = 1; i < n; ++i)
    decls.push_back("block B" + std::to_string(i) + " {\n    layer b: B" + std::to_string(i - 1) +
                    "\n    forward(x: Tensor) -> Tensor { return b(x) }\n}\n");
  decls.push_back("model M {\n    layer b: B" + std::to_string(n - 1) +
                  "\n    forward(x: Tensor[batch, 4]) -> Tensor { return b(x) }\n}\n");
  std::string text;
  if (users_first)
    for (auto it = decls.rbegin(); it != decls.rend(); ++it) text += *it;
  else
    for (const auto& d : decls) text += d;
  return text;
}

TEST(CheckLimits, ChainOfTenThousandBlocksIsOneLocatedError) {
  for (bool users_first : {false, true}) {
    auto c = check_text(block_chain(10'000, users_first));
    EXPECT_FALSE(c.program);
    auto m = c.messages();
    ASSERT_EQ(m.size(), 1u) << m.front();
    EXPECT_NE(m[0].find("nests blocks more than 100 levels deep"), std::string::npos) << m[0];
    EXPECT_TRUE(c.diags->diagnostics()[0].range.has_value());
  }
}

TEST(CheckLimits, NestingAtTheLimitIsInterpretedToTheBottom) {
  auto c = check_text(block_chain(99, false));  // M and 99 blocks: 100 levels
  ASSERT_TRUE(c.program) << c.messages().front();
  const ir::ElabNode* n = &c.program->root;
  while (!n->children.empty()) n = &n->children.front();
  EXPECT_EQ(n->type_name, "Linear");
  EXPECT_TRUE(n->called);  // the forward of every level was interpreted
  EXPECT_EQ(n->output.to_string(), "[batch, 4]");
  EXPECT_FALSE(check_text(block_chain(100, false)).program);
}

// Blocks that each use two copies of the previous one: 2^levels layers.
std::string doubling_blocks(int levels) {
  std::string text = "block B0 {\n    layer fc: Linear { in_features: 4, out_features: 4 }\n"
                     "    forward(x: Tensor) -> Tensor { return fc(x) }\n}\n";
  for (int i = 1; i <= levels; ++i) {
    std::string prev = "B" + std::to_string(i - 1);
    text += "block B" + std::to_string(i) + " {\n    layer a: " + prev + "\n    layer b: " + prev +
            "\n    forward(x: Tensor) -> Tensor { return b(a(x)) }\n}\n";
  }
  return text + "model M {\n    layer b: B" + std::to_string(levels) +
         "\n    forward(x: Tensor[batch, 4]) -> Tensor { return b(x) }\n}\n";
}

TEST(CheckLimits, DoublingBlocksStopAtTheLayerBudget) {
  auto c = check_text(doubling_blocks(40));  // 2^40 layers: terabytes if instantiated
  EXPECT_FALSE(c.program);
  auto m = c.messages();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].rfind("`M` expands to more than 100,000 layers", 0), 0u) << m[0];
  // Just under the budget still compiles.
  EXPECT_TRUE(check_text(doubling_blocks(15)).program);  // 65,534 layers, blocks included
}

TEST(CheckLimits, HugeListLiteralIsOneErrorAndIsNotBuilt) {
  std::string list;
  for (int i = 0; i < 1'000'000; ++i) list += i ? ",1" : "1";
  auto c = check_text("model M {\n    sizes: [" + list + "]\n    layer fc: Linear { in_features: 4, out_features: 4 }\n"
                      "    forward(x: Tensor[batch, 4]) -> Tensor { return fc(x) }\n}\n");
  EXPECT_FALSE(c.program);
  auto m = c.messages();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], "list literal has more than 10000 elements");
  // The model's other items still parsed (no cascade after the skipped rest of the list).
  ASSERT_EQ(c.file.decls.size(), 1u);
}

}  // namespace
}  // namespace triton

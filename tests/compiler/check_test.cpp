// Unit tests of the checker's building blocks and of the checker on small programs: exact
// constant arithmetic, the built-in schema's shape rules and costs, name resolution,
// repetition and table expansion, width inference and shape errors with their notes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "schema/builtins.h"
#include "check/checker.h"
#include "schema/const_value.h"
#include "lex/lexer.h"
#include "parse/parser.h"

namespace triton {
namespace {

using CV = ConstValue;

TEST(ConstValue, IntegerArithmeticStaysExact) {
  auto r = const_binary(BinaryOp::Mul, CV::of_int(3'000'000'000), CV::of_int(3));
  ASSERT_TRUE(r.value);
  EXPECT_TRUE(r.value->is_int());
  EXPECT_EQ(r.value->as_int(), 9'000'000'000);
}

TEST(ConstValue, DivisionIsIntOnlyWhenExact) {
  auto exact = const_binary(BinaryOp::Div, CV::of_int(12), CV::of_int(4));
  ASSERT_TRUE(exact.value && exact.value->is_int());
  EXPECT_EQ(exact.value->as_int(), 3);
  auto inexact = const_binary(BinaryOp::Div, CV::of_int(10), CV::of_int(4));
  ASSERT_TRUE(inexact.value && inexact.value->is_float());
  EXPECT_DOUBLE_EQ(inexact.value->as_float(), 2.5);
  EXPECT_FALSE(const_to_int(*inexact.value).value);
}

TEST(ConstValue, FloorDivisionRoundsDownLikePython) {
  EXPECT_EQ(const_binary(BinaryOp::FloorDiv, CV::of_int(-7), CV::of_int(2)).value->as_int(), -4);
  EXPECT_EQ(const_binary(BinaryOp::Mod, CV::of_int(-7), CV::of_int(2)).value->as_int(), 1);
}

// INT64_MIN / -1 traps (SIGFPE) in C++; every operator must answer like Python or fail.
TEST(ConstValue, DivisionAtTheInt64LimitIsExactOrAnOverflowError) {
  const CV lo = CV::of_int(INT64_MIN), minus_one = CV::of_int(-1);
  for (auto op : {BinaryOp::Div, BinaryOp::FloorDiv}) {
    auto r = const_binary(op, lo, minus_one);
    ASSERT_FALSE(r.value);
    EXPECT_NE(r.error.find("integer overflow"), std::string::npos) << r.error;
  }
  EXPECT_EQ(const_binary(BinaryOp::Mod, lo, minus_one).value->as_int(), 0);
  EXPECT_EQ(const_binary(BinaryOp::Mod, CV::of_int(INT64_MAX), CV::of_int(-2)).value->as_int(), -1);
  EXPECT_EQ(const_binary(BinaryOp::Mod, lo, CV::of_int(INT64_MAX)).value->as_int(), INT64_MAX - 1);
  EXPECT_EQ(const_binary(BinaryOp::FloorDiv, lo, CV::of_int(2)).value->as_int(), INT64_MIN / 2);
  EXPECT_EQ(const_binary(BinaryOp::Div, CV::of_int(INT64_MAX), minus_one).value->as_int(), -INT64_MAX);
}

TEST(ConstValue, PowerIsFastAndChecked) {
  // `1 ** INT64_MAX` took 2^63 multiplications with a linear loop.
  EXPECT_EQ(const_binary(BinaryOp::Pow, CV::of_int(1), CV::of_int(INT64_MAX)).value->as_int(), 1);
  EXPECT_EQ(const_binary(BinaryOp::Pow, CV::of_int(-1), CV::of_int(INT64_MAX)).value->as_int(), -1);
  EXPECT_EQ(const_binary(BinaryOp::Pow, CV::of_int(0), CV::of_int(INT64_MAX)).value->as_int(), 0);
  EXPECT_EQ(const_binary(BinaryOp::Pow, CV::of_int(-2), CV::of_int(63)).value->as_int(), INT64_MIN);
  EXPECT_EQ(const_binary(BinaryOp::Pow, CV::of_int(3), CV::of_int(39)).value->as_int(), 4052555153018976267);
  EXPECT_FALSE(const_binary(BinaryOp::Pow, CV::of_int(2), CV::of_int(63)).value);
  EXPECT_FALSE(const_binary(BinaryOp::Pow, CV::of_int(2), CV::of_int(INT64_MAX)).value);
}

TEST(ConstValue, IntOfAFloatOutsideTheRangeIsAnError) {
  EXPECT_FALSE(const_truncate_to_int(CV::of_float(1e300)).value);
  EXPECT_FALSE(const_truncate_to_int(CV::of_float(9223372036854775808.0)).value);
  EXPECT_FALSE(const_truncate_to_int(CV::of_float(std::nan(""))).value);
  EXPECT_EQ(const_truncate_to_int(CV::of_float(-9223372036854775808.0)).value->as_int(), INT64_MIN);
  EXPECT_EQ(const_truncate_to_int(CV::of_float(-2.7)).value->as_int(), -2);
}

TEST(ConstValue, ConcatenationIsBounded) {
  ConstList half(kMaxConstLength / 2 + 1, CV::of_int(0));
  EXPECT_FALSE(const_binary(BinaryOp::Add, CV::of_list(half), CV::of_list(half)).value);
  std::string s(kMaxConstLength / 2 + 1, 'x');
  EXPECT_FALSE(const_binary(BinaryOp::Add, CV::of_str(s), CV::of_str(s)).value);
}

TEST(ConstValue, OverflowAndDivisionByZeroAreErrorsWithOperands) {
  auto over = const_binary(BinaryOp::Mul, CV::of_int(INT64_MAX), CV::of_int(2));
  EXPECT_FALSE(over.value);
  EXPECT_NE(over.error.find("overflow"), std::string::npos);
  auto zero = const_binary(BinaryOp::Div, CV::of_int(1), CV::of_int(0));
  EXPECT_FALSE(zero.value);
  EXPECT_NE(zero.error.find("`1 / 0`"), std::string::npos);
}

// Every operator of ast/binary_ops.def on the same operands, with the answer Python gives (or
// a rejection where constants do not define it). An operator added to the list without an
// expectation here fails, so constant evaluation is decided for each one.
TEST(ConstValue, EveryBinaryOperator) {
  const std::optional<CV> rejected;
  const std::map<BinaryOp, std::optional<CV>> expected = {
      {BinaryOp::Add, CV::of_int(9)},       {BinaryOp::Sub, CV::of_int(5)},
      {BinaryOp::Mul, CV::of_int(14)},      {BinaryOp::Div, CV::of_float(3.5)},
      {BinaryOp::FloorDiv, CV::of_int(3)},  {BinaryOp::Mod, CV::of_int(1)},
      {BinaryOp::Pow, CV::of_int(49)},      {BinaryOp::MatMul, rejected},
      {BinaryOp::Eq, CV::of_bool(false)},   {BinaryOp::Ne, CV::of_bool(true)},
      {BinaryOp::Lt, CV::of_bool(false)},   {BinaryOp::Le, CV::of_bool(false)},
      {BinaryOp::Gt, CV::of_bool(true)},    {BinaryOp::Ge, CV::of_bool(true)},
      {BinaryOp::Is, CV::of_bool(false)},   {BinaryOp::IsNot, CV::of_bool(true)},
      {BinaryOp::And, CV::of_int(2)},       {BinaryOp::Or, CV::of_int(7)},
  };
  EXPECT_EQ(expected.size(), kAllBinaryOps.size());
  for (BinaryOp op : kAllBinaryOps) {
    SCOPED_TRACE(std::string(spelling(op)));
    auto want = expected.find(op);
    ASSERT_NE(want, expected.end()) << "no expected constant result for this operator";
    EXPECT_EQ(const_binary_supported(op), want->second.has_value());
    auto r = const_binary(op, CV::of_int(7), CV::of_int(2));
    if (!want->second) {
      EXPECT_FALSE(r.value);
      EXPECT_EQ(r.error, "operator `" + std::string(spelling(op)) + "` is not supported in a constant");
      continue;
    }
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(r.value->to_source(), want->second->to_source());  // also tells 3 from 3.0
  }
  // `is` compares by value; with None it is the `x is None` test.
  EXPECT_TRUE(const_binary(BinaryOp::Is, CV::none(), CV::none()).value->as_bool());
  EXPECT_FALSE(const_binary(BinaryOp::IsNot, CV::none(), CV::none()).value->as_bool());
  EXPECT_TRUE(const_binary(BinaryOp::IsNot, CV::of_int(0), CV::none()).value->as_bool());
}

TEST(ConstValue, IntegralFloatsConvertToInt) {
  auto r = const_to_int(CV::of_float(16.0));
  ASSERT_TRUE(r.value);
  EXPECT_EQ(r.value->as_int(), 16);
}

TEST(ConstValue, FloatsPrintInTheShortestExactForm) {
  EXPECT_EQ(format_float(0.1), "0.1");
  EXPECT_EQ(format_float(2.0), "2.0");
  EXPECT_EQ(format_float(1e-5), "1e-05");
}

TEST(Builtins, EveryContractLayerHasASchema) {
  for (const char* name : {"TernaryLinear", "TernaryConv2d", "TernaryConv1d", "TernaryActivation", "Linear", "Conv2d", "BatchNorm1d",
                           "BatchNorm2d", "LayerNorm", "ReLU", "ReLU6", "SiLU", "Sigmoid", "Tanh", "Identity", "GELU",
                           "Softmax", "Dropout", "Flatten", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Embedding",
                           "Sequential", "MultiHeadAttention"})
    EXPECT_NE(find_builtin_layer(name), nullptr) << name;
}

AttrSet attrs_of(const char* layer, std::vector<std::pair<std::string, CV>> given) {
  AttrSet a;
  a.schema = find_builtin_layer(layer);
  for (const auto& s : a.schema->attrs) {
    CV v = s.default_value;
    for (const auto& [k, g] : given)
      if (k == s.name) v = g;
    a.values.push_back(v);
  }
  return a;
}

TEST(Builtins, LinearRuleReportsWidthMismatchWithTheAttribute) {
  auto a = attrs_of("TernaryLinear", {{"in_features", CV::of_int(256)}, {"out_features", CV::of_int(10)}});
  auto bad = a.schema->infer(a, Shape::of({Dim::sym("batch"), Dim::known(512)}));
  EXPECT_EQ(bad.error, "`TernaryLinear` expects 256 input features, got 512");
  EXPECT_EQ(bad.attr, "in_features");
  auto ok = a.schema->infer(a, Shape::of({Dim::sym("batch"), Dim::known(256)}));
  EXPECT_EQ(ok.out.to_string(), "[batch, 10]");
}

TEST(Builtins, ConvolutionShapeAndTernaryCost) {
  auto a = attrs_of("TernaryConv2d", {{"in_channels", CV::of_int(3)}, {"out_channels", CV::of_int(64)},
                                      {"kernel_size", CV::of_int(3)}, {"stride", CV::of_int(2)},
                                      {"padding", CV::of_int(1)}, {"bias", CV::of_bool(false)}});
  Shape in = Shape::of({Dim::sym("batch"), Dim::known(3), Dim::known(32), Dim::known(32)});
  auto r = a.schema->infer(a, in);
  ASSERT_TRUE(r.error.empty());
  EXPECT_EQ(r.out.to_string(), "[batch, 64, 16, 16]");
  LayerCost c = a.schema->cost(a, in, r.out);
  EXPECT_EQ(c.ternary_weights, 64 * 3 * 3 * 3);
  EXPECT_EQ(c.ternary_scales, 64);
  EXPECT_EQ(c.float_params, 0);
  EXPECT_EQ(c.macs, 64 * 27 * 16 * 16);
  EXPECT_EQ(c.packed_bytes(), (1728 + 3) / 4 + 4 * 64);
}

TEST(Builtins, OneDimensionalConvolutionShapeCostAndChannelCheck) {
  auto a = attrs_of("TernaryConv1d", {{"in_channels", CV::of_int(40)}, {"out_channels", CV::of_int(64)},
                                      {"kernel_size", CV::of_int(3)}, {"stride", CV::of_int(2)},
                                      {"padding", CV::of_int(2)}, {"dilation", CV::of_int(2)}});
  Shape in = Shape::of({Dim::sym("batch"), Dim::known(40), Dim::known(101)});
  auto r = a.schema->infer(a, in);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.out.to_string(), "[batch, 64, 51]");  // (101 + 4 - 2 * 2 - 1) / 2 + 1
  LayerCost c = a.schema->cost(a, in, r.out);
  EXPECT_EQ(c.ternary_weights, 64 * 40 * 3);
  EXPECT_EQ(c.ternary_scales, 64);
  EXPECT_EQ(c.float_params, 64);  // the bias
  EXPECT_EQ(c.macs, 64 * 40 * 3 * 51);
  auto bad = a.schema->infer(a, Shape::of({Dim::sym("batch"), Dim::known(32), Dim::known(101)}));
  EXPECT_EQ(bad.error, "`TernaryConv1d` expects 40 input channels, got 32");
  EXPECT_EQ(bad.attr, "in_channels");
  auto image = a.schema->infer(a, Shape::of({Dim::sym("batch"), Dim::known(40), Dim::known(8), Dim::known(8)}));
  EXPECT_EQ(image.error, "`TernaryConv1d` expects a 3-d input [batch, channels, length], got a tensor of shape [batch, 40, 8, 8]");
  // Padded to 4 + 4 = 8 samples, less than the dilated kernel's 9: empty, even though
  // truncating (8 - 9) / 2 toward zero would give one output.
  auto wide = attrs_of("TernaryConv1d", {{"in_channels", CV::of_int(40)}, {"out_channels", CV::of_int(64)},
                                         {"kernel_size", CV::of_int(5)}, {"stride", CV::of_int(2)},
                                         {"padding", CV::of_int(2)}, {"dilation", CV::of_int(2)}});
  auto short_input = wide.schema->infer(wide, Shape::of({Dim::sym("batch"), Dim::known(40), Dim::known(4)}));
  EXPECT_EQ(short_input.error, "`TernaryConv1d` gives an empty output: input length 4 is smaller than the kernel");
  EXPECT_EQ(short_input.attr, "kernel_size");
  EXPECT_EQ(a.schema->widths()->dim, WidthDim::Channel);
}

TEST(Builtins, FunctionsWithPythonKeywordNamesGetAnUnderscore) {
  EXPECT_EQ(find_builtin_function("sum")->python_name, "sum_");
  EXPECT_EQ(find_builtin_function("relu")->python_name, "relu");
}

// ---- the checker on source text ----

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
  EXPECT_FALSE(c.diags->has_errors());
  c.program = check_program(c.file, *c.diags, CheckOptions{"", "test.triton"});
  return c;
}

TEST(Checker, CountsParametersOfAnMlp) {
  auto c = check_text(R"(
model MLP {
    hidden: 256
    layer fc1: TernaryLinear { in_features: 784, out_features: hidden }
    layer fc2: TernaryLinear { in_features: hidden, out_features: 10 }
    forward(x: Tensor[batch, 1, 28, 28]) -> Tensor[batch, 10] {
        return fc2(relu(fc1(flatten(x, start_dim: 1))))
    }
}
)");
  ASSERT_TRUE(c.program);
  EXPECT_EQ(c.program->root.total().params(), 203'530);
}

TEST(Checker, RepeatThreadsWidthsAndStride) {
  auto c = check_text(R"(
model M {
    layer convs: Conv2d[3] { in_channels: 8, out_channels: 16, kernel_size: 3, stride: 2, padding: 1 }
    forward(x: Tensor[batch, 8, 32, 32]) -> Tensor[batch, 16, 16, 16] { return convs(x) }
}
)");
  ASSERT_TRUE(c.program) << c.messages().front();
  const auto& stack = c.program->root.children.at(0);
  EXPECT_EQ(stack.attrs->int_of("in_channels"), 8);
  const auto& second = c.program->root.children.at(1);
  EXPECT_EQ(second.attrs->int_of("in_channels"), 16);
  EXPECT_EQ(second.attrs->pair_of("stride", 0), 1);
  EXPECT_EQ(c.program->root.children.size(), 3u);
}

TEST(Checker, TableInfersTheFirstInputWidthFromItsFirstUse) {
  auto c = check_text(R"(
model M {
    layer stem: Conv2d { in_channels: 3, out_channels: 32, kernel_size: 3, padding: 1 }
    layer convs: Conv2d[](out_channels, repeat, stride) {
        [16, 1, 1]
        [24, 2, 2]
        kernel_size: 3
        padding: 1
    }
    forward(x: Tensor[batch, 3, 8, 8]) -> Tensor { return convs(stem(x)) }
}
)");
  ASSERT_TRUE(c.program) << c.messages().front();
  const auto& kids = c.program->root.children;
  ASSERT_EQ(kids.size(), 4u);
  EXPECT_EQ(kids[1].attrs->int_of("in_channels"), 32);
  EXPECT_EQ(kids[2].attrs->int_of("in_channels"), 16);
  EXPECT_EQ(kids[3].attrs->int_of("in_channels"), 24);
  EXPECT_EQ(kids[3].attrs->pair_of("stride", 0), 1);
  EXPECT_EQ(kids[3].output.to_string(), "[batch, 24, 4, 4]");
}

TEST(Checker, LocalShadowsLayerFlowSensitively) {
  auto c = check_text(R"(
model M {
    layer qkv: Linear { in_features: 8, out_features: 24 }
    forward(x: Tensor[batch, 8]) -> Tensor[batch, 24] {
        qkv = qkv(x)
        return qkv
    }
}
)");
  EXPECT_TRUE(c.program);
}

TEST(Checker, ConstantAndLayerMayShareANameButTwoConstantsMayNot) {
  auto ok = check_text(R"(
model M {
    dropout: 0.1
    layer dropout: Dropout { p: dropout }
    forward(x: Tensor[batch, 8]) -> Tensor { return dropout(x) }
}
)");
  EXPECT_TRUE(ok.program);
  auto bad = check_text(R"(
model M {
    p: 0.1
    p: 0.2
    layer d: Dropout { p: p }
    forward(x: Tensor[batch, 8]) -> Tensor { return d(x) }
}
)");
  EXPECT_FALSE(bad.program);
  EXPECT_EQ(bad.diags->diagnostics().at(0).kind, DiagKind::duplicate_constant);
}

TEST(Checker, WidthMismatchIsReportedOnceWithANote) {
  auto c = check_text(R"(
model M {
    layer a: Linear { in_features: 8, out_features: 512 }
    layer b: TernaryLinear { in_features: 256, out_features: 10 }
    forward(x: Tensor[batch, 8]) -> Tensor { return b(a(x)) }
}
)");
  ASSERT_FALSE(c.program);
  ASSERT_EQ(c.diags->diagnostics().size(), 1u);
  const auto& d = c.diags->diagnostics()[0];
  EXPECT_EQ(d.message, "`TernaryLinear` expects 256 input features, got 512");
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_EQ(d.notes[0].message, "`b` declared here with `in_features: 256`");
}

TEST(Checker, SeveralIndependentErrorsInOneRun) {
  auto c = check_text(R"(
model M {
    layer a: Linaer { in_features: 8, out_features: 8 }
    layer b: Linear { in_features: 8, out_featres: 8 }
    forward(x: Tensor[batch, 8]) -> Tensor { return undefined_thing(x) }
}
)");
  EXPECT_FALSE(c.program);
  EXPECT_EQ(c.diags->error_count(), 3u);
}

// Constants may use every operator that constant arithmetic defines; the others are reported
// at the operator where the constant is written, before anything is evaluated.
TEST(Checker, EveryBinaryOperatorInAConstant) {
  for (BinaryOp op : kAllBinaryOps) {
    if (op == BinaryOp::FloorDiv) continue;  // no infix form: the call `floor_div(a, b)`
    const bool is_test = op == BinaryOp::Is || op == BinaryOp::IsNot;  // `is` only with None
    const std::string text = "a " + std::string(spelling(op)) + (is_test ? " None" : " 2");
    SCOPED_TRACE(text);
    auto c = check_text("model M {\n    a: 7\n    k: " + text +
                        "\n    forward(x: Tensor[batch, 8]) -> Tensor { return x }\n}\n");
    if (const_binary_supported(op)) {
      ASSERT_TRUE(c.program) << c.messages().front();
      const auto& constants = c.program->entry_module().constants;
      const auto k = std::find_if(constants.begin(), constants.end(), [](const auto& d) { return d.name == "k"; });
      ASSERT_NE(k, constants.end());
      const CV rhs = is_test ? CV::none() : CV::of_int(2);
      EXPECT_EQ(k->default_value.to_source(), const_binary(op, CV::of_int(7), rhs).value->to_source());
      continue;
    }
    EXPECT_FALSE(c.program);
    ASSERT_EQ(c.diags->diagnostics().size(), 1u);
    const auto& d = c.diags->diagnostics()[0];
    EXPECT_EQ(d.kind, DiagKind::unsupported_expression);
    EXPECT_EQ(d.message, "operator `" + std::string(spelling(op)) + "` in a constant is not supported here");
    ASSERT_TRUE(d.range);
    EXPECT_EQ(c.buffer->slice(*d.range), spelling(op));
  }
}

TEST(Checker, UserDefinitionReplacesBuiltinWithAWarning) {
  auto c = check_text(R"(
layer Identity {
    forward(x: Tensor) -> Tensor { return relu(x) }
}
model M {
    layer id: Identity
    forward(x: Tensor[batch, 8]) -> Tensor { return id(x) }
}
)");
  ASSERT_TRUE(c.program);
  EXPECT_EQ(c.diags->warning_count(), 1u);
  EXPECT_EQ(c.program->root.children.at(0).type_name, "Identity");
  EXPECT_FALSE(c.program->root.children.at(0).is_leaf);
}

}  // namespace
}  // namespace triton

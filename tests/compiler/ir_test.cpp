// Unit tests of the IR, its verifier and printer, and the passes: a hand-built function,
// a verifier that rejects use-before-definition and a `binary` `is`, constant folding and
// dead-value elimination, and a pass manager that stops at a broken pass under --verify-each.
#include <gtest/gtest.h>

#include <sstream>

#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"

namespace triton::ir {
namespace {

// model M { layer fc: Linear{4->4}; forward(x) { unused = relu(x); return fc(x) * (2 + 3) } }
Program small_program() {
  Program p;
  p.source_name = "hand.triton";
  Module m;
  m.name = "M";
  m.kind = ModuleKind::Model;
  Instance inst;
  inst.type_name = "Linear";
  inst.builtin = find_builtin_layer("Linear");
  ExprNode four;
  four.literal = ConstValue::of_int(4);
  ExprId e4 = m.add_expr(four);
  inst.attrs = {{"in_features", e4}, {"out_features", e4}};
  Submodule sub;
  sub.name = "fc";
  sub.instances.push_back(inst);
  m.submodules.push_back(sub);
  Function f;
  f.body = f.new_region();
  RegionId b = f.body;
  ValueId x = f.op(f.append(b, OpKind::Input, InputAttrs{"x", 0}, {}, 1, {})).results[0];
  f.arg_names = {"x"};
  f.arg_types = {ValueType{ValueType::Kind::Tensor, {}}};
  f.append(b, OpKind::CallFunction, CallFunctionAttrs{find_builtin_function("relu"), {""}}, {x}, 1, {});
  ValueId y = f.op(f.append(b, OpKind::CallLayer, CallLayerAttrs{"fc", {""}}, {x}, 1, {})).results[0];
  ValueId two = f.op(f.append(b, OpKind::Constant, ConstantAttrs{ConstValue::of_int(2)}, {}, 1, {})).results[0];
  ValueId three = f.op(f.append(b, OpKind::Constant, ConstantAttrs{ConstValue::of_int(3)}, {}, 1, {})).results[0];
  ValueId sum = f.op(f.append(b, OpKind::Binary, BinaryAttrs{BinaryOp::Add}, {two, three}, 1, {})).results[0];
  ValueId out = f.op(f.append(b, OpKind::Binary, BinaryAttrs{BinaryOp::Mul}, {y, sum}, 1, {})).results[0];
  f.append(b, OpKind::Return, ReturnAttrs{}, {out}, 0, {});
  m.forward = std::move(f);
  p.modules.push_back(std::move(m));
  p.entry = ModuleId(size_t{0});
  return p;
}

TEST(Verifier, AcceptsAWellFormedProgram) { EXPECT_TRUE(verify(small_program()).empty()); }

TEST(Verifier, RejectsUseBeforeDefinition) {
  Program p = small_program();
  auto& f = *p.modules[0].forward;
  auto& ops = f.region(f.body).ops;
  std::swap(ops[0], ops[2]);  // the layer call now comes before the input it reads
  auto errors = verify(p);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("used before it is defined"), std::string::npos);
}

TEST(Verifier, RejectsACallOfAnUnknownSubmodule) {
  Program p = small_program();
  auto& f = *p.modules[0].forward;
  std::get<CallLayerAttrs>(f.ops[2].attrs).submodule = "nope";
  EXPECT_FALSE(verify(p).empty());
}

TEST(Verifier, RejectsABinaryIsWhichMustBeIsNone) {
  Program p = small_program();
  auto& f = *p.modules[0].forward;
  std::get<BinaryAttrs>(f.ops[5].attrs).op = BinaryOp::Is;  // `2 + 3` becomes `2 is 3`
  auto errors = verify(p);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("is_none"), std::string::npos) << errors[0];
}

TEST(Printer, IsDeterministicAndShowsOps) {
  std::string a = print_program(small_program()), b = print_program(small_program());
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find("call_layer fc %0"), std::string::npos);
  EXPECT_NE(a.find("layer fc = Linear(in_features: 4, out_features: 4)"), std::string::npos);
}

TEST(Passes, ConstantFoldingAndDeadValueElimination) {
  Program p = small_program();
  std::ostringstream out, err;
  auto report = passes::run_passes(p, passes::pipeline_for_level(2), {{}, true, false}, out, err);
  ASSERT_TRUE(report.ok);
  std::string text = print_program(p);
  EXPECT_NE(text.find("constant 5"), std::string::npos) << text;
  EXPECT_EQ(text.find("call relu"), std::string::npos) << text;
  EXPECT_EQ(text.find("constant 2"), std::string::npos) << text;
  EXPECT_TRUE(verify(p).empty());
}

TEST(Passes, O0RunsNothing) { EXPECT_TRUE(passes::pipeline_for_level(0).empty()); }

TEST(PassManager, VerifyEachNamesTheBrokenPass) {
  Program p = small_program();
  passes::Pass breaker{"breaker", [](Program& prog) {
                         auto& f = *prog.modules[0].forward;
                         std::swap(f.region(f.body).ops[0], f.region(f.body).ops[2]);
                         return true;
                       }};
  std::ostringstream out, err;
  auto report = passes::run_passes(p, {breaker}, {{}, true, false}, out, err);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.failed_pass, "breaker");
}

TEST(PassManager, PrintAfterAndTimePasses) {
  Program p = small_program();
  std::ostringstream out, err;
  passes::run_passes(p, passes::pipeline_for_level(1), {{"constant-folding"}, false, true}, out, err);
  EXPECT_NE(out.str().find("; IR after constant-folding"), std::string::npos);
  EXPECT_NE(err.str().find("pass constant-folding"), std::string::npos);
}

}  // namespace
}  // namespace triton::ir

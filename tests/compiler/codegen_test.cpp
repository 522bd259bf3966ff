// Unit tests of the PyTorch backend's writer: the name allocator never yields a keyword, a
// builtin or a clash; strings are escaped so they cannot end early; long calls wrap without
// splitting string literals; and the backend emits the contract's shape.
#include <gtest/gtest.h>

#include "codegen/pytorch/python_writer.h"

namespace triton::codegen {
namespace {

TEST(NameAllocator, NeverYieldsKeywordsBuiltinsOrClashes) {
  NameAllocator a({"self"});
  EXPECT_EQ(a.allocate("import"), "import_");
  EXPECT_EQ(a.allocate("sum"), "sum_");
  EXPECT_EQ(a.allocate("self"), "self_");
  EXPECT_EQ(a.allocate("x"), "x");
  EXPECT_EQ(a.allocate("x"), "x_2");
  EXPECT_EQ(a.allocate("x"), "x_3");
  EXPECT_EQ(a.allocate("import"), "import__2");
  for (const char* k : {"class", "def", "lambda", "None", "True", "print", "len", "match", "type"})
    EXPECT_TRUE(is_python_reserved(a.allocate(k)) == false) << k;
}

TEST(NameAllocator, MakesAnyTextAnIdentifier) {
  NameAllocator a;
  EXPECT_EQ(a.allocate("a-b c"), "a_b_c");
  EXPECT_EQ(a.allocate("9lives"), "v_9lives");
  EXPECT_EQ(a.allocate(""), "v_");
}

TEST(PyString, EscapesEverythingThatCouldEndTheLiteral) {
  EXPECT_EQ(py_string("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(py_string("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(py_string("line\nbreak"), "\"line\\nbreak\"");
  EXPECT_EQ(py_string("\"\"\""), "\"\\\"\\\"\\\"\"");
  EXPECT_EQ(py_string(std::string("nul\0x", 5)), "\"nul\\x00x\"");
}

TEST(NameAllocator, NeverKeepsALeadingDoubleUnderscore) {
  // A layer `__call__` would replace nn.Module.__call__ (Model()(x) recursed), and
  // `self.__x` is name-mangled inside a class body.
  NameAllocator a;
  EXPECT_EQ(a.allocate("__call__"), "v__call__");
  EXPECT_EQ(a.allocate("__init__"), "v__init__");
  EXPECT_EQ(a.allocate("__x"), "v__x");
  EXPECT_EQ(a.allocate("_x"), "_x");
  EXPECT_EQ(a.allocate("x__"), "x__");
}

TEST(PyString, EscapesBidiAndInvisibleFormatCharacters) {
  EXPECT_EQ(py_string("a\u202e" "b"), "\"a\\u202eb\"");
  EXPECT_EQ(py_string("\u2066x\u2069"), "\"\\u2066x\\u2069\"");
  EXPECT_EQ(py_string("\u200b\ufeff"), "\"\\u200b\\ufeff\"");
  EXPECT_EQ(py_string("caf\u00e9 \U0001F600"), "\"caf\u00e9 \U0001F600\"");  // printable: kept
}

TEST(PyValue, WritesPythonSpellings) {
  EXPECT_EQ(py_value(ConstValue::of_bool(true)), "True");
  EXPECT_EQ(py_value(ConstValue::none()), "None");
  EXPECT_EQ(py_value(ConstValue::of_float(1e-5)), "1e-05");
  EXPECT_EQ(py_value(ConstValue::of_list({ConstValue::of_int(1), ConstValue::of_str("a")})), "[1, \"a\"]");
}

TEST(WrapCall, BreaksLongCallsButNeverInsideStrings) {
  std::string flat = "self.x = L.Thing(alpha=1, beta=\"a, b, c, d, e, f, g\", gamma=3, delta=4, epsilon=5, zeta=6)";
  std::string wrapped = wrap_call(flat, 8, 60);
  EXPECT_EQ(wrapped,
            "self.x = L.Thing(\n"
            "    alpha=1,\n"
            "    beta=\"a, b, c, d, e, f, g\",\n"
            "    gamma=3,\n"
            "    delta=4,\n"
            "    epsilon=5,\n"
            "    zeta=6,\n"
            ")");
  EXPECT_EQ(wrap_call("short(a, b)", 0, 100), "short(a, b)");
}

TEST(WrapCall, GeneratorGetsNoTrailingComma) {
  std::string w = wrap_call("*(Block(a=1, b=2) for _ in range(n - 1))", 0, 20);
  EXPECT_EQ(w.find("),\n)"), std::string::npos) << w;
  EXPECT_NE(w.find("for _ in range(n - 1)\n)"), std::string::npos) << w;
}

TEST(PythonWriter, IndentsAndSpacesBlocks) {
  PythonWriter w;
  w.line("class A:");
  w.indent();
  w.line("x = 1\ny = 2");
  w.dedent();
  w.blank(2);
  w.blank(2);
  w.line("z = 3");
  EXPECT_EQ(w.text(), "class A:\n    x = 1\n    y = 2\n\n\nz = 3\n");
}

}  // namespace
}  // namespace triton::codegen

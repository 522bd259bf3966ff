// `BinaryOp`, the one enum of the language's binary operators, generated from
// `ast/binary_ops.def`, with the facts each phase needs about an operator: its spelling,
// precedence, IR name and Python spelling. The parser puts it in the AST, and the checker
// passes the same value on into constant expressions and the IR's `binary` op, so no phase
// converts between operator enums.
//
// It sits in ast/ because the AST is the first structure with operators in it; everything
// later (schema/, ir/, passes/, codegen/) already builds on the front end, so this tiny
// header adds no dependency. It includes nothing of the AST itself.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace triton {

enum class BinaryOp : uint8_t {
#define BINARY_OP(id, spelling, precedence, ir_name, python) id,
#include "ast/binary_ops.def"
};

// Every operator in list order, for tests and tables that must cover them all.
inline constexpr std::array kAllBinaryOps = {
#define BINARY_OP(id, spelling, precedence, ir_name, python) BinaryOp::id,
#include "ast/binary_ops.def"
};

// The precedence of the comparisons (`==` ... `>=`, `is`, `is not`): they give a bool, and
// the printers never chain them (`a < b < c` means something else in Python).
inline constexpr int kComparisonPrecedence = 4;

std::string_view spelling(BinaryOp op);         // as written: `+`, `is not`, `floor_div`
int precedence(BinaryOp op);                    // Python's scale; see binary_ops.def
std::string_view ir_name(BinaryOp op);          // `add`, `floor_div`, `matmul`, ...
std::string_view python_spelling(BinaryOp op);  // `+`, `//`, ...
inline bool is_comparison(BinaryOp op) { return precedence(op) == kComparisonPrecedence; }

}  // namespace triton

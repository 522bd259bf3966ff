// The per-operator facts of `BinaryOp` (ast/binary_op.h), each a switch generated from
// `ast/binary_ops.def`, so an operator's spelling, precedence and backend spellings are
// written once, on its line there.
#include "ast/binary_op.h"

namespace triton {

std::string_view spelling(BinaryOp op) {
  switch (op) {
#define BINARY_OP(id, spelling, precedence, ir_name, python) \
  case BinaryOp::id:                                          \
    return spelling;
#include "ast/binary_ops.def"
  }
  return "?";
}

int precedence(BinaryOp op) {
  switch (op) {
#define BINARY_OP(id, spelling, precedence, ir_name, python) \
  case BinaryOp::id:                                          \
    return precedence;
#include "ast/binary_ops.def"
  }
  return 0;
}

std::string_view ir_name(BinaryOp op) {
  switch (op) {
#define BINARY_OP(id, spelling, precedence, ir_name, python) \
  case BinaryOp::id:                                          \
    return ir_name;
#include "ast/binary_ops.def"
  }
  return "?";
}

std::string_view python_spelling(BinaryOp op) {
  switch (op) {
#define BINARY_OP(id, spelling, precedence, ir_name, python) \
  case BinaryOp::id:                                          \
    return python;
#include "ast/binary_ops.def"
  }
  return "?";
}

}  // namespace triton

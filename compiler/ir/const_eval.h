// Evaluation of an IR expression over constants: the literals, the named constants of an
// environment, and the operators and calls a constant may use (`floor_div`, `int`, `float`,
// `min`, `max`), with Python's short-circuit `and`/`or` and conditional expressions. The
// checker folds declarations with it; backends that instantiate a model themselves (ONNX)
// evaluate hyper-parameters with it, so both read the same rules.
#pragma once

#include <map>
#include <string>

#include "ir/ir.h"

namespace triton::ir {

using ConstEnv = std::map<std::string, ConstValue>;

// The value of expression `id` of `m` under `env`. A name with no value in `env` fails with
// an empty message: not an error, only not known yet (a required parameter before a caller
// gives it). Other failures carry a message for the user.
ConstResult evaluate_constant(const Module& m, ExprId id, const ConstEnv& env);

}  // namespace triton::ir

// The schema of the language's built-in layers and functions: the single source of truth for
// their names, attributes (type, required or default, allowed strings), shape rules and
// costs. The checker validates declarations against it, the IR and summary read costs from
// it, `--dump-builtins` prints it, and `tools/update_docs` turns that dump into the table in
// docs/language.md. Each layer's behaviour (shape rule, parameter count) lives in its row,
// so adding a layer is one table entry plus its runtime class.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schema/const_value.h"
#include "schema/shape.h"

namespace triton {

enum class AttrType {
  Int,
  Float,
  Bool,
  Str,
  IntOrIntList,  // `3` or `[3, 3]`
  OptionalInt,   // an int or None
  OptionalIntOrIntList,
};
std::string_view attr_type_name(AttrType t);
// Whether `v` is acceptable for `t` (ints are accepted where floats are expected).
bool attr_value_fits(AttrType t, const ConstValue& v);

struct AttrSchema {
  std::string_view name;
  AttrType type;
  bool required;
  ConstValue default_value;                // meaningful when !required
  std::vector<std::string_view> choices;  // allowed strings, empty = any
  std::string_view doc;
};

struct LayerSchema;

// A built-in layer's attribute values, defaults filled in, in schema order.
struct AttrSet {
  const LayerSchema* schema = nullptr;
  std::vector<ConstValue> values;
  const ConstValue& get(std::string_view name) const;
  int64_t int_of(std::string_view name) const;  // the attribute must be a known int
  // An int-or-list attribute as two values (`3` -> {3, 3}), or the i-th list element.
  int64_t pair_of(std::string_view name, size_t i) const;
  bool bool_of(std::string_view name) const;
  const std::string& str_of(std::string_view name) const;
};

// The outcome of a shape rule: the output shape, or a message (`\`TernaryLinear\` expects 256
// input features, got 512`) and the attribute it is about, so the checker can add a note at
// that attribute's declaration.
struct ShapeRuleResult {
  Shape out;
  std::string error;
  std::string_view attr;
  static ShapeRuleResult ok(Shape s) { return {std::move(s), {}, {}}; }
  static ShapeRuleResult fail(std::string msg, std::string_view attr = {}) {
    return {{}, std::move(msg), attr};
  }
};

// What a layer costs: float parameters (4 bytes each), ternary weights (2 bits each) with one
// float scale per output channel, and multiply-accumulates for one sample.
struct LayerCost {
  int64_t float_params = 0;
  int64_t ternary_weights = 0;
  int64_t ternary_scales = 0;
  int64_t macs = 0;
  int64_t params() const { return sat_add(float_params, ternary_weights); }
  // Packed bytes: ceil(n/4) for the 2-bit weights, 4 per scale and per float parameter.
  int64_t packed_bytes() const {
    return sat_add(ternary_weights / 4 + (ternary_weights % 4 != 0), sat_add(sat_mul(4, ternary_scales), sat_mul(4, float_params)));
  }
};

// Which dimension of a layer's input holds its input width: dimension 1 (channels) or the
// last one (features).
enum class WidthDim { Channel, Last };

// A layer's width attributes: in a stack (`Type[n]`, a table) each layer after the first
// takes the previous one's `output` as its `input`, and a stack whose first `input` was left
// out infers it from dimension `dim` of the tensor reaching it.
struct WidthAttrs {
  std::string_view input;
  std::string_view output;
  WidthDim dim = WidthDim::Last;
};

struct LayerSchema {
  std::string_view name;
  std::string_view doc;
  std::vector<AttrSchema> attrs;
  // Width threading for `Type[n]` and tables, and width inference from the first use; an
  // empty `input_width_attr` means the layer takes no part in either.
  std::string_view input_width_attr;
  std::string_view output_width_attr;
  bool is_container = false;  // Sequential: its children are layers, it has no attributes
  std::function<ShapeRuleResult(const AttrSet&, const Shape&)> infer;
  std::function<LayerCost(const AttrSet&, const Shape& in, const Shape& out)> cost;
  WidthDim width_dim = WidthDim::Last;  // where `input_width_attr` is read from the input
  // The columns of a table (`Type[] { [..] }`) that names none; empty: it must name them.
  std::vector<std::string_view> table_columns{};

  const AttrSchema* find_attr(std::string_view attr) const;
  std::optional<WidthAttrs> widths() const {
    if (input_width_attr.empty()) return std::nullopt;
    return WidthAttrs{input_width_attr, output_width_attr, width_dim};
  }
};

std::span<const LayerSchema> builtin_layers();
const LayerSchema* find_builtin_layer(std::string_view name);

// The row that user blocks (`block`/`layer` declarations) share, by the names of their
// `params`: a block that declares one of `widths`' input attributes threads and infers widths
// through it like a built-in; a table of blocks that names no columns has `table_columns`
// (MobileNetV2's inverted-residual settings, `repeat` repeating a row).
struct BlockSchema {
  std::vector<WidthAttrs> widths;
  std::vector<std::string_view> table_columns{};
  // A table column that repeats its row instead of setting an attribute.
  std::string_view repeat_column;
  // Set to 1 on every layer of a stack after the first (only the first one downsamples).
  std::string_view stride_attr;
};
const BlockSchema& block_schema();

// ---- functions ----

enum class ParamKind {
  Tensor,
  TensorList,  // `cat([a, b])`
  Int,
  OptionalInt,
  IntList,      // a shape or permutation; ints may be symbolic
  IntOrIntList,
  OptionalIntOrIntList,
  Float,
  OptionalFloat,
  Bool,
  Any,  // number or tensor (add, multiply)
};
std::string_view param_kind_name(ParamKind k);

struct FunctionParam {
  std::string_view name;
  ParamKind kind;
  bool required;
  ConstValue default_value;
};

// Arguments bound to a function's parameters in order; missing optionals hold the default.
struct FunctionResult {
  AbsValue value;
  std::string error;
  int arg = -1;  // the argument the error is about, -1 for the call
  static FunctionResult ok(AbsValue v) { return {std::move(v), {}, -1}; }
  static FunctionResult fail(std::string msg, int arg = -1) { return {{}, std::move(msg), arg}; }
};

struct FunctionSchema {
  std::string_view name;
  // The name in `triton_dsl.functional`: the language name, with a trailing underscore for
  // Python keywords and builtins. Empty for intrinsics emitted as Python operators.
  std::string_view python_name;
  std::string_view doc;
  std::vector<FunctionParam> params;
  std::function<FunctionResult(std::span<const AbsValue>)> infer;
  bool constant_foldable = false;  // usable in constant expressions (floor_div)
  // PyTorch-style sizes: the second parameter (a list) may also be written as several
  // positional ints, `reshape(x, b, -1)`; the checker packs them into the list.
  bool varargs = false;
};

// The built-in function a method call `x.name(...)` means (`x.view(b, -1)` is
// `reshape(x, b, -1)`); null when there is none. Only functions whose first parameter is
// a tensor are methods.
const FunctionSchema* find_builtin_method(std::string_view name);

std::span<const FunctionSchema> builtin_functions();
const FunctionSchema* find_builtin_function(std::string_view name);

// The schema as JSON or Markdown for `--dump-builtins`.
std::string dump_builtins_json();
std::string dump_builtins_markdown();

}  // namespace triton

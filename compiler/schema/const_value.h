// Compile-time values of the Triton language: hyper-parameters, derived constants, layer
// attribute values and section contents. The checker evaluates every constant expression
// to one of these, with exact integer arithmetic (integers never silently become floats),
// and the IR and backends carry them unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ast/binary_op.h"

namespace triton {

class ConstValue;
using ConstList = std::vector<ConstValue>;
// Ordered as written: sections are emitted in source order, never through a hash map.
using ConstMap = std::vector<std::pair<std::string, ConstValue>>;

enum class ConstKind { None, Bool, Int, Float, Str, List, Map };

class ConstValue {
 public:
  ConstValue() = default;  // None
  static ConstValue none() { return ConstValue(); }
  static ConstValue of_bool(bool b) { return ConstValue(std::in_place_index<1>, b); }
  static ConstValue of_int(int64_t i) { return ConstValue(std::in_place_index<2>, i); }
  static ConstValue of_float(double d) { return ConstValue(std::in_place_index<3>, d); }
  static ConstValue of_str(std::string s) { return ConstValue(std::in_place_index<4>, std::move(s)); }
  static ConstValue of_list(ConstList l);
  static ConstValue of_map(ConstMap m);

  ConstKind kind() const { return static_cast<ConstKind>(storage_.index()); }
  bool is_none() const { return kind() == ConstKind::None; }
  bool is_bool() const { return kind() == ConstKind::Bool; }
  bool is_int() const { return kind() == ConstKind::Int; }
  bool is_float() const { return kind() == ConstKind::Float; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_str() const { return kind() == ConstKind::Str; }
  bool is_list() const { return kind() == ConstKind::List; }
  bool is_map() const { return kind() == ConstKind::Map; }

  bool as_bool() const { return std::get<1>(storage_); }
  int64_t as_int() const { return std::get<2>(storage_); }
  double as_float() const { return std::get<3>(storage_); }
  // Ints widen to float where a float is expected; never the other way round.
  double as_number() const { return is_int() ? static_cast<double>(as_int()) : as_float(); }
  const std::string& as_str() const { return std::get<4>(storage_); }
  const ConstList& as_list() const { return *std::get<5>(storage_); }
  const ConstMap& as_map() const { return *std::get<6>(storage_); }
  // Looks a key up in a map value; nullptr when absent or not a map.
  const ConstValue* find(std::string_view key) const;

  // Language spelling, used in diagnostics and `--emit=ir`: `none`, `true`, `3`, `0.5`,
  // `"text"`, `[1, 2]`, `{a: 1}`. Floats print in the shortest form that reads back exactly.
  std::string to_source() const;
  // Name of the kind as the language spells types: `int`, `float`, `list[int]`, ...
  std::string type_name() const;

  friend bool operator==(const ConstValue& a, const ConstValue& b);

 private:
  using Storage = std::variant<std::monostate, bool, int64_t, double, std::string,
                               std::shared_ptr<const ConstList>, std::shared_ptr<const ConstMap>>;
  // Builds the alternative in place: constructing a temporary variant and moving it trips
  // GCC 12's -Wmaybe-uninitialized under -O2 with sanitizers.
  template <size_t I, class T>
  ConstValue(std::in_place_index_t<I> tag, T&& value) : storage_(tag, std::forward<T>(value)) {}
  Storage storage_;
};

// Shortest decimal form of a double that parses back to the same value, always with a `.`
// or exponent so it reads as a float in both the language and Python.
std::string format_float(double value);

// Longest list (elements) or string (bytes) that constant arithmetic may build: every
// constant is emitted into the generated program as a value, so its size is bounded.
inline constexpr size_t kMaxConstLength = size_t{1} << 16;

// Result of a constant operation: a value, or a message saying why there is none.
struct ConstResult {
  std::optional<ConstValue> value;
  std::string error;  // lowercase, no trailing period; empty when value is set
  static ConstResult ok(ConstValue v) { return {std::move(v), {}}; }
  static ConstResult fail(std::string msg) { return {std::nullopt, std::move(msg)}; }
};

enum class ConstUnaryOp { Neg, Plus, Not };

// Whether constant arithmetic defines `op`: every operator but `@` (a tensor operation). The
// checker reports an unsupported one where it is written, before anything is evaluated.
bool const_binary_supported(BinaryOp op);
// Exact arithmetic: int op int stays int (overflow is an error, not a wrap); `/` of two ints
// gives an int when exact and a float otherwise, and the caller that needs an int reports
// the inexact division with both operands; any float operand gives a float. `is` and
// `is not` compare by value like `==` and `!=`; `and`/`or` give an operand, as in Python.
// An operator that is not supported fails with a message.
ConstResult const_binary(BinaryOp op, const ConstValue& a, const ConstValue& b);
ConstResult const_unary(ConstUnaryOp op, const ConstValue& a);

// Converts a value to an int where the language requires one: ints pass, integral floats
// convert, anything else fails with a message naming the value.
ConstResult const_to_int(const ConstValue& v);
// Python's `int(x)`: floats truncate toward zero; one outside the int64 range (or inf, nan)
// is an overflow error rather than an undefined conversion.
ConstResult const_truncate_to_int(const ConstValue& v);

}  // namespace triton

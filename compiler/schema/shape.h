// Abstract values of shape inference: what the checker knows about a value in `forward`
// without running it. A tensor has a shape whose dimensions are known integers, symbolic
// names bound from the declared input (`batch`), or unknown; an int may likewise be known or
// symbolic (it came from `x.shape`). Built-in layer and function rules consume and produce
// these, and the IR keeps the final shapes for `--emit=ir` and the summary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schema/const_value.h"

namespace triton {

// Saturating int64 arithmetic for sizes and costs: a hostile program may declare absurd
// widths, and an overflowing product must not be undefined behaviour.
inline int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return (b > 0) ? INT64_MAX : INT64_MIN;
  return r;
}
inline int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return ((a < 0) != (b < 0)) ? INT64_MIN : INT64_MAX;
  return r;
}

// Sizes beyond this are treated as unknown: no real tensor has 2^40 elements along one
// dimension, and keeping known sizes below it keeps every shape rule's arithmetic exact.
inline constexpr int64_t kMaxKnownDim = int64_t{1} << 40;

struct Dim {
  enum class Kind { Known, Symbol, Unknown };
  Kind kind = Kind::Unknown;
  int64_t size = 0;    // Known
  std::string symbol;  // Symbol
  // An Unknown that stands for a size past kMaxKnownDim. It must not pass silently as
  // "unknown, trust the program": a 2^32 x 2^32 input flattened into 784 features would then
  // be accepted. The elaborator reports a tensor that carries one (Shape::too_large).
  bool too_large = false;

  static Dim known(int64_t n) {
    if (n > kMaxKnownDim || n < -kMaxKnownDim) return {Kind::Unknown, 0, {}, true};
    return {Kind::Known, n, {}};
  }
  static Dim sym(std::string s) { return {Kind::Symbol, 0, std::move(s)}; }
  static Dim unknown() { return {}; }
  bool is_known() const { return kind == Kind::Known; }
  std::string to_string() const;
  friend bool operator==(const Dim&, const Dim&) = default;
};

// A tensor shape; `ranked == false` means nothing is known (a block's `x: Tensor`).
struct Shape {
  bool ranked = false;
  std::vector<Dim> dims;

  static Shape unranked() { return {}; }
  static Shape of(std::vector<Dim> d) { return {true, std::move(d)}; }
  size_t rank() const { return dims.size(); }
  std::string to_string() const;  // `[batch, 3, 32, 32]`, or `[?]` when unranked
  // Product of the known dimensions from `begin`; nullopt when any of them is not known.
  std::optional<int64_t> known_product(size_t begin = 0, size_t end = SIZE_MAX) const;
  // A dimension past kMaxKnownDim, or known dimensions whose product is: such a tensor has
  // more than 2^40 elements and no real program builds it.
  bool too_large() const;
  friend bool operator==(const Shape&, const Shape&) = default;
};

struct AbsValue {
  // Module: a present submodule named in `forward` (`if block is not None`, `f = block`).
  enum class Kind { Unknown, Tensor, Int, Const, Tuple, None, Module };
  Kind kind = Kind::Unknown;
  Shape shape;                  // Tensor
  Dim dim;                      // Int
  ConstValue value;             // Const (never an int: ints are Kind::Int)
  std::vector<AbsValue> elems;  // Tuple (also lists and `x.shape`)

  static AbsValue unknown() { return {}; }
  static AbsValue tensor(Shape s) { AbsValue v; v.kind = Kind::Tensor; v.shape = std::move(s); return v; }
  static AbsValue integer(Dim d) { AbsValue v; v.kind = Kind::Int; v.dim = std::move(d); return v; }
  static AbsValue constant(const ConstValue& c);  // ints become Kind::Int
  static AbsValue tuple(std::vector<AbsValue> e) { AbsValue v; v.kind = Kind::Tuple; v.elems = std::move(e); return v; }
  static AbsValue none() { AbsValue v; v.kind = Kind::None; return v; }
  static AbsValue module() { AbsValue v; v.kind = Kind::Module; return v; }
  bool is_tensor() const { return kind == Kind::Tensor; }
  // The value as a constant when fully known (known ints, consts, tuples of those).
  std::optional<ConstValue> to_const() const;
  std::string describe() const;  // for messages: `tensor [batch, 10]`, `int 3`
};

// NumPy broadcasting of two shapes; on a mismatch returns nullopt and describes it in `why`.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b, std::string* why);

}  // namespace triton

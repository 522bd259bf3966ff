// Printing and helpers for the abstract values of shape inference (see shape.h).
#include "schema/shape.h"

#include <algorithm>

namespace triton {

std::string Dim::to_string() const {
  switch (kind) {
    case Kind::Known: return std::to_string(size);
    case Kind::Symbol: return symbol;
    case Kind::Unknown: return too_large ? "(over 2^40)" : "?";
  }
  return "?";
}

std::string Shape::to_string() const {
  if (!ranked) return "[?]";
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += ", ";
    out += dims[i].to_string();
  }
  return out + "]";
}

std::optional<int64_t> Shape::known_product(size_t begin, size_t end) const {
  if (!ranked) return std::nullopt;
  if (end > dims.size()) end = dims.size();
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) {
    if (!dims[i].is_known()) return std::nullopt;
    p = sat_mul(p, dims[i].size);
  }
  return p;
}

bool Shape::too_large() const {
  int64_t p = 1;
  for (const auto& d : dims) {
    if (d.too_large) return true;
    if (d.is_known()) p = sat_mul(p, d.size < 0 ? -d.size : d.size);
  }
  return p > kMaxKnownDim;
}

AbsValue AbsValue::constant(const ConstValue& c) {
  if (c.is_int()) return integer(Dim::known(c.as_int()));
  if (c.is_none()) return none();
  if (c.is_list()) {
    std::vector<AbsValue> e;
    for (const auto& x : c.as_list()) e.push_back(constant(x));
    return tuple(std::move(e));
  }
  AbsValue v;
  v.kind = Kind::Const;
  v.value = c;
  return v;
}

std::optional<ConstValue> AbsValue::to_const() const {
  switch (kind) {
    case Kind::Int:
      if (dim.is_known()) return ConstValue::of_int(dim.size);
      return std::nullopt;
    case Kind::Const: return value;
    case Kind::None: return ConstValue::none();
    case Kind::Tuple: {
      ConstList l;
      for (const auto& e : elems) {
        auto c = e.to_const();
        if (!c) return std::nullopt;
        l.push_back(*c);
      }
      return ConstValue::of_list(std::move(l));
    }
    default: return std::nullopt;
  }
}

std::string AbsValue::describe() const {
  switch (kind) {
    case Kind::Unknown: return "a value";
    case Kind::Tensor: return "a tensor of shape " + shape.to_string();
    case Kind::Int: return "int " + dim.to_string();
    case Kind::Const: return value.type_name() + " " + value.to_source();
    case Kind::None: return "None";
    case Kind::Module: return "a layer";
    case Kind::Tuple: {
      std::string out = "a tuple (";
      for (size_t i = 0; i < elems.size(); ++i) {
        if (i) out += ", ";
        out += elems[i].kind == Kind::Int ? elems[i].dim.to_string() : elems[i].describe();
      }
      return out + ")";
    }
  }
  return "a value";
}

std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b, std::string* why) {
  if (!a.ranked || !b.ranked) return Shape::unranked();
  size_t n = std::max(a.rank(), b.rank());
  std::vector<Dim> out(n);
  for (size_t i = 0; i < n; ++i) {
    const Dim* x = i < n - a.rank() ? nullptr : &a.dims[i - (n - a.rank())];
    const Dim* y = i < n - b.rank() ? nullptr : &b.dims[i - (n - b.rank())];
    if (!x || (x->is_known() && x->size == 1)) {
      out[i] = y ? *y : *x;
    } else if (!y || (y->is_known() && y->size == 1) || *x == *y) {
      out[i] = *x;
    } else if (x->is_known() && y->is_known()) {
      if (why)
        *why = "shapes " + a.to_string() + " and " + b.to_string() + " do not broadcast (" +
               x->to_string() + " vs " + y->to_string() + ")";
      return std::nullopt;
    } else {
      out[i] = x->is_known() ? *y : *x;  // one side symbolic or unknown: trust the program
    }
  }
  return Shape::of(std::move(out));
}

}  // namespace triton

// Exact constant arithmetic and printing for ConstValue (see const_value.h).
#include "schema/const_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace triton {

ConstValue ConstValue::of_list(ConstList l) {
  return ConstValue(std::in_place_index<5>, std::make_shared<const ConstList>(std::move(l)));
}

ConstValue ConstValue::of_map(ConstMap m) {
  return ConstValue(std::in_place_index<6>, std::make_shared<const ConstMap>(std::move(m)));
}

const ConstValue* ConstValue::find(std::string_view key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, v] : as_map())
    if (k == key) return &v;
  return nullptr;
}

std::string format_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

static void append_quoted(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string ConstValue::to_source() const {
  switch (kind()) {
    case ConstKind::None: return "None";
    case ConstKind::Bool: return as_bool() ? "true" : "false";
    case ConstKind::Int: return std::to_string(as_int());
    case ConstKind::Float: return format_float(as_float());
    case ConstKind::Str: {
      std::string out;
      append_quoted(out, as_str());
      return out;
    }
    case ConstKind::List: {
      std::string out = "[";
      bool first = true;
      for (const auto& v : as_list()) {
        if (!first) out += ", ";
        first = false;
        out += v.to_source();
      }
      return out + "]";
    }
    case ConstKind::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : as_map()) {
        if (!first) out += ", ";
        first = false;
        out += k + ": " + v.to_source();
      }
      return out + "}";
    }
  }
  return "?";
}

std::string ConstValue::type_name() const {
  switch (kind()) {
    case ConstKind::None: return "None";
    case ConstKind::Bool: return "bool";
    case ConstKind::Int: return "int";
    case ConstKind::Float: return "float";
    case ConstKind::Str: return "str";
    case ConstKind::List: {
      if (as_list().empty()) return "list";
      std::string elem = as_list().front().type_name();
      for (const auto& v : as_list())
        if (v.type_name() != elem) return "list";
      return "list[" + elem + "]";
    }
    case ConstKind::Map: return "map";
  }
  return "?";
}

bool operator==(const ConstValue& a, const ConstValue& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_number() == b.as_number();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ConstKind::None: return true;
    case ConstKind::Bool: return a.as_bool() == b.as_bool();
    case ConstKind::Str: return a.as_str() == b.as_str();
    case ConstKind::List: return a.as_list() == b.as_list();
    case ConstKind::Map: return a.as_map() == b.as_map();
    default: return false;
  }
}

namespace {

bool truthy(const ConstValue& v) {
  switch (v.kind()) {
    case ConstKind::None: return false;
    case ConstKind::Bool: return v.as_bool();
    case ConstKind::Int: return v.as_int() != 0;
    case ConstKind::Float: return v.as_float() != 0.0;
    case ConstKind::Str: return !v.as_str().empty();
    case ConstKind::List: return !v.as_list().empty();
    case ConstKind::Map: return !v.as_map().empty();
  }
  return false;
}

std::string operands_text(BinaryOp op, const ConstValue& a, const ConstValue& b) {
  return "`" + a.to_source() + " " + std::string(spelling(op)) + " " + b.to_source() +
         "`";
}

// Python's floor semantics for `%` and floor division on ints. The caller has ruled out
// b == 0 and b == -1: INT64_MIN / -1 traps (SIGFPE) on x86 rather than wrapping, so the
// -1 divisor is handled by negation with an overflow check instead.
int64_t floor_div_int(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Checked x ** y for y >= 0 by repeated squaring: O(log y) steps, so `1 ** 10**18` finishes,
// and the first overflowing product is an error.
std::optional<int64_t> checked_pow(int64_t x, int64_t y) {
  if (x == 0) return y == 0 ? 1 : 0;
  if (x == 1) return 1;
  if (x == -1) return (y % 2 == 0) ? 1 : -1;
  int64_t acc = 1, base = x;
  while (true) {
    if ((y & 1) && __builtin_mul_overflow(acc, base, &acc)) return std::nullopt;
    y >>= 1;
    if (y == 0) return acc;
    if (__builtin_mul_overflow(base, base, &base)) return std::nullopt;
  }
}

ConstResult int_arith(BinaryOp op, int64_t x, int64_t y, const ConstValue& a,
                      const ConstValue& b) {
  int64_t r = 0;
  switch (op) {
    case BinaryOp::Add:
      if (__builtin_add_overflow(x, y, &r)) break;
      return ConstResult::ok(ConstValue::of_int(r));
    case BinaryOp::Sub:
      if (__builtin_sub_overflow(x, y, &r)) break;
      return ConstResult::ok(ConstValue::of_int(r));
    case BinaryOp::Mul:
      if (__builtin_mul_overflow(x, y, &r)) break;
      return ConstResult::ok(ConstValue::of_int(r));
    case BinaryOp::Div:
      if (y == 0) return ConstResult::fail("division by zero in " + operands_text(op, a, b));
      if (y == -1) {
        if (__builtin_sub_overflow(int64_t{0}, x, &r)) break;
        return ConstResult::ok(ConstValue::of_int(r));
      }
      if (x % y == 0) return ConstResult::ok(ConstValue::of_int(x / y));
      return ConstResult::ok(ConstValue::of_float(static_cast<double>(x) / static_cast<double>(y)));
    case BinaryOp::FloorDiv:
      if (y == 0) return ConstResult::fail("division by zero in `floor_div(" + a.to_source() + ", " + b.to_source() + ")`");
      if (y == -1) {
        if (__builtin_sub_overflow(int64_t{0}, x, &r))
          return ConstResult::fail("integer overflow in `floor_div(" + a.to_source() + ", " + b.to_source() + ")`");
        return ConstResult::ok(ConstValue::of_int(r));
      }
      return ConstResult::ok(ConstValue::of_int(floor_div_int(x, y)));
    case BinaryOp::Mod:
      if (y == 0) return ConstResult::fail("modulo by zero in " + operands_text(op, a, b));
      if (y == -1) return ConstResult::ok(ConstValue::of_int(0));  // exact for every x, INT64_MIN included
      // From the truncated remainder: x - floor_div(x, y) * y would overflow in the product
      // (INT64_MAX % -2), while r and y have opposite signs when r is adjusted.
      r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return ConstResult::ok(ConstValue::of_int(r));
    case BinaryOp::Pow: {
      if (y < 0)
        return ConstResult::ok(ConstValue::of_float(std::pow(static_cast<double>(x), static_cast<double>(y))));
      if (auto p = checked_pow(x, y)) return ConstResult::ok(ConstValue::of_int(*p));
      break;
    }
    default:
      break;
  }
  return ConstResult::fail("integer overflow in " + operands_text(op, a, b));
}

// `<`, `<=`, `>`, `>=`: numbers with numbers, strings with strings.
ConstResult order(BinaryOp op, const ConstValue& a, const ConstValue& b) {
  int cmp = 0;
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int())
      cmp = a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    else
      cmp = a.as_number() < b.as_number() ? -1 : (a.as_number() > b.as_number() ? 1 : 0);
  } else if (a.is_str() && b.is_str()) {
    cmp = a.as_str().compare(b.as_str());
  } else {
    return ConstResult::fail("cannot compare " + a.type_name() + " and " + b.type_name() + " in " +
                             operands_text(op, a, b));
  }
  bool r = false;
  switch (op) {
    case BinaryOp::Lt: r = cmp < 0; break;
    case BinaryOp::Le: r = cmp <= 0; break;
    case BinaryOp::Gt: r = cmp > 0; break;
    case BinaryOp::Ge: r = cmp >= 0; break;
    default: break;
  }
  return ConstResult::ok(ConstValue::of_bool(r));
}

// `+ - * / floor_div % **` on numbers (bools count as 0/1), and `+` on two strings or lists.
ConstResult arithmetic(BinaryOp op, const ConstValue& a, const ConstValue& b) {
  // A chain of constants that each double the previous one would otherwise grow 2^n.
  if (op == BinaryOp::Add && a.is_str() && b.is_str()) {
    if (a.as_str().size() + b.as_str().size() > kMaxConstLength)
      return ConstResult::fail("string constant longer than " + std::to_string(kMaxConstLength) + " bytes");
    return ConstResult::ok(ConstValue::of_str(a.as_str() + b.as_str()));
  }
  if (op == BinaryOp::Add && a.is_list() && b.is_list()) {
    if (a.as_list().size() + b.as_list().size() > kMaxConstLength)
      return ConstResult::fail("list constant longer than " + std::to_string(kMaxConstLength) + " elements");
    ConstList l = a.as_list();
    l.insert(l.end(), b.as_list().begin(), b.as_list().end());
    return ConstResult::ok(ConstValue::of_list(std::move(l)));
  }
  // Booleans take part in arithmetic as 0/1, as in Python.
  auto as_num = [](const ConstValue& v) {
    return v.is_bool() ? ConstValue::of_int(v.as_bool() ? 1 : 0) : v;
  };
  ConstValue x = as_num(a), y = as_num(b);
  if (!x.is_number() || !y.is_number())
    return ConstResult::fail("operator `" + std::string(spelling(op)) +
                             "` needs numbers, got " + a.type_name() + " and " + b.type_name() +
                             " in " + operands_text(op, a, b));
  if (x.is_int() && y.is_int()) return int_arith(op, x.as_int(), y.as_int(), a, b);
  double p = x.as_number(), q = y.as_number(), r = 0;
  switch (op) {
    case BinaryOp::Add: r = p + q; break;
    case BinaryOp::Sub: r = p - q; break;
    case BinaryOp::Mul: r = p * q; break;
    case BinaryOp::Div:
      if (q == 0) return ConstResult::fail("division by zero in " + operands_text(op, a, b));
      r = p / q;
      break;
    case BinaryOp::FloorDiv:
      if (q == 0) return ConstResult::fail("division by zero in " + operands_text(op, a, b));
      r = std::floor(p / q);
      break;
    case BinaryOp::Mod:
      if (q == 0) return ConstResult::fail("modulo by zero in " + operands_text(op, a, b));
      r = p - std::floor(p / q) * q;
      break;
    case BinaryOp::Pow: r = std::pow(p, q); break;
    default: break;
  }
  return ConstResult::ok(ConstValue::of_float(r));
}

}  // namespace

bool const_binary_supported(BinaryOp op) {
  switch (op) {
    case BinaryOp::MatMul: return false;
    case BinaryOp::Add:
    case BinaryOp::Sub:
    case BinaryOp::Mul:
    case BinaryOp::Div:
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
    case BinaryOp::Pow:
    case BinaryOp::Eq:
    case BinaryOp::Ne:
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge:
    case BinaryOp::Is:
    case BinaryOp::IsNot:
    case BinaryOp::And:
    case BinaryOp::Or: return true;
  }
  return false;
}

// No `default`: an operator added to ast/binary_ops.def does not compile until it is handled
// here and in const_binary_supported.
ConstResult const_binary(BinaryOp op, const ConstValue& a, const ConstValue& b) {
  switch (op) {
    case BinaryOp::And: return ConstResult::ok(truthy(a) ? b : a);
    case BinaryOp::Or: return ConstResult::ok(truthy(a) ? a : b);
    case BinaryOp::Eq:
    case BinaryOp::Is: return ConstResult::ok(ConstValue::of_bool(a == b));
    case BinaryOp::Ne:
    case BinaryOp::IsNot: return ConstResult::ok(ConstValue::of_bool(!(a == b)));
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge: return order(op, a, b);
    case BinaryOp::Add:
    case BinaryOp::Sub:
    case BinaryOp::Mul:
    case BinaryOp::Div:
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
    case BinaryOp::Pow: return arithmetic(op, a, b);
    case BinaryOp::MatMul: break;
  }
  return ConstResult::fail("operator `" + std::string(spelling(op)) + "` is not supported in a constant");
}

ConstResult const_unary(ConstUnaryOp op, const ConstValue& a) {
  if (op == ConstUnaryOp::Not) return ConstResult::ok(ConstValue::of_bool(!truthy(a)));
  if (a.is_int()) {
    if (op == ConstUnaryOp::Plus) return ConstResult::ok(a);
    if (a.as_int() == INT64_MIN) return ConstResult::fail("integer overflow negating " + a.to_source());
    return ConstResult::ok(ConstValue::of_int(-a.as_int()));
  }
  if (a.is_float())
    return ConstResult::ok(ConstValue::of_float(op == ConstUnaryOp::Plus ? a.as_float() : -a.as_float()));
  return ConstResult::fail("unary `" + std::string(op == ConstUnaryOp::Neg ? "-" : "+") +
                           "` needs a number, got " + a.type_name());
}

ConstResult const_truncate_to_int(const ConstValue& v) {
  if (!v.is_float()) return const_to_int(v);
  const double d = std::trunc(v.as_float());
  // 2^63 is exact as a double; anything at or past it (and inf, nan) has no int64 value, and
  // converting it would be undefined behaviour.
  if (!std::isfinite(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
    return ConstResult::fail("integer overflow in `int(" + v.to_source() + ")`");
  return ConstResult::ok(ConstValue::of_int(static_cast<int64_t>(d)));
}

ConstResult const_to_int(const ConstValue& v) {
  if (v.is_int()) return ConstResult::ok(v);
  if (v.is_float()) {
    double d = v.as_float();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return ConstResult::ok(ConstValue::of_int(static_cast<int64_t>(d)));
    return ConstResult::fail("value " + v.to_source() + " is not an integer");
  }
  return ConstResult::fail("expected an int, got " + v.type_name() + " " + v.to_source());
}

}  // namespace triton

// libFuzzer target over constant arithmetic, structure-aware: the input is read as a list of
// (operator, operand, operand) triples whose operands come mostly from a table of values
// where 64-bit arithmetic breaks (INT64_MIN, -1, 2^32, ...), so every pairing is reached in
// seconds. A byte-level fuzzer over whole programs needs a parseable file with exactly
// `(-9223372036854775807 - 1) % -1` in it, and did not find that SIGFPE in 90 s.
//
// Oracle: every operation ends (no trap, no UBSan report, `**` of any exponent in
// logarithmic time), and an int result equals Python's exact answer computed in 128 bits;
// an answer outside int64 must be an error, never a wrapped value. `int()` of a double is
// checked the same way.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "schema/const_value.h"

namespace {

using triton::BinaryOp;
using triton::ConstValue;
__extension__ typedef __int128 i128;

constexpr int64_t kLimits[] = {0, 1, -1, 2, -2, 3, -7, INT32_MAX, int64_t{1} << 31, int64_t{1} << 32,
                               int64_t{1} << 40, (int64_t{1} << 53) + 1, int64_t{1} << 62, INT64_MAX,
                               INT64_MAX - 1, INT64_MIN, INT64_MIN + 1, 63, 64};
constexpr size_t kLimitCount = sizeof kLimits / sizeof kLimits[0];

bool fits(i128 v) { return v >= INT64_MIN && v <= INT64_MAX; }

// Python's floor division and modulo in 128 bits (no operand here overflows them).
i128 floor_div(i128 a, i128 b) {
  i128 q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// Python's exact int result, or nullopt where the result is not an int (true division that
// is inexact, a negative power) or the operation is an error (a zero divisor).
std::optional<i128> reference(BinaryOp op, int64_t a, int64_t b, bool* out_of_range) {
  *out_of_range = false;
  switch (op) {
    case BinaryOp::Add: return i128{a} + b;
    case BinaryOp::Sub: return i128{a} - b;
    case BinaryOp::Mul: return i128{a} * b;
    case BinaryOp::Div:
      if (b == 0 || i128{a} % b != 0) return std::nullopt;
      return i128{a} / b;
    case BinaryOp::FloorDiv:
      if (b == 0) return std::nullopt;
      return floor_div(a, b);
    case BinaryOp::Mod:
      if (b == 0) return std::nullopt;
      return i128{a} - floor_div(a, b) * b;
    case BinaryOp::Pow: {
      if (b < 0) return std::nullopt;
      if (a == 0) return b == 0 ? 1 : 0;
      if (a == 1) return 1;
      if (a == -1) return b % 2 == 0 ? 1 : -1;
      i128 acc = 1;
      for (int64_t i = 0; i < b; ++i) {
        acc *= a;
        if (!fits(acc)) {
          *out_of_range = true;
          return std::nullopt;
        }
      }
      return acc;
    }
    default: return std::nullopt;
  }
}

int64_t operand(const uint8_t*& p, const uint8_t* end) {
  if (p == end) return 0;
  const uint8_t selector = *p++;
  if (selector < 224 || end - p < 8) return kLimits[selector % kLimitCount];
  int64_t raw;
  std::memcpy(&raw, p, sizeof raw);
  p += sizeof raw;
  return raw;
}

void check_int(BinaryOp op, int64_t a, int64_t b) {
  const auto r = triton::const_binary(op, ConstValue::of_int(a), ConstValue::of_int(b));
  bool out_of_range = false;
  const auto want = reference(op, a, b, &out_of_range);
  if (want && fits(*want)) {
    if (!r.value || !r.value->is_int() || r.value->as_int() != static_cast<int64_t>(*want)) std::abort();
  } else if ((want && !fits(*want)) || out_of_range) {
    if (r.value) std::abort();  // an overflow came back as a (wrapped) value
  }
}

void check_truncate(double d) {
  const auto r = triton::const_truncate_to_int(ConstValue::of_float(d));
  const bool representable = std::isfinite(d) && std::trunc(d) >= -9223372036854775808.0 && std::trunc(d) < 9223372036854775808.0;
  if (representable != r.value.has_value()) std::abort();
  if (r.value && static_cast<double>(r.value->as_int()) != std::trunc(d)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr BinaryOp kOps[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                                      BinaryOp::FloorDiv, BinaryOp::Mod, BinaryOp::Pow};
  const uint8_t* p = data;
  const uint8_t* end = data + size;
  while (p != end) {
    const uint8_t op = *p++;
    const int64_t a = operand(p, end), b = operand(p, end);
    if (op == 0xFF) {
      double d;
      std::memcpy(&d, &a, sizeof d);
      check_truncate(d);
      continue;
    }
    check_int(kOps[op % (sizeof kOps / sizeof kOps[0])], a, b);
    (void)triton::const_unary(triton::ConstUnaryOp::Neg, ConstValue::of_int(a));
  }
  return 0;
}

// Internal compiler errors: a broken invariant in our own code, never a problem in the user's
// file. They are thrown as `InternalError` and turned by the driver into
// `triton: internal error: <message> (at compiler/<file>:<line>)` with exit status 70, so a
// bug is never a crash, a traceback, or silently wrong output.
#pragma once

#include <stdexcept>
#include <string>

namespace triton {

// Where in our source an invariant broke. (Not std::source_location: clang 14, which builds
// the fuzzers, lacks it; the builtins below work in GCC and clang alike.)
struct CodeLocation {
  const char* file = "";
  unsigned line = 0;
  static constexpr CodeLocation current(const char* file = __builtin_FILE(),
                                        unsigned line = __builtin_LINE()) {
    return {file, line};
  }
};

class InternalError : public std::runtime_error {
 public:
  InternalError(const std::string& message, CodeLocation where);
  // "compiler/parse/parser.cpp:42": the path from the `compiler/` directory on, so output
  // never holds a path of the build machine.
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

[[noreturn]] void internal_error(const std::string& message,
                                 CodeLocation where = CodeLocation::current());

// Checks an invariant that holds for every input; failing it is a compiler bug.
inline void check_invariant(bool condition, const char* what,
                            CodeLocation where = CodeLocation::current()) {
  if (!condition) internal_error(what, where);
}

inline constexpr int kExitUserError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternalError = 70;

}  // namespace triton

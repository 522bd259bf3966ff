// Internal compiler errors: a broken invariant in our own code, never a problem in the user's
// file. They are thrown as `InternalError` and turned by the driver into
// `triton: internal error: <message> (at compiler/<file>:<line>)` with exit status 70, so a
// bug is never a crash, a traceback, or silently wrong output.
#pragma once

#include <source_location>
#include <stdexcept>
#include <string>

namespace triton {

class InternalError : public std::runtime_error {
 public:
  InternalError(const std::string& message, std::source_location where);
  // "compiler/parse/parser.cpp:42": the path from the `compiler/` directory on, so output
  // never holds a path of the build machine.
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

[[noreturn]] void internal_error(const std::string& message,
                                 std::source_location where = std::source_location::current());

// Checks an invariant that holds for every input; failing it is a compiler bug.
inline void check_invariant(bool condition, const char* what,
                            std::source_location where = std::source_location::current()) {
  if (!condition) internal_error(what, where);
}

inline constexpr int kExitUserError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternalError = 70;

}  // namespace triton

// Implements InternalError: records where in our source the invariant broke, trimmed to the
// part of the path from `compiler/` on.
#include "diag/internal_error.h"

#include <string_view>

namespace triton {
namespace {
std::string project_relative(std::string_view path) {
  const size_t at = path.rfind("compiler/");
  return std::string(at == std::string_view::npos ? path : path.substr(at));
}
}  // namespace

InternalError::InternalError(const std::string& message, CodeLocation where)
    : std::runtime_error(message),
      where_(project_relative(where.file) + ":" + std::to_string(where.line)) {}

void internal_error(const std::string& message, CodeLocation where) {
  throw InternalError(message, where);
}

}  // namespace triton

// Writing compiler output. A file is written atomically: into a temporary file in the same
// directory, then renamed over the target, so a failed or interrupted compile never leaves
// a half-written model.py behind (and a reader never sees one).
#pragma once

#include <string>
#include <string_view>

namespace triton::driver {

// Writes `contents` to `path` ("-" means standard output). On failure returns false and
// sets `error` to a lowercase reason.
bool write_output_atomically(const std::string& path, std::string_view contents, std::string* error);

}  // namespace triton::driver

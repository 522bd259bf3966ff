// Writing compiler output. A file is written atomically: into a temporary file in the same
// directory, then renamed over the target, so a failed or interrupted compile never leaves
// a half-written model.py behind (and a reader never sees one).
#pragma once

#include <string>
#include <string_view>

namespace triton::driver {

// Writes `contents` to `path` ("-" means standard output). On failure returns false and
// sets `error` to a lowercase reason. A target that exists and is not a regular file (a
// device such as /dev/null, a FIFO, a directory, a socket), or that is the file `source`
// (the compiler's input; empty for none), is refused: renaming over it would replace the
// device node or destroy the program being compiled.
bool write_output_atomically(const std::string& path, std::string_view contents, std::string* error,
                             const std::string& source = {});

}  // namespace triton::driver

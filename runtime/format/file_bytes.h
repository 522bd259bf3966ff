// Reading a whole input file (a .tpk model, a .npy array) with the checks a library owes its
// callers before it allocates: the path must be a real path (no NUL byte, which a C string
// would silently cut), name a regular file (a directory or /dev/zero has no meaningful
// size), and hold at most `max_bytes`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/status.h"

namespace triton_rt {

Expected<std::vector<std::uint8_t>> read_file_bytes(const std::string& path,
                                                    std::uint64_t max_bytes);

}  // namespace triton_rt

// The known keys of the `training`, `performance` and `optimization` sections, as data for
// other tools: `triton --dump-sections=json` prints them so the Python package can be
// tested against the one list the checker accepts (tests/python/test_section_keys.py).
#pragma once

#include <string>

namespace triton {

// {"training": {KEY: {"kind": K[, "keys": {...}]}, ...}, "performance": ..., "optimization": ...}
// where K is int, number, bool, str, map, list, recipes or any.
std::string dump_sections_json();

}  // namespace triton

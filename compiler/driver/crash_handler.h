// The last line of defence behind "never a crash": if the compiler itself faults (a bug
// that slipped past every check), print `triton: internal error: ...` and exit with 70
// instead of dying with a signal and a core dump. Not installed in sanitizer builds, whose
// own handlers give a far better report.
#pragma once

namespace triton::driver {

void install_crash_handler();

// For the driver test: raises SIGSEGV as a compiler bug would (`--debug-crash`).
[[noreturn]] void debug_crash();

}  // namespace triton::driver

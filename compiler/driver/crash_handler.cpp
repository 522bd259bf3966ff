// Implements the crash handler: fatal signals run on an alternate stack (so a stack
// overflow is caught too) and write a fixed message with write(2), the only output that is
// safe inside a signal handler, then _exit(70).
#include "driver/crash_handler.h"

#include <csignal>
#include <cstring>

#include <unistd.h>

#include "diag/internal_error.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TRITON_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define TRITON_SANITIZED 1
#endif
#endif

namespace triton::driver {
namespace {

void write_text(const char* text) {
  size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<size_t>(n);
  }
}

[[maybe_unused]] void on_fatal_signal(int signal_number) {
  const char* name = signal_number == SIGSEGV ? "segmentation fault"
                   : signal_number == SIGBUS  ? "bus error"
                   : signal_number == SIGFPE  ? "arithmetic exception"
                   : signal_number == SIGILL  ? "illegal instruction"
                                              : "abort";
  write_text("triton: internal error: the compiler crashed (");
  write_text(name);
  write_text("); please report it with the input file\n");
  ::_exit(kExitInternalError);
}

}  // namespace

void install_crash_handler() {
#ifndef TRITON_SANITIZED
  static char alternate_stack[64 * 1024];
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof alternate_stack;
  ::sigaltstack(&stack, nullptr);
  struct sigaction action{};
  action.sa_handler = on_fatal_signal;
  action.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    ::sigaction(signal_number, &action, nullptr);
  }
#endif
}

void debug_crash() {
  std::raise(SIGSEGV);
  ::_exit(kExitInternalError);  // only reached if the signal was ignored
}

}  // namespace triton::driver

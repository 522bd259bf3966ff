// The `triton` command: dispatches subcommands and turns every failure into an exit status.
// User errors exit 1 (diagnostics) or 2 (usage); a bug in the compiler becomes
// `triton: internal error: ...` with our source location and exit 70, never a crash.
//
// Subcommands live in the table below; `triton run` (the native runtime) is added by
// appending an entry whose handler calls into the runtime library.
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "diag/diagnostic.h"
#include "diag/internal_error.h"
#include "driver/crash_handler.h"
#include "driver/options.h"
#include "driver/pipeline.h"
#ifdef TRITON_HAVE_CHECK
#include "check/sections.h"
#include "schema/builtins.h"
#endif
#ifdef TRITON_HAVE_RUNTIME_CLI
#include "cli/run_command.h"
#endif

#ifndef TRITON_VERSION
#define TRITON_VERSION "0.1.0"
#endif

namespace triton::driver {
namespace {

constexpr char kMainUsage[] =
    "usage: triton <command> [options]\n"
    "\n"
    "commands:\n"
    "  compile FILE [options]   compile a .triton model (see `triton compile --help`)\n"
    "  summary FILE [options]   per-layer shapes, parameters, packed bytes and MACs\n"
    "                           (`compile --emit=summary`)\n"
    "  run MODEL.tpk --input X.npy [--output Y.npy] [--threads N] [--bench N]\n"
    "                           run a packed model with the native runtime\n"
    "\n"
    "options:\n"
    "  --help, -h               show this help\n"
    "  --version                show the version\n"
    "  --list-diagnostics       list every diagnostic kind: id, severity, message format\n"
    "  --dump-builtins=json|markdown\n"
    "                           print the schema of the built-in layers and functions\n"
    "  --dump-sections=json     print the known keys of the training, performance and\n"
    "                           optimization sections\n";

bool wants_help(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") return true;
  }
  return false;
}

int compile_command(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::cout << kCompileUsage;
    return 0;
  }
  const auto options = parse_compile_options(args);
  if (!options) return kExitUsage;
  return run_compile(*options);
}

// `triton summary FILE ...` is `triton compile FILE --emit=summary ...`.
int summary_command(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::cout << "usage: triton summary FILE [compile options]\n";
    return 0;
  }
  std::vector<std::string> with_emit = args;
  with_emit.push_back("--emit=summary");
  return compile_command(with_emit);
}

int dump_builtins(std::string_view format) {
#ifdef TRITON_HAVE_CHECK
  if (format == "json") {
    std::cout << dump_builtins_json();
    return 0;
  }
  if (format == "markdown") {
    std::cout << dump_builtins_markdown();
    return 0;
  }
  std::cerr << "triton: error: `--dump-builtins` takes `json` or `markdown`, got `" << format << "`\n";
#else
  (void)format;
  std::cerr << "triton: error: this build of `triton` has no checker\n";
#endif
  return kExitUsage;
}

int dump_sections(std::string_view format) {
#ifdef TRITON_HAVE_CHECK
  if (format == "json") {
    std::cout << dump_sections_json();
    return 0;
  }
  std::cerr << "triton: error: `--dump-sections` takes `json`, got `" << format << "`\n";
#else
  (void)format;
  std::cerr << "triton: error: this build of `triton` has no checker\n";
#endif
  return kExitUsage;
}

int list_diagnostics() {
  for (size_t i = 0; i < kDiagKindCount; ++i) {
    const auto kind = static_cast<DiagKind>(i);
    const Severity severity = diag_severity(kind);
    std::cout << diag_id(kind) << "\t"
              << (severity == Severity::Error ? "error" : severity == Severity::Warning ? "warning" : "note")
              << "\t" << diag_format(kind) << "\n";
  }
  return 0;
}

struct Command {
  std::string_view name;
  int (*run)(const std::vector<std::string>& args);
};

#ifdef TRITON_HAVE_RUNTIME_CLI
// `triton run`: the native runtime's command (runtime/cli/run_command.h).
int native_run_command(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& arg : copy) argv.push_back(arg.data());
  return triton_rt::run_command(static_cast<int>(argv.size()), argv.data());
}
#endif

// Subcommands.
constexpr Command kCommands[] = {
    {"compile", compile_command},
    {"summary", summary_command},
#ifdef TRITON_HAVE_RUNTIME_CLI
    {"run", native_run_command},
#endif
};

int dispatch(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kMainUsage;
    return args.empty() ? kExitUsage : 0;
  }
  if (args[0] == "--version") {
    std::cout << "triton " << TRITON_VERSION << "\n";
    return 0;
  }
  if (args[0] == "--list-diagnostics") return list_diagnostics();
  if (args[0].rfind("--dump-builtins", 0) == 0) {
    std::string_view format = args[0] == "--dump-builtins" ? std::string_view(args.size() > 1 ? args[1] : "json")
                                                           : std::string_view(args[0]).substr(std::string_view("--dump-builtins=").size());
    return dump_builtins(format);
  }
  if (args[0].rfind("--dump-sections", 0) == 0) {
    std::string_view format = args[0] == "--dump-sections" ? std::string_view(args.size() > 1 ? args[1] : "json")
                                                           : std::string_view(args[0]).substr(std::string_view("--dump-sections=").size());
    return dump_sections(format);
  }
  for (const Command& command : kCommands) {
    if (args[0] == command.name) return command.run({args.begin() + 1, args.end()});
  }
  std::cerr << "triton: error: unknown command `" << args[0] << "`; see `triton --help`\n";
  return kExitUsage;
}

}  // namespace
}  // namespace triton::driver

int main(int argc, char** argv) {
  triton::driver::install_crash_handler();
  std::ios::sync_with_stdio(false);
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return triton::driver::dispatch(args);
  } catch (const triton::InternalError& error) {
    std::cerr << "triton: internal error: " << error.what() << " (at " << error.where() << ")\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "triton: internal error: out of memory\n";
  } catch (const std::exception& error) {
    std::cerr << "triton: internal error: unexpected exception: " << error.what() << "\n";
  }
  return triton::kExitInternalError;
}

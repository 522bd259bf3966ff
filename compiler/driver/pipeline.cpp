// Implements the compile pipeline (see pipeline.h): load -> lex -> parse -> [check -> lower
// -> optimize -> codegen]. The bracketed phases belong to the middle end and are wired in
// below where marked; until a phase is part of the build, the options that need it fail
// with a clear usage error instead of doing nothing.
#include "driver/pipeline.h"
#ifdef TRITON_HAVE_CHECK
#include "driver/middle_end.h"
#endif

#include <cstdio>
#include <iostream>
#include <iterator>

#include "ast/ast_printer.h"
#include "diag/internal_error.h"
#include "driver/crash_handler.h"
#include "driver/output_file.h"
#include "lex/lexer.h"
#include "parse/parser.h"

namespace triton::driver {
namespace {

bool has_source_extension(const std::string& path) {
  auto ends_with = [&](std::string_view suffix) {
    return path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".triton") || ends_with(".tri");
}

[[maybe_unused]] int unavailable(std::string_view what) {
  std::cerr << "triton: error: " << what << " is not available: this build of `triton` has no "
            << "phase after the parser\n";
  return kExitUsage;
}

}  // namespace

void PhaseTimer::print(std::ostream& out) const {
  double total = 0;
  for (const Entry& entry : entries_) {
    char line[128];
    std::snprintf(line, sizeof line, "triton: %-10s %10.3f ms\n", entry.phase.c_str(), entry.milliseconds);
    out << line;
    total += entry.milliseconds;
  }
  char line[128];
  std::snprintf(line, sizeof line, "triton: %-10s %10.3f ms\n", "total", total);
  out << line;
}

int write_result(const CompileSession& session, std::string_view text,
                 const std::string& default_path) {
  const std::string& path = session.options.output.empty() ? default_path : session.options.output;
  std::string error;
  if (!write_output_atomically(path, text, &error, session.options.input)) {
    std::cerr << "triton: error: cannot write `" << path << "`: " << error << "\n";
    return kExitUserError;
  }
  return 0;
}

int run_compile(const CompileOptions& options) {
  if (options.input != "-" && !has_source_extension(options.input)) {
    std::cerr << "triton: error: `" << options.input
              << "` is not a model file; expected a `.triton` or `.tri` file\n";
    return kExitUsage;
  }
  std::string read_error;
  PhaseTimer load_timer;
  auto buffer = timed(load_timer, "load", [&]() -> std::optional<SourceBuffer> {
    if (options.input == "-") {  // standard input, named `<stdin>` in diagnostics
      std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
      return SourceBuffer("<stdin>", std::move(text));
    }
    return SourceBuffer::from_file(options.input, &read_error);
  });
  if (!buffer) {
    std::cerr << "triton: error: cannot read `" << options.input << "`: " << read_error << "\n";
    return kExitUserError;
  }
  CompileSession session(options, std::move(*buffer));
  session.timer = load_timer;
  // Print phase times on every way out, including errors (a slow failing compile is still
  // worth profiling).
  struct VerboseReport {
    const CompileSession& session;
    ~VerboseReport() {
      if (session.options.verbose) session.timer.print(std::cerr);
    }
  } verbose_report{session};

  // ---- lex ----
  // Lexing and parsing are separate passes; hold their diagnostics to print them in order.
  session.diags.hold();
  session.tokens = timed(session.timer, "lex", [&] {
    return lex(session.buffer, session.diags, LexerLimits{options.max_file_bytes});
  });
  if (options.emit == Emit::Tokens) {
    session.diags.release();
    if (session.diags.has_errors()) return kExitUserError;
    return write_result(session, dump_tokens(session.buffer, session.tokens));
  }

  // ---- parse ----
  session.file = timed(session.timer, "parse", [&] {
    return parse(session.tokens, session.diags, ParserLimits{options.max_nesting_depth});
  });
  session.diags.release();
  if (options.debug_internal_error) internal_error("raised on request (--debug-internal-error)");
  if (options.debug_crash) debug_crash();
  if (session.diags.has_errors()) return kExitUserError;
  if (options.emit == Emit::Ast) return write_result(session, ast::dump(session.file, session.buffer));
  if (options.stop_after == StopAfter::Parse) return 0;

  // ---- check, lower, optimize, codegen (middle end) ----
  // Wire the next phases in here, each as: run it timed, return kExitUserError when it
  // reported errors, then honour the --emit / --stop-after options that end at it.
#ifdef TRITON_HAVE_CHECK
  return run_middle_end(session);
#else
  if (options.stop_after == StopAfter::Check) return unavailable("`--stop-after=check`");
  if (options.emit != Emit::Default) return unavailable("this `--emit` kind");
  return unavailable("the `" + options.backend + "` backend");
#endif
}

}  // namespace triton::driver

// The diagnostics engine: the only way any phase reports a problem in the user's source.
//
// A phase calls `diags.report(DiagKind::x, range, {args...})`, optionally chains `.note(...)`
// and `.hint(...)`, and the diagnostic is recorded (and printed, when a stream is attached)
// when the builder goes out of scope. Printing follows clang:
//
//   model.triton:41:17: error: `TernaryLinear` expects 256 input features, got 512
//      41 |         x = fc(x)
//         |             ^~~~~
//   model.triton:12:5: note: `fc` declared here with `in_features: 256`
//
// Kinds come from the single registry `diagnostic_kinds.def`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "source/source_buffer.h"

namespace triton {

enum class Severity : uint8_t { Note, Warning, Error };

enum class DiagKind : uint16_t {
#define DIAG(id, severity, format) id,
#include "diag/diagnostic_kinds.def"
#undef DIAG
};

inline constexpr size_t kDiagKindCount = 0
#define DIAG(id, severity, format) +1
#include "diag/diagnostic_kinds.def"
#undef DIAG
    ;

// Registry lookups.
std::string_view diag_id(DiagKind kind);
Severity diag_severity(DiagKind kind);
std::string_view diag_format(DiagKind kind);
std::optional<DiagKind> diag_kind_from_id(std::string_view id);

// Replaces {0}, {1}, ... in `format` with `args`; `{{` is a literal `{`.
std::string format_message(std::string_view format, const std::vector<std::string>& args);

struct DiagnosticNote {
  DiagKind kind;
  std::optional<SourceRange> range;  // nullopt: a note about the whole file
  std::string message;
};

struct Diagnostic {
  DiagKind kind;
  Severity severity;
  std::optional<SourceRange> range;  // nullopt: about the whole file, printed as `file: error:`
  std::string message;               // formatted, hint included
  std::vector<DiagnosticNote> notes;
};

struct DiagnosticOptions {
  // Append ` [id]` to every headline; tests use it to know which registry kind fired.
  bool show_ids = false;
  // After this many errors the engine reports `too_many_errors` once and drops the rest.
  uint32_t error_limit = 50;
};

class DiagnosticEngine;

// Collects notes and a hint for one diagnostic, then hands it to the engine when destroyed.
class DiagnosticBuilder {
 public:
  DiagnosticBuilder(DiagnosticBuilder&&) = delete;
  DiagnosticBuilder& operator=(DiagnosticBuilder&&) = delete;
  ~DiagnosticBuilder();

  DiagnosticBuilder& note(DiagKind kind, std::optional<SourceRange> range,
                          std::initializer_list<std::string_view> args = {});
  // Appends "; <text>" to the headline (e.g. "did you mean `training`?").
  DiagnosticBuilder& hint(std::string_view text);

 private:
  friend class DiagnosticEngine;
  DiagnosticBuilder(DiagnosticEngine* engine, Diagnostic diagnostic)
      : engine_(engine), diagnostic_(std::move(diagnostic)) {}
  DiagnosticEngine* engine_;  // null when the diagnostic is suppressed
  Diagnostic diagnostic_;
};

class DiagnosticEngine {
 public:
  // `out` may be null: diagnostics are then only recorded (unit tests, the fuzzer).
  DiagnosticEngine(const SourceBuffer& buffer, std::ostream* out, DiagnosticOptions options = {});

  DiagnosticBuilder report(DiagKind kind, std::optional<SourceRange> range,
                           std::initializer_list<std::string_view> args = {});

  uint32_t error_count() const { return error_count_; }
  uint32_t warning_count() const { return warning_count_; }
  bool has_errors() const { return error_count_ > 0; }
  // True once the error limit was hit; phases may stop early.
  bool limit_reached() const { return limit_reached_; }
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  const SourceBuffer& buffer() const { return buffer_; }

  // While held, diagnostics are recorded but not printed; `release()` prints them ordered
  // by position (stable). The driver holds across lexing and parsing, which run as two
  // passes, so that the user reads one file's errors top to bottom.
  void hold() { held_ = true; }
  void release();

  // While muted (calls nest), reports are dropped; `muted_errors()` counts the errors
  // dropped. The checker mutes a user function's body at each inlined call: its own
  // diagnostics were reported once, when the body was checked on its own.
  void mute() { ++muted_; }
  void unmute() { --muted_; }
  uint32_t muted_errors() const { return muted_errors_; }

  // Renders one diagnostic in clang style (used for printing; exposed for tests).
  std::string render(const Diagnostic& diagnostic) const;

 private:
  friend class DiagnosticBuilder;
  void emit(Diagnostic diagnostic);
  void print_pending();
  std::string render_location(std::optional<SourceRange> range) const;
  void render_snippet(std::string& out, SourceRange range) const;

  const SourceBuffer& buffer_;
  std::ostream* out_;
  DiagnosticOptions options_;
  std::vector<Diagnostic> diagnostics_;
  uint32_t error_count_ = 0;
  uint32_t warning_count_ = 0;
  bool limit_reached_ = false;
  bool held_ = false;
  int muted_ = 0;
  uint32_t muted_errors_ = 0;
  size_t first_unprinted_ = 0;
  std::optional<uint32_t> last_error_begin_;
};

}  // namespace triton

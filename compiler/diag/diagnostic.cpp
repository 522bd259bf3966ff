// Implements the diagnostics engine: the registry tables generated from
// `diagnostic_kinds.def`, message formatting, cascade suppression, the error limit, and the
// clang-style renderer (location, headline, source line with a `NN |` gutter, caret and
// tildes under the range, then notes).
#include "diag/diagnostic.h"

#include <algorithm>
#include <array>
#include <vector>

namespace triton {
namespace {

struct KindInfo {
  std::string_view id;
  Severity severity;
  std::string_view format;
};

constexpr std::array<KindInfo, kDiagKindCount> kKinds = {{
#define DIAG(id, severity, format) {#id, Severity::severity, format},
#include "diag/diagnostic_kinds.def"
#undef DIAG
}};

std::string_view severity_label(Severity severity) {
  switch (severity) {
    case Severity::Note: return "note";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "error";
}

// Display width of a byte span: UTF-8 continuation bytes take no column, a tab advances to
// the next multiple of 4 (the snippet expands tabs the same way, so carets line up).
size_t display_width(std::string_view text, size_t start_width = 0) {
  size_t width = start_width;
  for (unsigned char c : text) {
    if ((c & 0xC0) == 0x80) continue;
    width = c == '\t' ? (width / 4 + 1) * 4 : width + 1;
  }
  return width;
}

// The snippet as printed: tabs expanded, and bytes that are not valid UTF-8 shown as `?`
// (so a diagnostic about a bad byte never writes that byte to the terminal).
std::string printable_line(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\t') {
      out.append(4 - display_width(out) % 4, ' ');
      ++i;
      continue;
    }
    size_t length = 1;
    if (c >= 0x80) {
      length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
      bool valid = length != 0 && i + length <= text.size();
      for (size_t k = 1; valid && k < length; ++k) {
        valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
      }
      if (!valid) {
        out.push_back('?');
        ++i;
        continue;
      }
    } else if (c < 0x20) {
      out.push_back(' ');
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

}  // namespace

std::string_view diag_id(DiagKind kind) { return kKinds[static_cast<size_t>(kind)].id; }
Severity diag_severity(DiagKind kind) { return kKinds[static_cast<size_t>(kind)].severity; }
std::string_view diag_format(DiagKind kind) { return kKinds[static_cast<size_t>(kind)].format; }

std::optional<DiagKind> diag_kind_from_id(std::string_view id) {
  for (size_t i = 0; i < kKinds.size(); ++i) {
    if (kKinds[i].id == id) return static_cast<DiagKind>(i);
  }
  return std::nullopt;
}

std::string format_message(std::string_view format, const std::vector<std::string>& args) {
  std::string out;
  out.reserve(format.size() + 16);
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if ((c == '{' || c == '}') && i + 1 < format.size() && format[i + 1] == c) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '{') {
      size_t close = format.find('}', i);
      if (close != std::string_view::npos) {
        size_t index = 0;
        bool numeric = close > i + 1;
        for (size_t j = i + 1; j < close; ++j) {
          if (format[j] < '0' || format[j] > '9') numeric = false;
          else index = index * 10 + static_cast<size_t>(format[j] - '0');
        }
        if (numeric) {
          if (index < args.size()) out += args[index];
          i = close;
          continue;
        }
      }
    }
    out.push_back(c);
  }
  return out;
}

// ---- builder --------------------------------------------------------------------------------

DiagnosticBuilder::~DiagnosticBuilder() {
  if (engine_ != nullptr) engine_->emit(std::move(diagnostic_));
}

DiagnosticBuilder& DiagnosticBuilder::note(DiagKind kind, std::optional<SourceRange> range,
                                           std::initializer_list<std::string_view> args) {
  if (engine_ == nullptr) return *this;
  std::vector<std::string> arg_strings(args.begin(), args.end());
  diagnostic_.notes.push_back({kind, range, format_message(diag_format(kind), arg_strings)});
  return *this;
}

DiagnosticBuilder& DiagnosticBuilder::hint(std::string_view text) {
  if (engine_ != nullptr && !text.empty()) {
    diagnostic_.message += "; ";
    diagnostic_.message += text;
  }
  return *this;
}

// ---- engine ---------------------------------------------------------------------------------

DiagnosticEngine::DiagnosticEngine(const SourceBuffer& buffer, std::ostream* out,
                                   DiagnosticOptions options)
    : buffer_(buffer), out_(out), options_(options) {}

DiagnosticBuilder DiagnosticEngine::report(DiagKind kind, std::optional<SourceRange> range,
                                           std::initializer_list<std::string_view> args) {
  const Severity severity = diag_severity(kind);
  std::vector<std::string> arg_strings(args.begin(), args.end());
  Diagnostic diagnostic{kind, severity, range, format_message(diag_format(kind), arg_strings), {}};
  bool suppressed = limit_reached_ || muted_ > 0;
  if (muted_ > 0 && severity == Severity::Error) ++muted_errors_;
  // Two errors at the same offset are one mistake seen twice (a cascade): keep the first.
  if (severity == Severity::Error && range && last_error_begin_ == range->begin) suppressed = true;
  return DiagnosticBuilder(suppressed ? nullptr : this, std::move(diagnostic));
}

void DiagnosticEngine::emit(Diagnostic diagnostic) {
  if (limit_reached_) return;
  if (diagnostic.severity == Severity::Error) {
    if (error_count_ >= options_.error_limit) {
      limit_reached_ = true;
      Diagnostic stop{DiagKind::too_many_errors, Severity::Error, std::nullopt,
                      format_message(diag_format(DiagKind::too_many_errors),
                                     {std::to_string(error_count_)}),
                      {}};
      ++error_count_;
      diagnostics_.push_back(std::move(stop));
      print_pending();
      return;
    }
    ++error_count_;
    if (diagnostic.range) last_error_begin_ = diagnostic.range->begin;
  } else if (diagnostic.severity == Severity::Warning) {
    ++warning_count_;
  }
  diagnostics_.push_back(std::move(diagnostic));
  print_pending();
}

void DiagnosticEngine::print_pending() {
  if (held_) return;
  if (out_ != nullptr) {
    for (size_t i = first_unprinted_; i < diagnostics_.size(); ++i) *out_ << render(diagnostics_[i]);
    out_->flush();
  }
  first_unprinted_ = diagnostics_.size();
}

void DiagnosticEngine::release() {
  held_ = false;
  // Whole-file diagnostics first, then by position; the error-limit message stays last.
  auto position = [](const Diagnostic& d) -> int64_t {
    if (d.kind == DiagKind::too_many_errors) return INT64_MAX;
    return d.range ? static_cast<int64_t>(d.range->begin) : -1;
  };
  std::stable_sort(diagnostics_.begin() + static_cast<std::ptrdiff_t>(first_unprinted_),
                   diagnostics_.end(), [&](const Diagnostic& a, const Diagnostic& b) {
                     return position(a) < position(b);
                   });
  print_pending();
}

std::string DiagnosticEngine::render_location(std::optional<SourceRange> range) const {
  std::string out = buffer_.name();
  if (range) {
    const LineColumn lc = buffer_.line_column(range->begin);
    out += ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
  }
  return out;
}

void DiagnosticEngine::render_snippet(std::string& out, SourceRange range) const {
  const LineColumn begin = buffer_.line_column(range.begin);
  const std::string_view line = buffer_.line_text(begin.line);
  // A range that ends on a later line is underlined to the end of its first line.
  const uint32_t line_start = range.begin - (begin.column - 1);
  const size_t caret_from = std::min<size_t>(begin.column - 1, line.size());
  const size_t range_end = range.end > range.begin ? range.end - line_start : caret_from + 1;
  const size_t caret_to = std::max(std::min(range_end, line.size()), caret_from + 1);

  // Widths are measured on the printed text, so carets line up with what the user sees.
  auto printed_width = [](std::string_view prefix) { return display_width(printable_line(prefix)); };
  const std::string printed = printable_line(line);
  size_t pad = printed_width(line.substr(0, caret_from));
  size_t marked_end = caret_to <= line.size() ? printed_width(line.substr(0, caret_to))
                                              : printed_width(line) + (caret_to - line.size());
  marked_end = std::max(marked_end, pad + 1);

  // Split the printed line into columns (one UTF-8 character each) so a very long line can
  // be cut to a window around the caret, marked with `...` on the cut sides.
  std::vector<std::string_view> columns;
  for (size_t i = 0; i < printed.size();) {
    size_t length = 1;
    while (i + length < printed.size() && (static_cast<unsigned char>(printed[i + length]) & 0xC0) == 0x80) {
      ++length;
    }
    columns.push_back(std::string_view(printed).substr(i, length));
    i += length;
  }
  constexpr size_t kMaxColumns = 120;
  size_t first = 0;
  size_t last = columns.size();
  if (columns.size() > kMaxColumns) {
    first = pad > kMaxColumns / 3 ? pad - kMaxColumns / 3 : 0;
    last = std::min(columns.size(), first + kMaxColumns);
    first = last - std::min(last, kMaxColumns);
  }
  std::string shown = first > 0 ? "..." : "";
  for (size_t c = first; c < last; ++c) shown += columns[c];
  if (last < columns.size()) shown += "...";
  const size_t shift = first > 0 ? first - 3 : 0;  // columns hidden, net of the `...`
  pad -= std::min(pad, shift);
  marked_end -= std::min(marked_end, shift);
  marked_end = std::max(std::min(marked_end, display_width(shown)), pad + 1);

  const std::string number = std::to_string(begin.line);
  const size_t gutter = std::max<size_t>(number.size(), 4);
  out.append(gutter + 1 - number.size(), ' ');
  out += number + " | " + shown + "\n";
  out.append(gutter + 1, ' ');
  out += " | ";
  out.append(pad, ' ');
  out += '^';
  out.append(marked_end - pad - 1, '~');
  out += '\n';
}

std::string DiagnosticEngine::render(const Diagnostic& diagnostic) const {
  std::string out = render_location(diagnostic.range) + ": " +
                    std::string(severity_label(diagnostic.severity)) + ": " + diagnostic.message;
  if (options_.show_ids) out += " [" + std::string(diag_id(diagnostic.kind)) + "]";
  out += '\n';
  if (diagnostic.range) render_snippet(out, *diagnostic.range);
  for (const DiagnosticNote& note : diagnostic.notes) {
    out += render_location(note.range) + ": note: " + note.message;
    if (options_.show_ids) out += " [" + std::string(diag_id(note.kind)) + "]";
    out += '\n';
    if (note.range) render_snippet(out, *note.range);
  }
  return out;
}

}  // namespace triton

// The source buffer: one `.triton` file held in memory, plus the map from byte offsets to
// lines and columns. Every token and AST node stores a `SourceRange` of byte offsets into
// this buffer; line and column numbers are only computed when a diagnostic or a dump is
// printed, so the hot paths (lexing, parsing) never pay for them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace triton {

// Half-open byte range [begin, end) into a SourceBuffer. A default range is empty at 0.
struct SourceRange {
  uint32_t begin = 0;
  uint32_t end = 0;

  bool empty() const { return begin == end; }
  // The smallest range that covers both `a` and `b`.
  static SourceRange cover(SourceRange a, SourceRange b) {
    return {a.begin < b.begin ? a.begin : b.begin, a.end > b.end ? a.end : b.end};
  }
  friend bool operator==(SourceRange, SourceRange) = default;
};

// 1-based line and column; the column counts bytes, as clang does.
struct LineColumn {
  uint32_t line = 1;
  uint32_t column = 1;
};

class SourceBuffer {
 public:
  // `name` is what diagnostics print (the path as the user wrote it).
  SourceBuffer(std::string name, std::string text);

  // Reads a whole file. On failure returns nullopt and sets `error` to a lowercase reason
  // (e.g. "no such file or directory").
  static std::optional<SourceBuffer> from_file(const std::string& path, std::string* error);

  const std::string& name() const { return name_; }
  std::string_view text() const { return text_; }
  uint32_t size() const { return static_cast<uint32_t>(text_.size()); }

  LineColumn line_column(uint32_t offset) const;
  // The text of a 1-based line, without its line terminator.
  std::string_view line_text(uint32_t line) const;
  uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }
  std::string_view slice(SourceRange range) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<uint32_t> line_starts_;  // byte offset where each line begins; [0] == 0
};

}  // namespace triton

// Implements SourceBuffer: loading a file and mapping offsets to lines and columns with a
// binary search over precomputed line starts (diagnostics may ask for many locations in a
// large file; a linear scan per diagnostic would make error-heavy runs quadratic).
#include "source/source_buffer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace triton {

SourceBuffer::SourceBuffer(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

std::optional<SourceBuffer> SourceBuffer::from_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    if (!error->empty()) (*error)[0] = static_cast<char>(std::tolower((*error)[0]));
    return std::nullopt;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    *error = "read error";
    return std::nullopt;
  }
  return SourceBuffer(path, std::move(contents).str());
}

LineColumn SourceBuffer::line_column(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const auto line = static_cast<uint32_t>(it - line_starts_.begin());  // 1-based
  return {line, offset - line_starts_[line - 1] + 1};
}

std::string_view SourceBuffer::line_text(uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) return {};
  const uint32_t begin = line_starts_[line - 1];
  uint32_t end = line < line_starts_.size() ? line_starts_[line] - 1 : size();
  if (end > begin && text_[end - 1] == '\r') --end;
  return std::string_view(text_).substr(begin, end - begin);
}

std::string_view SourceBuffer::slice(SourceRange range) const {
  const uint32_t begin = std::min(range.begin, size());
  const uint32_t end = std::min(std::max(range.end, begin), size());
  return std::string_view(text_).substr(begin, end - begin);
}

}  // namespace triton

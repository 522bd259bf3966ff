// The PyTorch backend's text writer, string escaping and name allocator (see
// python_writer.h).
#include "codegen/pytorch/python_writer.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace triton::codegen {

void PythonWriter::line(std::string_view text) {
  size_t start = 0;
  while (true) {
    size_t end = text.find('\n', start);
    std::string_view one = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!one.empty()) out_.append(static_cast<size_t>(depth_) * 4, ' ');
    out_ += one;
    out_ += '\n';
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

void PythonWriter::statement(std::string_view text) { line(wrap_call(text, static_cast<size_t>(depth_) * 4)); }

std::string wrap_call(std::string_view text, size_t column, size_t limit) {
  if (column + text.size() <= limit) return std::string(text);
  // Find the first top-level `(` and its partner, skipping string literals.
  size_t open = std::string_view::npos, close = std::string_view::npos;
  std::vector<size_t> commas;
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (in_str) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_str = false;
      continue;
    }
    if (ch == '"') in_str = true;
    else if (ch == '(' || ch == '[' || ch == '{') {
      if (depth == 0 && ch == '(' && open == std::string_view::npos) open = i;
      ++depth;
    } else if (ch == ')' || ch == ']' || ch == '}') {
      --depth;
      if (depth == 0 && open != std::string_view::npos && close == std::string_view::npos && ch == ')') close = i;
    } else if (ch == ',' && depth == 1 && open != std::string_view::npos && close == std::string_view::npos) {
      commas.push_back(i);
    }
  }
  if (open == std::string_view::npos || close == std::string_view::npos || close == open + 1) return std::string(text);
  std::vector<std::string_view> items;
  size_t from = open + 1;
  for (size_t c : commas) {
    items.push_back(text.substr(from, c - from));
    from = c + 1;
  }
  items.push_back(text.substr(from, close - from));
  // A parenthesized expression (a generator) must not get a trailing comma: it would become
  // a tuple, or a syntax error.
  char before = open ? text[open - 1] : ' ';
  bool is_call = std::isalnum(static_cast<unsigned char>(before)) || before == '_' || before == ')' || before == ']';
  std::string out(text.substr(0, open + 1));
  out += '\n';
  for (auto item : items) {
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::string inner = wrap_call(item, column + 4, limit);
    // Indent every line of the (possibly multi-line) argument by four more spaces.
    std::string indented = "    ";
    for (char ch : inner) {
      indented += ch;
      if (ch == '\n') indented += "    ";
    }
    out += indented + (is_call || items.size() > 1 ? ",\n" : "\n");
  }
  out += std::string(text.substr(close));
  return out;
}

void PythonWriter::blank(int lines) {
  if (out_.empty()) return;
  int have = 0;
  for (size_t i = out_.size(); i >= 2 && out_[i - 1] == '\n' && out_[i - 2] == '\n'; --i) ++have;
  for (; have < lines; ++have) out_ += '\n';
}

namespace {

// Unicode format characters that reorder or hide text (bidi embeddings, overrides and
// isolates, the marks, zero-width characters): escaped in emitted literals, so the generated
// program reads as it runs ("Trojan Source", CVE-2021-42574).
bool is_invisible_format(uint32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
         cp == 0x061C || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF;
}

// The code point of the well-formed UTF-8 sequence at s[i] and its length; length 0 if the
// bytes are not a sequence of 2 or 3 bytes (the only lengths the characters above use).
uint32_t decode3(std::string_view s, size_t i, size_t* length) {
  *length = 0;
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (b(0) >= 0xC2 && b(0) < 0xE0 && i + 1 < s.size() && (b(1) & 0xC0) == 0x80) {
    *length = 2;
    return (uint32_t{b(0)} & 0x1F) << 6 | (b(1) & 0x3F);
  }
  if (b(0) >= 0xE0 && b(0) < 0xF0 && i + 2 < s.size() && (b(1) & 0xC0) == 0x80 && (b(2) & 0xC0) == 0x80) {
    *length = 3;
    return (uint32_t{b(0)} & 0x0F) << 12 | (uint32_t{b(1)} & 0x3F) << 6 | (b(2) & 0x3F);
  }
  return 0;
}

}  // namespace

std::string py_string(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t length = 0;
      const uint32_t cp = decode3(s, i, &length);
      if (length && is_invisible_format(cp)) {
        char buf[12];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
        out += buf;
        i += length - 1;
        continue;
      }
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string py_value(const ConstValue& v) {
  switch (v.kind()) {
    case ConstKind::None: return "None";
    case ConstKind::Bool: return v.as_bool() ? "True" : "False";
    case ConstKind::Int: return std::to_string(v.as_int());
    case ConstKind::Float: {
      std::string s = format_float(v.as_float());
      if (s == "inf") return "float(\"inf\")";
      if (s == "-inf") return "-float(\"inf\")";
      if (s == "nan") return "float(\"nan\")";
      return s;
    }
    case ConstKind::Str: return py_string(v.as_str());
    case ConstKind::List: {
      std::string out = "[";
      for (size_t i = 0; i < v.as_list().size(); ++i) out += (i ? ", " : "") + py_value(v.as_list()[i]);
      return out + "]";
    }
    case ConstKind::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        out += (first ? "" : ", ") + py_string(k) + ": " + py_value(e);
        first = false;
      }
      return out + "}";
    }
  }
  return "None";
}

bool is_python_reserved(std::string_view name) {
  static const std::set<std::string_view> reserved = {
      // keywords and soft keywords
      "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
      "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
      "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match", "case", "type", "_",
      // builtins a generated module may rely on
      "abs", "all", "any", "bool", "bytes", "callable", "dict", "dir", "divmod", "enumerate", "eval", "exec", "filter",
      "float", "format", "getattr", "globals", "hasattr", "hash", "help", "id", "input", "int", "isinstance", "issubclass",
      "iter", "len", "list", "locals", "map", "max", "min", "next", "object", "open", "ord", "pow", "print", "property",
      "range", "repr", "reversed", "round", "set", "setattr", "slice", "sorted", "staticmethod", "str", "sum", "super",
      "tuple", "vars", "zip", "self", "__builtins__", "__name__", "__file__", "__doc__", "__class__"};
  return reserved.count(name) > 0;
}

std::string NameAllocator::allocate(std::string_view wanted) {
  std::string base;
  for (unsigned char c : wanted) base += (std::isalnum(c) || c == '_') ? static_cast<char>(c) : '_';
  if (base.empty() || std::isdigit(static_cast<unsigned char>(base[0]))) base = "v_" + base;
  // A leading `__` is never kept: dunders (`__call__`, `__init__`, `__getattr__`) would
  // replace Python's machinery on the module, and `self.__x` in a class body is
  // name-mangled to `self._Class__x`, which breaks `register_buffer("__x", ...)`.
  if (base.size() >= 2 && base[0] == '_' && base[1] == '_') base = "v" + base;
  if (is_python_reserved(base)) base += "_";
  std::string name = base;
  for (int i = 2; taken_.count(name) || is_python_reserved(name); ++i) name = base + "_" + std::to_string(i);
  taken_.insert(name);
  return name;
}

}  // namespace triton::codegen

// All Python text the PyTorch backend produces goes through this file: an indentation-aware
// line writer, string literals that can never break out of their quotes, and a name
// allocator that never yields a Python keyword, a builtin, a reserved name or a name
// already taken in its namespace. Together they make hostile identifiers and strings in a
// `.triton` file unable to inject code into the generated module.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "schema/const_value.h"

namespace triton::codegen {

class PythonWriter {
 public:
  // One line at the current indentation; a text with newlines is indented line by line.
  void line(std::string_view text);
  // Like line(), but a call longer than the line limit is broken one argument per line.
  void statement(std::string_view text);
  int indentation() const { return depth_ * 4; }
  void blank(int lines = 1);  // up to `lines` empty lines in a row (PEP 8 spacing)
  void indent() { ++depth_; }
  void dedent() { --depth_; }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
  int depth_ = 0;
};

// Breaks a long call expression one argument per line (arguments that are themselves long
// calls are broken the same way); `column` is where the text starts. Strings are skipped
// over, so a comma inside a string literal never splits.
std::string wrap_call(std::string_view text, size_t column, size_t limit = 100);

// A Python string literal for any bytes: quotes, backslashes, newlines and control
// characters are escaped, so the literal always ends where the writer means it to.
std::string py_string(std::string_view s);
// A constant as a Python expression: `None`, `True`, `3`, `0.5`, `"s"`, `[1, 2]`, `{"k": v}`.
std::string py_value(const ConstValue& v);
bool is_python_reserved(std::string_view name);  // keywords, soft keywords and builtins

// Hands out Python identifiers for source names within one namespace (a module's `self.`
// attributes, a function's locals, the module's globals).
class NameAllocator {
 public:
  explicit NameAllocator(std::set<std::string> reserved = {}) : taken_(std::move(reserved)) {}
  // A valid identifier for `wanted`: itself when free and not reserved, else with a
  // trailing underscore when reserved, then `_2`, `_3`, ... until it is free.
  std::string allocate(std::string_view wanted);
  void reserve(const std::string& name) { taken_.insert(name); }
  bool taken(const std::string& name) const { return taken_.count(name) > 0; }

 private:
  std::set<std::string> taken_;
};

}  // namespace triton::codegen

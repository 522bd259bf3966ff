// `triton --dump-builtins=json|markdown`: the built-in schema as data. The JSON feeds the
// Python test that compares the schema with `triton_dsl.layers`/`functional` signatures;
// the Markdown is what `tools/update_docs` pastes into docs/language.md.
#include <cmath>
#include <cstdio>

#include "schema/builtins.h"

namespace triton {

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_value(const ConstValue& v) {
  switch (v.kind()) {
    case ConstKind::None: return "null";
    case ConstKind::Bool: return v.as_bool() ? "true" : "false";
    case ConstKind::Int: return std::to_string(v.as_int());
    case ConstKind::Float: return std::isfinite(v.as_float()) ? format_float(v.as_float()) : "null";
    case ConstKind::Str: return json_string(v.as_str());
    case ConstKind::List: {
      std::string out = "[";
      for (size_t i = 0; i < v.as_list().size(); ++i) out += (i ? ", " : "") + json_value(v.as_list()[i]);
      return out + "]";
    }
    case ConstKind::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        out += (first ? "" : ", ") + json_string(k) + ": " + json_value(e);
        first = false;
      }
      return out + "}";
    }
  }
  return "null";
}

// Language spelling of a default for the docs (`true`, `"ste"`, `None`).
std::string doc_default(const ConstValue& v) { return v.to_source(); }

}  // namespace

std::string dump_builtins_json() {
  std::string out = "{\n  \"layers\": [\n";
  auto layers = builtin_layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    out += "    {\"name\": " + json_string(l.name) + ", \"doc\": " + json_string(l.doc) +
           ", \"container\": " + (l.is_container ? "true" : "false") + ", \"attributes\": [";
    for (size_t j = 0; j < l.attrs.size(); ++j) {
      const auto& a = l.attrs[j];
      out += std::string(j ? ", " : "") + "\n      {\"name\": " + json_string(a.name) +
             ", \"type\": " + json_string(attr_type_name(a.type)) +
             ", \"required\": " + (a.required ? "true" : "false");
      if (!a.required) out += ", \"default\": " + json_value(a.default_value);
      if (!a.choices.empty()) {
        out += ", \"choices\": [";
        for (size_t k = 0; k < a.choices.size(); ++k) {
          // Int choices are JSON numbers; the schema keeps every choice as text.
          out += (k ? ", " : "") + (a.type == AttrType::Str ? json_string(a.choices[k]) : std::string(a.choices[k]));
        }
        out += "]";
      }
      out += ", \"doc\": " + json_string(a.doc) + "}";
    }
    out += std::string(l.attrs.empty() ? "" : "\n    ") + "]}" + (i + 1 < layers.size() ? "," : "") + "\n";
  }
  out += "  ],\n  \"functions\": [\n";
  auto fns = builtin_functions();
  for (size_t i = 0; i < fns.size(); ++i) {
    const auto& f = fns[i];
    out += "    {\"name\": " + json_string(f.name) + ", \"python_name\": " +
           (f.python_name.empty() ? std::string("null") : json_string(f.python_name)) +
           ", \"doc\": " + json_string(f.doc) + ", \"params\": [";
    for (size_t j = 0; j < f.params.size(); ++j) {
      const auto& p = f.params[j];
      out += std::string(j ? ", " : "") + "{\"name\": " + json_string(p.name) + ", \"kind\": " +
             json_string(param_kind_name(p.kind)) + ", \"required\": " + (p.required ? "true" : "false");
      if (!p.required) out += ", \"default\": " + json_value(p.default_value);
      out += "}";
    }
    out += std::string("]}") + (i + 1 < fns.size() ? "," : "") + "\n";
  }
  return out + "  ]\n}\n";
}

std::string dump_builtins_markdown() {
  std::string out = "### Built-in layers\n\n| layer | attributes | what it does |\n| --- | --- | --- |\n";
  for (const auto& l : builtin_layers()) {
    std::string attrs;
    for (const auto& a : l.attrs) {
      if (!attrs.empty()) attrs += ", ";
      attrs += "`" + std::string(a.name) + ": " + std::string(attr_type_name(a.type));
      if (!a.required) attrs += " = " + doc_default(a.default_value);
      attrs += "`";
      if (!a.choices.empty()) {
        attrs += " (";
        const std::string quote = a.type == AttrType::Str ? "\"" : "";
        for (size_t k = 0; k < a.choices.size(); ++k) attrs += (k ? " \\| " : "") + quote + std::string(a.choices[k]) + quote;
        attrs += ")";
      }
    }
    if (l.is_container) attrs = "children only (an inline list of layers)";
    if (attrs.empty()) attrs = "(none)";
    for (size_t p = attrs.find('|'); p != std::string::npos; p = attrs.find('|', p + 2)) {
      if (p > 0 && attrs[p - 1] == '\\') continue;
      attrs.insert(p, "\\");
    }
    out += "| `" + std::string(l.name) + "` | " + attrs + " | " + std::string(l.doc) + " |\n";
  }
  out += "\nAttributes without a default are required. Ints are accepted where floats are expected.\n";
  out += "\n### Built-in functions\n\n| function | parameters | Python name | what it does |\n| --- | --- | --- | --- |\n";
  for (const auto& f : builtin_functions()) {
    std::string params;
    for (const auto& p : f.params) {
      if (!params.empty()) params += ", ";
      params += std::string(p.name) + ": " + std::string(param_kind_name(p.kind));
      if (!p.required) params += " = " + doc_default(p.default_value);
    }
    for (size_t p = params.find('|'); p != std::string::npos; p = params.find('|', p + 2)) params.insert(p, "\\");
    std::string py = f.python_name.empty() ? "(operator `//`)" : "`F." + std::string(f.python_name) + "`";
    out += "| `" + std::string(f.name) + "` | `" + params + "` | " + py + " | " + std::string(f.doc) + " |\n";
  }
  return out;
}

}  // namespace triton

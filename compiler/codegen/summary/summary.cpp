// Builds the summary table from the IR's elaborated tree (ir::ElabNode): one row per leaf
// (a built-in layer or a `param` tensor), in construction order. Packed bytes count 2-bit
// ternary weights as ceil(n/4) bytes plus a 4-byte scale per output channel, and every
// float parameter at 4 bytes; MACs are per sample (a symbolic batch counts once).
#include "codegen/summary/summary.h"

#include <algorithm>
#include <cstdio>

namespace triton::codegen {

namespace {

std::string grouped(int64_t n) {
  std::string s = std::to_string(n), out;
  if (n < 0) s.erase(0, 1);  // not -n: that overflows for INT64_MIN
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return n < 0 ? "-" + out : out;
}

// Decimal and binary units: published tables mix them (2.85 MB is 2.72 MiB).
std::string size_text(int64_t bytes) {
  char buf[64];
  if (bytes < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1f KB = %.1f KiB", static_cast<double>(bytes) / 1e3, static_cast<double>(bytes) / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.2f MB = %.2f MiB", static_cast<double>(bytes) / 1e6,
                  static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

struct Row {
  std::string path, type, shape, params, kind, bytes, macs;
};

void collect(const ir::ElabNode& n, std::vector<Row>& rows) {
  if (n.is_leaf) {
    const LayerCost& c = n.cost;
    std::string kind = c.ternary_weights ? (c.float_params ? "ternary+float" : "ternary") : (c.float_params ? "float" : "-");
    // TTQ and integer weights are stored as float32 in the packed file (their bytes count
    // as float) but are not float layers: the column names their quantizer.
    if (n.attrs && n.attrs->get("quantization").is_str()) {
      const std::string& q = n.attrs->get("quantization").as_str();
      if (q == "ttq" || q == "int8" || q == "int4") kind = q + " (stored float)";
    }
    rows.push_back({n.path, n.type_name, n.called || n.type_name == "param" ? n.output.to_string() : "(unused)", grouped(c.params()), kind,
                    grouped(c.packed_bytes()), grouped(c.macs)});
  }
  for (const auto& child : n.children) collect(child, rows);
}

}  // namespace

std::string emit_summary(const ir::Program& program) {
  std::vector<Row> rows = {{"layer", "type", "output", "params", "weights", "packed bytes", "MACs"}};
  collect(program.root, rows);
  LayerCost t = program.root.total();
  rows.push_back({"total", "", "", grouped(t.params()), "", grouped(t.packed_bytes()), grouped(t.macs)});
  size_t w[7] = {};
  for (const auto& r : rows) {
    const std::string* cells[] = {&r.path, &r.type, &r.shape, &r.params, &r.kind, &r.bytes, &r.macs};
    for (int i = 0; i < 7; ++i) w[i] = std::max(w[i], cells[i]->size());
  }
  std::string out = "summary of `" + program.entry_module().name + "` (" + program.source_name + ")\n\n";
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const auto& r = rows[ri];
    const std::string* cells[] = {&r.path, &r.type, &r.shape, &r.params, &r.kind, &r.bytes, &r.macs};
    std::string line;
    for (int i = 0; i < 7; ++i) {
      bool right = i == 3 || i >= 5;
      std::string pad(w[i] - cells[i]->size(), ' ');
      line += (i ? "  " : "") + (right ? pad + *cells[i] : *cells[i] + (i == 6 ? "" : pad));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (ri == 0 || ri + 2 == rows.size()) {
      size_t len = 0;
      for (int i = 0; i < 7; ++i) len += w[i] + (i ? 2 : 0);
      out += std::string(len, '-') + "\n";
    }
  }
  int64_t float_bytes = sat_mul(4, t.params());  // saturating: a sum of huge tensors must not wrap
  out += "\nparameters: " + grouped(t.params()) + " (ternary weights " + grouped(t.ternary_weights) + ", float " +
         grouped(t.float_params) + ")\n";
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.1fx", t.packed_bytes() ? static_cast<double>(float_bytes) / static_cast<double>(t.packed_bytes()) : 0.0);
  out += "packed size: " + size_text(t.packed_bytes()) + "; float32: " + size_text(float_bytes) + "; compression " + ratio + "\n";
  out += "MACs per sample: " + grouped(t.macs) + "\n";
  return out;
}

}  // namespace triton::codegen

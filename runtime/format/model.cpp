// The validating `.tpk` loader (see model.h and docs/packed-format.md).
//
// Order of checks: header (magic, version, flags, file size), section bounds, then each
// table record, op records against ops.def, value/tensor ids and topological order, and
// finally per-op semantic checks (weight shapes against attributes). Arithmetic on sizes
// read from the file goes through `mul_ok`/`add_ok` so that a hostile count cannot
// overflow into a small number that passes a bounds check.
#include "format/model.h"

#include <cstring>
#include <limits>
#include <string>

#include "format/file_bytes.h"
#include "format/packing.h"

namespace triton_rt {

using format::kAbsent;
using format::TensorKind;

const char* op_name(OpKind kind) {
  switch (kind) {
#define OP(name, code, ...) \
  case OpKind::k##name:     \
    return #name;
#include "format/ops.def"
#undef OP
  }
  return "unknown";
}

std::int64_t TensorData::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

namespace {

struct OpRule {
  std::uint32_t code, min_inputs, max_inputs, min_ints, max_ints, min_floats, max_floats, tensors;
};
constexpr OpRule kRules[] = {
#define OP(name, code, a, b, c, d, e, f, g) {code, a, b, c, d, e, f, g},
#include "format/ops.def"
#undef OP
};

const OpRule* rule_for(std::uint32_t code) {
  for (const OpRule& r : kRules) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

// Limits far above any real model; they keep allocations bounded on hostile input.
constexpr std::int64_t kMaxDim = std::int64_t{1} << 31;
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 32;
// Inputs per output of an 8-bit layer: int32 accumulators of the shifted sums (at most
// 255 per input) cannot overflow (kernels/ternary_int8.h, kInt8MaxCols).
constexpr std::int64_t kMaxInt8Cols = std::int64_t{1} << 23;

bool add_ok(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  if (a > std::numeric_limits<std::uint64_t>::max() - b) return false;
  *out = a + b;
  return true;
}
bool mul_ok(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

std::string str(std::uint64_t v) { return std::to_string(v); }

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  // True when [offset, offset+size) lies inside the file.
  bool contains(std::uint64_t offset, std::uint64_t size) const {
    std::uint64_t end = 0;
    return add_ok(offset, size, &end) && end <= bytes_.size();
  }
  template <class T>
  T read(std::uint64_t offset) const {  // callers have checked contains(offset, sizeof(T))
    T out;
    std::memcpy(&out, bytes_.data() + offset, sizeof(T));
    return out;
  }
  const std::uint8_t* at(std::uint64_t offset) const { return bytes_.data() + offset; }
  std::uint64_t size() const { return bytes_.size(); }

 private:
  std::span<const std::uint8_t> bytes_;
};

Status check_section(const Reader& r, const format::SectionRef& s, const char* name,
                     std::uint64_t expected_size) {
  if (s.size != expected_size) {
    return Status::error(std::string("corrupt file: ") + name + " section has " + str(s.size) +
                         " bytes, expected " + str(expected_size));
  }
  if (s.size != 0 && (s.offset < sizeof(format::FileHeader) || !r.contains(s.offset, s.size))) {
    return Status::error(std::string("corrupt file: ") + name + " section [" + str(s.offset) +
                         ", +" + str(s.size) + ") lies outside the file (" + str(r.size()) +
                         " bytes)");
  }
  return {};
}

Expected<format::FileHeader> read_header(const Reader& r) {
  if (!r.contains(0, sizeof(format::FileHeader))) {
    return Status::error("not a .tpk file: " + str(r.size()) +
                         " bytes is shorter than the 128-byte header");
  }
  auto h = r.read<format::FileHeader>(0);
  if (std::memcmp(h.magic, format::kMagic, sizeof h.magic) != 0) {
    return Status::error("not a .tpk file: bad magic bytes");
  }
  if (h.version < format::kMinFormatVersion || h.version > format::kFormatVersion) {
    return Status::error("unsupported .tpk format version " + str(h.version) +
                         " (this runtime reads versions " + str(format::kMinFormatVersion) +
                         " to " + str(format::kFormatVersion) + ")");
  }
  if ((h.flags & ~format::kFlagBase3) != 0) {
    return Status::error("corrupt file: unknown header flags " + str(h.flags));
  }
  if (h.file_size != r.size()) {
    return Status::error("truncated or corrupt file: header says " + str(h.file_size) +
                         " bytes, the file has " + str(r.size()));
  }
  if (h.reserved != 0) return Status::error("corrupt file: reserved header field is not 0");
  std::uint64_t n = 0;
  Status s;
  if (!(s = check_section(r, h.values, "values", h.value_count * sizeof(format::ValueRecord)))
           .ok() ||
      !(s = check_section(r, h.tensors, "tensors",
                          h.tensor_count * std::uint64_t{sizeof(format::TensorRecord)}))
           .ok() ||
      !(s = check_section(r, h.ops, "ops", h.ops.size)).ok() ||
      !(s = check_section(r, h.io, "io",
                          4 * (std::uint64_t{h.input_count} + h.output_count)))
           .ok() ||
      !(s = check_section(r, h.data, "data", h.data.size)).ok()) {
    return s;
  }
  if (h.data.offset % format::kDataAlign != 0) {
    return Status::error("corrupt file: data section is not 64-byte aligned");
  }
  (void)n;
  return h;
}

Status read_values(const Reader& r, const format::FileHeader& h, Model& m) {
  m.values.resize(h.value_count);
  for (std::uint32_t i = 0; i < h.value_count; ++i) {
    auto rec = r.read<format::ValueRecord>(h.values.offset + i * sizeof(format::ValueRecord));
    if (rec.rank > format::kMaxValueRank) {
      return Status::error("corrupt file: value " + str(i) + " has rank " + str(rec.rank));
    }
    for (std::uint32_t d = 0; d < rec.rank; ++d) {
      if (rec.dims[d] < 0 || rec.dims[d] > kMaxDim) {
        return Status::error("corrupt file: value " + str(i) + " has a bad dimension");
      }
      m.values[i].dims.push_back(rec.dims[d]);
    }
    m.values[i].batch_leading = (rec.flags & 1) != 0;
  }
  return {};
}

Status read_ternary(const Reader& r, const format::TensorRecord& rec, std::uint64_t start,
                    std::uint32_t id, TensorData& t) {
  const std::uint64_t rows = rec.dims[0], cols = rec.dims[1];
  const bool base3 = rec.kind == static_cast<std::uint32_t>(TensorKind::kTernary3);
  const std::uint64_t stored_row = base3 ? format::t3_row_bytes(cols) : format::t2_row_bytes(cols);
  std::uint64_t packed_bytes = 0, total = 0;
  if (!mul_ok(rows, stored_row, &packed_bytes) || !add_ok(packed_bytes, 4 * rows, &total) ||
      total != rec.size) {
    return Status::error("corrupt file: ternary tensor " + str(id) + " has " + str(rec.size) +
                         " bytes, expected " + str(total) + " for " + str(rows) + "x" +
                         str(cols));
  }
  const std::span<const std::uint8_t> packed(r.at(start), packed_bytes);
  TernaryMatrix& tm = t.ternary;
  tm.rows = static_cast<std::int64_t>(rows);
  tm.cols = static_cast<std::int64_t>(cols);
  tm.row_bytes = static_cast<std::int64_t>(format::t2_row_bytes(cols));
  if (base3) {
    auto codes = format::decode_t3(packed, tm.rows, tm.cols);
    if (!codes.ok()) return Status::error("tensor " + str(id) + ": " + codes.message());
    tm.packed = format::encode_t2(codes.value(), tm.rows, tm.cols);
  } else {
    // Validates the codes (no 11) before the kernels read them.
    auto codes = format::decode_t2(packed, tm.rows, tm.cols);
    if (!codes.ok()) return Status::error("tensor " + str(id) + ": " + codes.message());
    tm.packed.assign(packed.begin(), packed.end());
  }
  tm.scales.resize(rows);
  std::memcpy(tm.scales.data(), r.at(start + packed_bytes), 4 * rows);
  return {};
}

Status read_tensors(const Reader& r, const format::FileHeader& h, Model& m) {
  m.tensors.resize(h.tensor_count);
  for (std::uint32_t i = 0; i < h.tensor_count; ++i) {
    auto rec =
        r.read<format::TensorRecord>(h.tensors.offset + i * sizeof(format::TensorRecord));
    TensorData& t = m.tensors[i];
    if (rec.kind > 2) {
      return Status::error("corrupt file: tensor " + str(i) + " has unknown kind " +
                           str(rec.kind));
    }
    t.kind = static_cast<TensorKind>(rec.kind);
    if (rec.rank < 1 || rec.rank > format::kMaxTensorRank || (t.is_ternary() && rec.rank != 2)) {
      return Status::error("corrupt file: tensor " + str(i) + " has rank " + str(rec.rank));
    }
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < rec.rank; ++d) {
      if (rec.dims[d] < 1 || rec.dims[d] > kMaxDim || !mul_ok(elements, rec.dims[d], &elements) ||
          elements > kMaxElements) {
        return Status::error("corrupt file: tensor " + str(i) + " has a bad dimension");
      }
      t.dims.push_back(rec.dims[d]);
    }
    std::uint64_t start = 0;
    if (rec.offset % format::kDataAlign != 0 || rec.offset > h.data.size ||
        rec.size > h.data.size - rec.offset || !add_ok(h.data.offset, rec.offset, &start)) {
      return Status::error("corrupt file: tensor " + str(i) + " lies outside the data section");
    }
    if (t.is_ternary()) {
      if (Status s = read_ternary(r, rec, start, i, t); !s.ok()) return s;
    } else {
      if (rec.size != 4 * elements) {
        return Status::error("corrupt file: float tensor " + str(i) + " has " + str(rec.size) +
                             " bytes, expected " + str(4 * elements));
      }
      t.values.resize(elements);
      std::memcpy(t.values.data(), r.at(start), rec.size);
    }
  }
  return {};
}

Status read_ops(const Reader& r, const format::FileHeader& h, Model& m) {
  std::uint64_t cursor = h.ops.offset;
  const std::uint64_t end = h.ops.offset + h.ops.size;
  if (h.op_count > h.ops.size / sizeof(format::OpHeader)) {
    return Status::error("corrupt file: " + str(h.op_count) + " ops cannot fit in " +
                         str(h.ops.size) + " bytes");
  }
  m.ops.resize(h.op_count);
  for (std::uint32_t i = 0; i < h.op_count; ++i) {
    const std::string where = "corrupt file: op " + str(i) + ": ";
    if (end - cursor < sizeof(format::OpHeader)) return Status::error(where + "truncated");
    auto oh = r.read<format::OpHeader>(cursor);
    const OpRule* rule = rule_for(oh.kind);
    if (rule == nullptr) return Status::error(where + "unknown op kind " + str(oh.kind));
    OpDesc& op = m.ops[i];
    op.kind = static_cast<OpKind>(oh.kind);
    const std::string name = std::string(op_name(op.kind)) + " ";
    if (oh.fused_activation >= kActivationCount) {
      return Status::error(where + "unknown fused activation " + str(oh.fused_activation));
    }
    op.act = static_cast<Activation>(oh.fused_activation);
    if (oh.input_count < rule->min_inputs || oh.input_count > rule->max_inputs ||
        oh.output_count != 1 || oh.int_count < rule->min_ints || oh.int_count > rule->max_ints ||
        oh.float_count < rule->min_floats || oh.float_count > rule->max_floats ||
        oh.tensor_count != rule->tensors) {
      return Status::error(where + name + "has the wrong number of inputs or attributes");
    }
    const std::uint64_t expected = sizeof(format::OpHeader) +
                                   4 * (std::uint64_t{oh.input_count} + oh.output_count +
                                        oh.int_count + oh.float_count + oh.tensor_count);
    if (oh.record_size != expected || end - cursor < expected) {
      return Status::error(where + "record size " + str(oh.record_size) + " is wrong or truncated");
    }
    std::uint64_t p = cursor + sizeof(format::OpHeader);
    auto take_u32 = [&](std::uint32_t n, std::vector<std::uint32_t>& out) {
      out.resize(n);
      if (n) std::memcpy(out.data(), r.at(p), 4 * n);
      p += 4 * n;
    };
    take_u32(oh.input_count, op.inputs);
    std::vector<std::uint32_t> outs;
    take_u32(1, outs);
    op.output = outs[0];
    op.ints.resize(oh.int_count);
    if (oh.int_count) std::memcpy(op.ints.data(), r.at(p), 4 * oh.int_count);
    p += 4 * oh.int_count;
    op.floats.resize(oh.float_count);
    if (oh.float_count) std::memcpy(op.floats.data(), r.at(p), 4 * oh.float_count);
    p += 4 * oh.float_count;
    take_u32(oh.tensor_count, op.tensors);
    cursor += expected;
  }
  if (cursor != end) return Status::error("corrupt file: trailing bytes in the ops section");
  return {};
}

Status check_graph(Model& m, const format::FileHeader& h, const Reader& r) {
  const std::uint32_t nv = static_cast<std::uint32_t>(m.values.size());
  std::vector<char> defined(nv, 0);
  m.inputs.resize(h.input_count);
  m.outputs.resize(h.output_count);
  if (h.input_count) std::memcpy(m.inputs.data(), r.at(h.io.offset), 4 * h.input_count);
  if (h.output_count) {
    std::memcpy(m.outputs.data(), r.at(h.io.offset + 4 * h.input_count), 4 * h.output_count);
  }
  if (m.outputs.empty()) return Status::error("corrupt file: the graph has no outputs");
  for (std::uint32_t v : m.inputs) {
    if (v >= nv || defined[v]) return Status::error("corrupt file: bad graph input id " + str(v));
    defined[v] = 1;
  }
  for (std::size_t i = 0; i < m.ops.size(); ++i) {
    OpDesc& op = m.ops[i];
    const std::string where = "corrupt file: op " + str(i) + " (" + op_name(op.kind) + "): ";
    for (std::uint32_t v : op.inputs) {
      if (v >= nv || !defined[v]) {
        return Status::error(where + "input value " + str(v) + " is not defined before it");
      }
    }
    if (op.output >= nv || defined[op.output]) {
      return Status::error(where + "output value " + str(op.output) + " is invalid or redefined");
    }
    defined[op.output] = 1;
    for (std::uint32_t t : op.tensors) {
      if (t != kAbsent && t >= m.tensors.size()) {
        return Status::error(where + "tensor id " + str(t) + " is out of range");
      }
    }
  }
  for (std::uint32_t v : m.outputs) {
    if (v >= nv || !defined[v]) return Status::error("corrupt file: bad graph output id " + str(v));
  }
  return {};
}

// Checks that need the op's meaning: weights fit the attributes, attributes are sane.
Status check_op(const Model& m, std::size_t index) {
  const OpDesc& op = m.ops[index];
  const std::string where = "corrupt file: op " + str(index) + " (" + op_name(op.kind) + "): ";
  auto tensor = [&](std::size_t i) { return op.tensor(m.tensors, i); };
  auto float_vector = [&](std::size_t i, std::int64_t n) {
    const TensorData* t = tensor(i);
    return t == nullptr || (!t->is_ternary() && t->dims.size() == 1 && (n < 0 || t->dims[0] == n));
  };
  switch (op.kind) {
    case OpKind::kLinear:
    case OpKind::kConv2d: {
      const TensorData* w = tensor(0);
      if (w == nullptr) return Status::error(where + "has no weight");
      const std::int64_t rows = w->dims[0];
      if (op.kind == OpKind::kLinear && w->dims.size() != 2) {
        return Status::error(where + "weight must be 2-D");
      }
      if (op.kind == OpKind::kConv2d) {
        for (int k = 0; k < 9; ++k) {
          const int lo = (k == 4 || k == 5) ? 0 : 1;  // padding may be 0, the rest >= 1
          if (op.ints[k] < lo || op.ints[k] > 4096) {
            return Status::error(where + "attribute " + str(k) + " is out of range");
          }
        }
        const std::int64_t kk = std::int64_t{op.ints[0]} * op.ints[1];
        const std::int64_t groups = op.ints[8];
        if (rows % groups != 0) return Status::error(where + "out channels not divisible by groups");
        if (w->is_ternary() ? (w->dims[1] % kk != 0)
                            : (w->dims.size() != 4 || w->dims[2] != op.ints[0] ||
                               w->dims[3] != op.ints[1])) {
          return Status::error(where + "weight shape does not match the kernel size");
        }
      }
      if (!float_vector(1, rows)) return Status::error(where + "bias must have one value per row");
      if (!op.floats.empty()) {
        // 8-bit activations: the input's quantization scale.
        if (m.version < format::kVersionActivationScale) {
          return Status::error(where + "an activation scale needs format version " +
                               str(format::kVersionActivationScale) + ", the file says " +
                               str(m.version));
        }
        const float scale = op.floats[0];
        if (!(scale > 0.0f && scale <= std::numeric_limits<float>::max())) {
          return Status::error(where + "activation scale must be positive and finite");
        }
        if (w->is_ternary() && w->ternary.cols > kMaxInt8Cols) {
          return Status::error(where + "8-bit activations support at most " + str(kMaxInt8Cols) +
                               " inputs per output");
        }
      }
      break;
    }
    case OpKind::kActivation:
      if (op.ints[0] < 0 || static_cast<std::uint32_t>(op.ints[0]) >= kActivationCount) {
        return Status::error(where + "unknown activation code");
      }
      break;
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d:
      for (int k = 0; k < 6; ++k) {
        if (op.ints[k] < (k >= 4 ? 0 : 1) || op.ints[k] > 4096) {
          return Status::error(where + "pooling attribute out of range");
        }
      }
      if (op.ints[4] * 2 > op.ints[0] || op.ints[5] * 2 > op.ints[1]) {
        return Status::error(where + "padding is larger than half the kernel");
      }
      break;
    case OpKind::kAdaptiveAvgPool2d:
      if (op.ints[0] < 1 || op.ints[1] < 1 || op.ints[0] > 4096 || op.ints[1] > 4096) {
        return Status::error(where + "output size out of range");
      }
      break;
    case OpKind::kLayerNorm:
      if (op.ints[0] < 1 || op.ints[0] > format::kMaxValueRank || !float_vector(0, -1) ||
          !float_vector(1, -1)) {
        return Status::error(where + "bad normalized rank or affine tensors");
      }
      break;
    case OpKind::kChannelAffine:
      if (tensor(0) == nullptr || tensor(1) == nullptr || !float_vector(0, -1) ||
          !float_vector(1, tensor(0)->dims[0])) {
        return Status::error(where + "needs float scale and shift of one size");
      }
      break;
    case OpKind::kConstant:
    case OpKind::kEmbedding:
      if (tensor(0) == nullptr || tensor(0)->is_ternary() ||
          (op.kind == OpKind::kEmbedding && tensor(0)->dims.size() != 2)) {
        return Status::error(where + "needs a float tensor");
      }
      break;
    case OpKind::kSlice:
      if (op.ints[3] < 1 || op.ints[1] < 0 || op.ints[2] < op.ints[1]) {
        return Status::error(where + "bad slice bounds");
      }
      break;
    case OpKind::kTernaryActivation:
      if (op.ints[0] < 0 || op.ints[0] > 1) return Status::error(where + "unknown method");
      break;
    default:
      break;
  }
  return {};
}

}  // namespace

Expected<Model> parse_model(std::span<const std::uint8_t> bytes) {
  const Reader r(bytes);
  auto header = read_header(r);
  if (!header.ok()) return header.status();
  const format::FileHeader& h = header.value();
  Model m;
  m.version = h.version;
  m.flags = h.flags;
  m.file_size = h.file_size;
  Status s;
  if (!(s = read_values(r, h, m)).ok() || !(s = read_tensors(r, h, m)).ok() ||
      !(s = read_ops(r, h, m)).ok() || !(s = check_graph(m, h, r)).ok()) {
    return s;
  }
  for (std::size_t i = 0; i < m.ops.size(); ++i) {
    if (!(s = check_op(m, i)).ok()) return s;
  }
  return m;
}

Expected<Model> load_model_file(const std::string& path) {
  // No size limit beyond the file's own: a model is as large as its weights.
  auto bytes = read_file_bytes(path, std::uint64_t{1} << 62);
  if (!bytes.ok()) return bytes.status();
  auto model = parse_model(bytes.value());
  if (!model.ok()) return Status::error(path + ": " + model.message());
  return model;
}

}  // namespace triton_rt

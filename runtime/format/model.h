// The in-memory form of a loaded `.tpk` file and the validating loader that builds it.
//
// `parse_model` checks every count, offset, id and attribute of the file against its size
// and against the op table (ops.def) before it copies anything, so the executor can trust a
// Model: ids are in range, ops are topologically ordered, ternary codes are valid, weight
// shapes agree with their op's attributes. A malformed file yields an error Status.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/layout.h"
#include "format/status.h"

namespace triton_rt {

enum class OpKind : std::uint32_t {
#define OP(name, code, ...) k##name = code,
#include "format/ops.def"
#undef OP
};
const char* op_name(OpKind kind);

enum class Activation : std::uint32_t {
  kNone = 0, kRelu = 1, kRelu6 = 2, kGelu = 3, kGeluTanh = 4, kSilu = 5, kSigmoid = 6,
  kTanh = 7,
};
inline constexpr std::uint32_t kActivationCount = 8;

// A ternary matrix as the kernels see it: 2-bit rows (base-3 files are expanded at load).
struct TernaryMatrix {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t row_bytes = 0;
  std::vector<std::uint8_t> packed;  // rows * row_bytes
  std::vector<float> scales;         // rows
};

struct TensorData {
  format::TensorKind kind = format::TensorKind::kFloat32;
  std::vector<std::int64_t> dims;
  std::vector<float> values;  // float32 tensors
  TernaryMatrix ternary;      // ternary tensors
  bool is_ternary() const { return kind != format::TensorKind::kFloat32; }
  std::int64_t numel() const;
};

struct ValueDesc {
  std::vector<std::int64_t> dims;  // as traced with the example input
  bool batch_leading = false;
};

struct OpDesc {
  OpKind kind = OpKind::kAdd;
  Activation act = Activation::kNone;
  std::vector<std::uint32_t> inputs;
  std::uint32_t output = 0;
  std::vector<std::int32_t> ints;
  std::vector<float> floats;
  std::vector<std::uint32_t> tensors;  // format::kAbsent for an absent optional tensor
  const TensorData* tensor(const std::vector<TensorData>& all, std::size_t i) const {
    return tensors[i] == format::kAbsent ? nullptr : &all[tensors[i]];
  }
};

struct Model {
  std::uint32_t version = 0;
  std::uint32_t flags = 0;
  std::uint64_t file_size = 0;
  std::vector<ValueDesc> values;
  std::vector<TensorData> tensors;
  std::vector<OpDesc> ops;
  std::vector<std::uint32_t> inputs;
  std::vector<std::uint32_t> outputs;
};

Expected<Model> parse_model(std::span<const std::uint8_t> bytes);
Expected<Model> load_model_file(const std::string& path);

}  // namespace triton_rt

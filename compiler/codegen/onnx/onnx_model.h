// An ONNX model in memory, as the backend builds it, and its two writers: `serialize` (the
// binary ModelProto of the official onnx.proto, through proto_writer.h) and `to_text`
// (`--emit=onnx-text`, a readable dump that the golden tests compare). The structs hold
// only what the backend emits: one graph, dense initializers as raw little-endian bytes,
// the attribute kinds used by our operators, tensor value infos with static or named
// dimensions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace triton::codegen::onnx {

// TensorProto.DataType values of onnx.proto.
enum class DataType : int32_t { Float = 1, Uint8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Bool = 9, Int4 = 22, Int2 = 26 };
std::string_view data_type_name(DataType t);

struct Tensor {
  std::string name;
  DataType type = DataType::Float;
  std::vector<int64_t> dims;
  std::string raw;  // raw_data: little endian; INT4/INT2 packed from the low bits up

  int64_t element_count() const;
  static Tensor floats(std::string name, std::vector<int64_t> dims, const std::vector<float>& values);
  static Tensor int64s(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& values);
  // Ternary codes in {-1, 0, 1} stored as `type` (Int8, Int4 or Int2).
  static Tensor codes(std::string name, DataType type, std::vector<int64_t> dims, const std::vector<int8_t>& values);

  // The values back (the inverses of `floats` and `codes`): a Float tensor's floats; an
  // Int8/Int4/Int2 tensor's codes, sign-extended (nullopt for other types).
  std::vector<float> float_values() const;
  std::optional<std::vector<int8_t>> code_values() const;
};

struct Attribute {
  // AttributeProto.AttributeType values.
  enum class Kind : int32_t { Float = 1, Int = 2, String = 3, Tensor = 4, Floats = 6, Ints = 7 };
  std::string name;
  Kind kind = Kind::Int;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::optional<onnx::Tensor> t;

  static Attribute of_int(std::string name, int64_t v);
  static Attribute of_float(std::string name, float v);
  static Attribute of_string(std::string name, std::string v);
  static Attribute of_ints(std::string name, std::vector<int64_t> v);
  static Attribute of_tensor(std::string name, onnx::Tensor v);
};

struct Node {
  std::string op_type;
  std::string name;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

// A dimension: a size (value >= 0), a name (`batch`) for a size left to the caller, or
// neither when unknown.
struct Dim {
  int64_t value = -1;
  std::string param;
};

struct ValueInfo {
  std::string name;
  DataType type = DataType::Float;
  std::vector<Dim> dims;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs;
};

struct Model {
  int64_t ir_version = 8;
  int64_t opset = 17;
  std::string producer_name = "triton";
  std::string producer_version;
  std::string doc_string;
  Graph graph;
};

// The ModelProto bytes.
std::string serialize(const Model& model);
// One line per input, initializer (name, type, shape, bytes), node and output.
std::string to_text(const Model& model);

}  // namespace triton::codegen::onnx

// Implements onnx_model.h. `serialize` writes each message's fields by their numbers in the
// official onnx.proto (github.com/onnx/onnx, onnx/onnx.proto); the numbers below are that
// schema's, and a test decodes our bytes with the `onnx` Python package to prove it.
#include "codegen/onnx/onnx_model.h"

#include <bit>
#include <cstring>
#include <sstream>

#include "codegen/onnx/proto_writer.h"

namespace triton::codegen::onnx {

namespace {

// onnx.proto field numbers.
namespace model_field { constexpr uint32_t kIrVersion = 1, kProducerName = 2, kProducerVersion = 3, kDocString = 6, kGraph = 7, kOpsetImport = 8; }
namespace opset_field { constexpr uint32_t kDomain = 1, kVersion = 2; }
namespace graph_field { constexpr uint32_t kNode = 1, kName = 2, kInitializer = 5, kInput = 11, kOutput = 12; }
namespace node_field { constexpr uint32_t kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5; }
namespace attr_field { constexpr uint32_t kName = 1, kF = 2, kI = 3, kS = 4, kT = 5, kFloats = 7, kInts = 8, kType = 20; }
namespace tensor_field { constexpr uint32_t kDims = 1, kDataType = 2, kName = 8, kRawData = 9; }
namespace value_info_field { constexpr uint32_t kName = 1, kType = 2; }
namespace type_field { constexpr uint32_t kTensorType = 1; }            // TypeProto
namespace tensor_type_field { constexpr uint32_t kElemType = 1, kShape = 2; }  // TypeProto.Tensor
namespace shape_field { constexpr uint32_t kDim = 1; }                  // TensorShapeProto
namespace dim_field { constexpr uint32_t kDimValue = 1, kDimParam = 2; }  // .Dimension

proto::Writer encode(const Tensor& t) {
  proto::Writer w;
  w.packed_varints(tensor_field::kDims, t.dims);
  w.varint_field(tensor_field::kDataType, static_cast<int32_t>(t.type));
  w.bytes_field(tensor_field::kName, t.name);
  w.bytes_field(tensor_field::kRawData, t.raw);
  return w;
}

proto::Writer encode(const Attribute& a) {
  proto::Writer w;
  w.bytes_field(attr_field::kName, a.name);
  switch (a.kind) {
    case Attribute::Kind::Float: w.float_field(attr_field::kF, a.f); break;
    case Attribute::Kind::Int: w.varint_field(attr_field::kI, a.i); break;
    case Attribute::Kind::String: w.bytes_field(attr_field::kS, a.s); break;
    case Attribute::Kind::Tensor: w.message_field(attr_field::kT, encode(*a.t)); break;
    case Attribute::Kind::Floats:
      // Repeated scalars in proto2 (onnx.proto) are unpacked: one record per value.
      for (float f : a.floats) w.float_field(attr_field::kFloats, f);
      break;
    case Attribute::Kind::Ints:
      for (int64_t i : a.ints) w.varint_field(attr_field::kInts, i);
      break;
  }
  w.varint_field(attr_field::kType, static_cast<int32_t>(a.kind));
  return w;
}

proto::Writer encode(const Node& n) {
  proto::Writer w;
  for (const auto& i : n.inputs) w.bytes_field(node_field::kInput, i);
  for (const auto& o : n.outputs) w.bytes_field(node_field::kOutput, o);
  w.bytes_field(node_field::kName, n.name);
  w.bytes_field(node_field::kOpType, n.op_type);
  for (const auto& a : n.attributes) w.message_field(node_field::kAttribute, encode(a));
  return w;
}

proto::Writer encode(const ValueInfo& v) {
  proto::Writer shape;
  for (const Dim& d : v.dims) {
    proto::Writer dim;
    if (d.value >= 0) dim.varint_field(dim_field::kDimValue, d.value);
    else if (!d.param.empty()) dim.bytes_field(dim_field::kDimParam, d.param);  // else: unknown
    shape.message_field(shape_field::kDim, dim);
  }
  proto::Writer tensor_type;
  tensor_type.varint_field(tensor_type_field::kElemType, static_cast<int32_t>(v.type));
  tensor_type.message_field(tensor_type_field::kShape, shape);
  proto::Writer type;
  type.message_field(type_field::kTensorType, tensor_type);
  proto::Writer w;
  w.bytes_field(value_info_field::kName, v.name);
  w.message_field(value_info_field::kType, type);
  return w;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string value_info_text(const ValueInfo& v) {
  std::string s = v.name + ": " + std::string(data_type_name(v.type)) + "[";
  for (size_t i = 0; i < v.dims.size(); ++i)
    s += (i ? ", " : "") + (v.dims[i].value >= 0 ? std::to_string(v.dims[i].value)
                            : v.dims[i].param.empty() ? std::string("?") : v.dims[i].param);
  return s + "]";
}

std::string float_text(float f) {
  std::ostringstream o;
  o.precision(9);
  o << f;
  return o.str();
}

std::string attribute_text(const Attribute& a) {
  std::string s = a.name + ": ";
  switch (a.kind) {
    case Attribute::Kind::Float: return s + float_text(a.f);
    case Attribute::Kind::Int: return s + std::to_string(a.i);
    case Attribute::Kind::String: return s + "\"" + a.s + "\"";
    case Attribute::Kind::Tensor: return s + std::string(data_type_name(a.t->type)) + dims_text(a.t->dims);
    case Attribute::Kind::Floats: {
      s += "[";
      for (size_t i = 0; i < a.floats.size(); ++i) s += (i ? ", " : "") + float_text(a.floats[i]);
      return s + "]";
    }
    case Attribute::Kind::Ints: return s + dims_text(a.ints);
  }
  return s;
}

// The values of a constant small enough to read (shapes, axes, scalars), as ` = [...]`.
std::string small_values_text(const Tensor& t) {
  const size_t size = t.type == DataType::Int64 ? 8 : t.type == DataType::Float ? 4 : 0;
  if (size == 0 || t.raw.size() > 8 * size) return "";
  std::string s = " = [";
  for (size_t i = 0; i * size < t.raw.size(); ++i) {
    uint64_t u = 0;
    for (size_t b = 0; b < size; ++b) u |= static_cast<uint64_t>(static_cast<unsigned char>(t.raw[i * size + b])) << (8 * b);
    s += i ? ", " : "";
    s += t.type == DataType::Int64 ? std::to_string(static_cast<int64_t>(u))
                                   : float_text(std::bit_cast<float>(static_cast<uint32_t>(u)));
  }
  return s + "]";
}

}  // namespace

std::string_view data_type_name(DataType t) {
  switch (t) {
    case DataType::Float: return "float";
    case DataType::Uint8: return "uint8";
    case DataType::Int8: return "int8";
    case DataType::Int32: return "int32";
    case DataType::Int64: return "int64";
    case DataType::Bool: return "bool";
    case DataType::Int4: return "int4";
    case DataType::Int2: return "int2";
  }
  return "?";
}

int64_t Tensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Tensor Tensor::floats(std::string name, std::vector<int64_t> dims, const std::vector<float>& values) {
  Tensor t{std::move(name), DataType::Float, std::move(dims), {}};
  t.raw.reserve(values.size() * 4);
  for (float v : values) proto::Writer::append_fixed32(t.raw, std::bit_cast<uint32_t>(v));
  return t;
}

Tensor Tensor::int64s(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& values) {
  Tensor t{std::move(name), DataType::Int64, std::move(dims), {}};
  for (int64_t v : values) {
    const auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) t.raw.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
  return t;
}

Tensor Tensor::codes(std::string name, DataType type, std::vector<int64_t> dims, const std::vector<int8_t>& values) {
  Tensor t{std::move(name), type, std::move(dims), {}};
  // Sub-byte types pack consecutive elements from the low bits of each byte up, the last
  // byte padded with zeros (onnx.proto, "INT4" and "INT2").
  const int bits = type == DataType::Int4 ? 4 : type == DataType::Int2 ? 2 : 8;
  const int per_byte = 8 / bits;
  const unsigned mask = (1u << bits) - 1;
  t.raw.assign((values.size() + per_byte - 1) / per_byte, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    const unsigned code = static_cast<unsigned>(static_cast<int>(values[i])) & mask;
    t.raw[i / per_byte] = static_cast<char>(static_cast<unsigned char>(t.raw[i / per_byte]) | (code << (bits * (i % per_byte))));
  }
  return t;
}

std::vector<float> Tensor::float_values() const {
  std::vector<float> v(raw.size() / 4);
  if (!v.empty()) std::memcpy(v.data(), raw.data(), v.size() * 4);
  return v;
}

std::optional<std::vector<int8_t>> Tensor::code_values() const {
  const int bits = type == DataType::Int8 ? 8 : type == DataType::Int4 ? 4 : type == DataType::Int2 ? 2 : 0;
  if (!bits) return std::nullopt;
  const int per_byte = 8 / bits, shift = 32 - bits;
  std::vector<int8_t> out(static_cast<size_t>(element_count()));
  for (size_t i = 0; i < out.size(); ++i) {
    const unsigned byte = static_cast<unsigned char>(raw[i / per_byte]);
    const auto field = static_cast<int32_t>((byte >> (bits * (i % per_byte))) << shift);
    out[i] = static_cast<int8_t>(field >> shift);  // sign-extend the field
  }
  return out;
}

Attribute Attribute::of_int(std::string name, int64_t v) {
  Attribute a{std::move(name), Kind::Int};
  a.i = v;
  return a;
}
Attribute Attribute::of_float(std::string name, float v) {
  Attribute a{std::move(name), Kind::Float};
  a.f = v;
  return a;
}
Attribute Attribute::of_string(std::string name, std::string v) {
  Attribute a{std::move(name), Kind::String};
  a.s = std::move(v);
  return a;
}
Attribute Attribute::of_ints(std::string name, std::vector<int64_t> v) {
  Attribute a{std::move(name), Kind::Ints};
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::of_tensor(std::string name, onnx::Tensor v) {
  Attribute a{std::move(name), Kind::Tensor};
  a.t = std::move(v);
  return a;
}

std::string serialize(const Model& model) {
  proto::Writer graph;
  for (const auto& n : model.graph.nodes) graph.message_field(graph_field::kNode, encode(n));
  graph.bytes_field(graph_field::kName, model.graph.name);
  for (const auto& t : model.graph.initializers) graph.message_field(graph_field::kInitializer, encode(t));
  for (const auto& v : model.graph.inputs) graph.message_field(graph_field::kInput, encode(v));
  for (const auto& v : model.graph.outputs) graph.message_field(graph_field::kOutput, encode(v));

  proto::Writer opset;
  opset.bytes_field(opset_field::kDomain, "");
  opset.varint_field(opset_field::kVersion, model.opset);

  proto::Writer w;
  w.varint_field(model_field::kIrVersion, model.ir_version);
  w.bytes_field(model_field::kProducerName, model.producer_name);
  w.bytes_field(model_field::kProducerVersion, model.producer_version);
  if (!model.doc_string.empty()) w.bytes_field(model_field::kDocString, model.doc_string);
  w.message_field(model_field::kGraph, graph);
  w.message_field(model_field::kOpsetImport, opset);
  return w.take();
}

std::string to_text(const Model& model) {
  std::string s = "; ONNX model `" + model.graph.name + "`: ir_version " + std::to_string(model.ir_version) +
                  ", opset " + std::to_string(model.opset) + "\n";
  for (const auto& v : model.graph.inputs) s += "input " + value_info_text(v) + "\n";
  for (const auto& t : model.graph.initializers) {
    s += "initializer " + t.name + ": " + std::string(data_type_name(t.type)) + dims_text(t.dims);
    s += small_values_text(t);
    s += " (" + std::to_string(t.raw.size()) + " bytes)\n";
  }
  for (const auto& n : model.graph.nodes) {
    std::string outs, ins;
    for (size_t i = 0; i < n.outputs.size(); ++i) outs += (i ? ", " : "") + n.outputs[i];
    for (size_t i = 0; i < n.inputs.size(); ++i) ins += (i ? ", " : "") + (n.inputs[i].empty() ? "_" : n.inputs[i]);
    s += outs + " = " + n.op_type + "(" + ins + ")";
    if (!n.attributes.empty()) {
      s += " {";
      for (size_t i = 0; i < n.attributes.size(); ++i) s += (i ? ", " : "") + attribute_text(n.attributes[i]);
      s += "}";
    }
    s += "\n";
  }
  for (const auto& v : model.graph.outputs) s += "output " + value_info_text(v) + "\n";
  size_t total = 0;
  for (const auto& t : model.graph.initializers) total += t.raw.size();
  s += "; " + std::to_string(model.graph.nodes.size()) + " nodes, " + std::to_string(model.graph.initializers.size()) +
       " initializers, " + std::to_string(total) + " bytes of weights\n";
  return s;
}

}  // namespace triton::codegen::onnx

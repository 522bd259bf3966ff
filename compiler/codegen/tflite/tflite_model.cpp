// Implements tflite_model.h: the options constructors (field ids of schema.fbs), the
// FlatBuffer serialization and the text dump. Every field of an options table is written,
// default or not, so the file says exactly what the backend chose.
#include "codegen/tflite/tflite_model.h"

#include <bit>
#include <climits>
#include <cstring>
#include <iomanip>
#include <map>
#include <sstream>

#include "codegen/tflite/flatbuffer_builder.h"

namespace triton::codegen::tflite {

namespace {

OptionField int8_field(uint16_t id, std::string name, int32_t value) {
  return {id, std::move(name), OptionField::Kind::Int8, value, 0, {}};
}
OptionField int32_field(uint16_t id, std::string name, int32_t value) {
  return {id, std::move(name), OptionField::Kind::Int32, value, 0, {}};
}
OptionField bool_field(uint16_t id, std::string name, bool value) {
  return {id, std::move(name), OptionField::Kind::Bool, value ? 1 : 0, 0, {}};
}
OptionField float_field(uint16_t id, std::string name, float value) {
  return {id, std::move(name), OptionField::Kind::Float, 0, value, {}};
}
OptionField padding_field(Padding padding) {
  return int8_field(0, "padding", static_cast<int32_t>(padding));
}
OptionField activation_field(uint16_t id) {
  return int8_field(id, "fused_activation_function", static_cast<int32_t>(Activation::None));
}

}  // namespace

std::string_view tensor_type_name(TensorType t) {
  switch (t) {
    case TensorType::Float32: return "float32";
    case TensorType::Int32: return "int32";
    case TensorType::Int64: return "int64";
    case TensorType::Bool: return "bool";
    case TensorType::Int8: return "int8";
  }
  return "?";
}

size_t tensor_type_size(TensorType t) {
  switch (t) {
    case TensorType::Float32: case TensorType::Int32: return 4;
    case TensorType::Int64: return 8;
    case TensorType::Bool: case TensorType::Int8: return 1;
  }
  return 1;
}

std::string_view builtin_operator_name(BuiltinOperator op) {
  switch (op) {
    case BuiltinOperator::Add: return "ADD";
    case BuiltinOperator::AveragePool2d: return "AVERAGE_POOL_2D";
    case BuiltinOperator::Concatenation: return "CONCATENATION";
    case BuiltinOperator::Conv2d: return "CONV_2D";
    case BuiltinOperator::DepthwiseConv2d: return "DEPTHWISE_CONV_2D";
    case BuiltinOperator::Dequantize: return "DEQUANTIZE";
    case BuiltinOperator::Quantize: return "QUANTIZE";
    case BuiltinOperator::FullyConnected: return "FULLY_CONNECTED";
    case BuiltinOperator::Logistic: return "LOGISTIC";
    case BuiltinOperator::MaxPool2d: return "MAX_POOL_2D";
    case BuiltinOperator::Mul: return "MUL";
    case BuiltinOperator::Relu: return "RELU";
    case BuiltinOperator::ReluN1To1: return "RELU_N1_TO_1";
    case BuiltinOperator::Relu6: return "RELU6";
    case BuiltinOperator::Reshape: return "RESHAPE";
    case BuiltinOperator::Softmax: return "SOFTMAX";
    case BuiltinOperator::Tanh: return "TANH";
    case BuiltinOperator::Pad: return "PAD";
    case BuiltinOperator::Gather: return "GATHER";
    case BuiltinOperator::Transpose: return "TRANSPOSE";
    case BuiltinOperator::Mean: return "MEAN";
    case BuiltinOperator::Sub: return "SUB";
    case BuiltinOperator::Div: return "DIV";
    case BuiltinOperator::StridedSlice: return "STRIDED_SLICE";
    case BuiltinOperator::Exp: return "EXP";
    case BuiltinOperator::Cast: return "CAST";
    case BuiltinOperator::Maximum: return "MAXIMUM";
    case BuiltinOperator::Minimum: return "MINIMUM";
    case BuiltinOperator::Neg: return "NEG";
    case BuiltinOperator::PadV2: return "PADV2";
    case BuiltinOperator::Greater: return "GREATER";
    case BuiltinOperator::Slice: return "SLICE";
    case BuiltinOperator::Tile: return "TILE";
    case BuiltinOperator::Log: return "LOG";
    case BuiltinOperator::Sqrt: return "SQRT";
    case BuiltinOperator::Rsqrt: return "RSQRT";
    case BuiltinOperator::LeakyRelu: return "LEAKY_RELU";
    case BuiltinOperator::Abs: return "ABS";
    case BuiltinOperator::Round: return "ROUND";
    case BuiltinOperator::HardSwish: return "HARD_SWISH";
    case BuiltinOperator::BatchMatMul: return "BATCH_MATMUL";
    case BuiltinOperator::Gelu: return "GELU";
    case BuiltinOperator::Sign: return "SIGN";
    case BuiltinOperator::LogSoftmax: return "LOG_SOFTMAX";
    case BuiltinOperator::ArgMax: return "ARG_MAX";
    case BuiltinOperator::Sum: return "SUM";
    case BuiltinOperator::Pow: return "POW";
    case BuiltinOperator::ReduceMax: return "REDUCE_MAX";
    case BuiltinOperator::ReduceMin: return "REDUCE_MIN";
    case BuiltinOperator::SelectV2: return "SELECT_V2";
    case BuiltinOperator::BroadcastTo: return "BROADCAST_TO";
    case BuiltinOperator::Less: return "LESS";
    case BuiltinOperator::GreaterEqual: return "GREATER_EQUAL";
    case BuiltinOperator::LessEqual: return "LESS_EQUAL";
    case BuiltinOperator::Equal: return "EQUAL";
    case BuiltinOperator::LogicalNot: return "LOGICAL_NOT";
  }
  return "?";
}

Options conv2d_options(Padding padding, int stride_w, int stride_h, int dilation_w, int dilation_h) {
  return {OptionsType::Conv2d,
          {padding_field(padding), int32_field(1, "stride_w", stride_w), int32_field(2, "stride_h", stride_h),
           activation_field(3), int32_field(4, "dilation_w_factor", dilation_w),
           int32_field(5, "dilation_h_factor", dilation_h)}};
}

Options depthwise_conv2d_options(Padding padding, int stride_w, int stride_h, int depth_multiplier, int dilation_w,
                                 int dilation_h) {
  return {OptionsType::DepthwiseConv2d,
          {padding_field(padding), int32_field(1, "stride_w", stride_w), int32_field(2, "stride_h", stride_h),
           int32_field(3, "depth_multiplier", depth_multiplier), activation_field(4),
           int32_field(5, "dilation_w_factor", dilation_w), int32_field(6, "dilation_h_factor", dilation_h)}};
}

Options pool2d_options(Padding padding, int stride_w, int stride_h, int filter_w, int filter_h) {
  return {OptionsType::Pool2d,
          {padding_field(padding), int32_field(1, "stride_w", stride_w), int32_field(2, "stride_h", stride_h),
           int32_field(3, "filter_width", filter_w), int32_field(4, "filter_height", filter_h), activation_field(5)}};
}

Options fully_connected_options(bool keep_num_dims) {
  return {OptionsType::FullyConnected,
          {activation_field(0), int8_field(1, "weights_format", 0), bool_field(2, "keep_num_dims", keep_num_dims)}};
}

Options softmax_options(float beta) { return {OptionsType::Softmax, {float_field(0, "beta", beta)}}; }

Options concatenation_options(int axis) {
  return {OptionsType::Concatenation, {int32_field(0, "axis", axis), activation_field(1)}};
}

Options reshape_options(const std::vector<int32_t>& new_shape) {
  OptionField f{0, "new_shape", OptionField::Kind::Int32Vector, 0, 0, new_shape};
  return {OptionsType::Reshape, {std::move(f)}};
}

Options reducer_options(bool keep_dims) { return {OptionsType::Reducer, {bool_field(0, "keep_dims", keep_dims)}}; }

Options gather_options(int axis) {
  return {OptionsType::Gather, {int32_field(0, "axis", axis), int32_field(1, "batch_dims", 0)}};
}

Options leaky_relu_options(float alpha) { return {OptionsType::LeakyRelu, {float_field(0, "alpha", alpha)}}; }

Options batch_matmul_options(bool adj_x, bool adj_y) {
  return {OptionsType::BatchMatMul, {bool_field(0, "adj_x", adj_x), bool_field(1, "adj_y", adj_y)}};
}

Options gelu_options(bool approximate) { return {OptionsType::Gelu, {bool_field(0, "approximate", approximate)}}; }

Options arg_max_options(TensorType output_type) {
  return {OptionsType::ArgMax, {int8_field(0, "output_type", static_cast<int32_t>(output_type))}};
}

Options arithmetic_options(OptionsType type) { return {type, {activation_field(0)}}; }

// ---- serialization ---------------------------------------------------------------------------

namespace {

using Offset = FlatBufferBuilder::Offset;

Offset write_options(FlatBufferBuilder& b, const Options& options) {
  std::map<uint16_t, Offset> vectors;
  for (const OptionField& f : options.fields) {
    if (f.kind == OptionField::Kind::Int32Vector) vectors[f.id] = b.create_scalar_vector(f.ints);
  }
  b.start_table();
  for (const OptionField& f : options.fields) {
    switch (f.kind) {
      case OptionField::Kind::Int8: b.add_scalar<int8_t>(f.id, static_cast<int8_t>(f.i), int8_t{-128}); break;
      case OptionField::Kind::Bool: b.add_scalar<uint8_t>(f.id, static_cast<uint8_t>(f.i), uint8_t{255}); break;
      case OptionField::Kind::Int32: b.add_scalar<int32_t>(f.id, f.i, INT32_MIN); break;
      case OptionField::Kind::Float: b.add_scalar<uint32_t>(f.id, std::bit_cast<uint32_t>(f.f), 0xffffffffu); break;
      case OptionField::Kind::Int32Vector: b.add_offset(f.id, vectors[f.id]); break;
    }
  }
  return b.end_table();
}

Offset write_tensor(FlatBufferBuilder& b, const Tensor& t) {
  const Offset shape = b.create_scalar_vector(t.shape);
  const Offset name = b.create_string(t.name);
  Offset quantization = 0;
  if (t.quantization) {
    const Offset scale = b.create_scalar_vector(t.quantization->scale);
    const Offset zero_point = b.create_scalar_vector(t.quantization->zero_point);
    b.start_table();
    b.add_offset(2, scale);
    b.add_offset(3, zero_point);
    b.add_scalar<int32_t>(6, t.quantization->quantized_dimension, 0);
    quantization = b.end_table();
  }
  b.start_table();
  b.add_offset(0, shape);
  b.add_scalar<int8_t>(1, static_cast<int8_t>(t.type), int8_t{-1});  // written even for FLOAT32
  b.add_scalar<uint32_t>(2, t.buffer, 0);
  b.add_offset(3, name);
  b.add_offset(4, quantization);
  b.add_scalar<uint8_t>(8, 1, 0);  // has_rank: a shape [] is a scalar, not an unknown rank
  return b.end_table();
}

}  // namespace

std::string serialize(const Model& model) {
  FlatBufferBuilder b;
  // Operator codes: one per distinct builtin, in order of first use.
  std::vector<BuiltinOperator> codes;
  std::map<BuiltinOperator, uint32_t> code_index;
  for (const Operator& op : model.operators) {
    if (code_index.emplace(op.op, static_cast<uint32_t>(codes.size())).second) codes.push_back(op.op);
  }

  std::vector<Offset> buffers;
  for (const std::string& data : model.buffers) {
    const Offset bytes = data.empty() ? 0 : b.create_byte_vector(data, 16);
    b.start_table();
    b.add_offset(0, bytes);
    buffers.push_back(b.end_table());
  }
  std::vector<Offset> tensors;
  for (const Tensor& t : model.tensors) tensors.push_back(write_tensor(b, t));
  std::vector<Offset> operators;
  for (const Operator& op : model.operators) {
    const Offset inputs = b.create_scalar_vector(op.inputs);
    const Offset outputs = b.create_scalar_vector(op.outputs);
    const Offset options = op.options.type == OptionsType::None ? 0 : write_options(b, op.options);
    b.start_table();
    b.add_scalar<uint32_t>(0, code_index.at(op.op), UINT32_MAX);
    b.add_offset(1, inputs);
    b.add_offset(2, outputs);
    b.add_scalar<uint8_t>(3, static_cast<uint8_t>(op.options.type), 0);
    b.add_offset(4, options);
    operators.push_back(b.end_table());
  }
  std::vector<Offset> operator_codes;
  for (BuiltinOperator code : codes) {
    const int32_t value = static_cast<int32_t>(code);
    b.start_table();
    // Codes past 126 live in `builtin_code` only; the byte field holds the placeholder 127.
    b.add_scalar<int8_t>(0, static_cast<int8_t>(value < 127 ? value : 127), int8_t{-1});
    b.add_scalar<int32_t>(2, 1, 0);
    b.add_scalar<int32_t>(3, value, -1);
    operator_codes.push_back(b.end_table());
  }

  const Offset tensor_vector = b.create_offset_vector(tensors);
  const Offset inputs = b.create_scalar_vector(model.inputs);
  const Offset outputs = b.create_scalar_vector(model.outputs);
  const Offset operator_vector = b.create_offset_vector(operators);
  const Offset subgraph_name = b.create_string(model.subgraph_name);
  b.start_table();
  b.add_offset(0, tensor_vector);
  b.add_offset(1, inputs);
  b.add_offset(2, outputs);
  b.add_offset(3, operator_vector);
  b.add_offset(4, subgraph_name);
  const Offset subgraph = b.end_table();

  const Offset code_vector = b.create_offset_vector(operator_codes);
  const Offset subgraph_vector = b.create_offset_vector({subgraph});
  const Offset description = b.create_string(model.description);
  const Offset buffer_vector = b.create_offset_vector(buffers);
  b.start_table();
  b.add_scalar<uint32_t>(0, 3, 0);  // schema version 3
  b.add_offset(1, code_vector);
  b.add_offset(2, subgraph_vector);
  b.add_offset(3, description);
  b.add_offset(4, buffer_vector);
  return b.finish(b.end_table(), "TFL3");
}

// ---- text dump -------------------------------------------------------------------------------

namespace {

std::string shape_text(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string float_text(float v) {
  std::ostringstream out;
  out << std::setprecision(9) << v;
  return out.str();
}

std::string tensor_text(const Tensor& t) {
  return t.name + ": " + std::string(tensor_type_name(t.type)) + shape_text(t.shape);
}

// The values of a small constant (at most 8 elements), else nothing.
std::string values_text(const Tensor& t, const std::string& data) {
  const size_t size = tensor_type_size(t.type);
  const size_t count = data.size() / size;
  if (count > 8) return "";
  std::string s = " = [";
  for (size_t i = 0; i < count; ++i) {
    if (i) s += ", ";
    const char* p = data.data() + i * size;
    if (t.type == TensorType::Float32) {
      float v;
      std::memcpy(&v, p, 4);
      s += float_text(v);
    } else if (t.type == TensorType::Int32) {
      int32_t v;
      std::memcpy(&v, p, 4);
      s += std::to_string(v);
    } else if (t.type == TensorType::Int64) {
      int64_t v;
      std::memcpy(&v, p, 8);
      s += std::to_string(v);
    } else {
      s += std::to_string(static_cast<int>(static_cast<int8_t>(*p)));
    }
  }
  return s + "]";
}

std::string option_text(const OptionField& f) {
  std::string s = f.name + ": ";
  switch (f.kind) {
    case OptionField::Kind::Float: return s + float_text(f.f);
    case OptionField::Kind::Bool: return s + (f.i ? "true" : "false");
    case OptionField::Kind::Int32Vector: return s + shape_text(f.ints);
    case OptionField::Kind::Int8:
      if (f.name == "padding") return s + (f.i == 0 ? "SAME" : "VALID");
      if (f.name == "fused_activation_function") return s + (f.i == 0 ? "NONE" : std::to_string(f.i));
      return s + std::to_string(f.i);
    case OptionField::Kind::Int32: return s + std::to_string(f.i);
  }
  return s;
}

}  // namespace

std::string to_text(const Model& model) {
  std::ostringstream out;
  size_t constant_bytes = 0;
  for (const std::string& b : model.buffers) constant_bytes += b.size();
  out << "; TFLite model `" << model.subgraph_name << "`: schema version 3, " << model.description << "\n";
  for (int32_t i : model.inputs) out << "input " << tensor_text(model.tensors[i]) << "\n";
  for (const Tensor& t : model.tensors) {
    if (t.buffer == 0) continue;
    const std::string& data = model.buffers[t.buffer];
    out << "constant " << tensor_text(t);
    if (t.quantization) {
      out << " quantized(axis " << t.quantization->quantized_dimension << ", " << t.quantization->scale.size()
          << (t.quantization->scale.size() == 1 ? " scale)" : " scales)");
    }
    out << values_text(t, data) << " (" << data.size() << " bytes)\n";
  }
  for (const Operator& op : model.operators) {
    for (size_t i = 0; i < op.outputs.size(); ++i) out << (i ? ", " : "") << tensor_text(model.tensors[op.outputs[i]]);
    out << " = " << builtin_operator_name(op.op) << "(";
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      out << (i ? ", " : "") << (op.inputs[i] < 0 ? std::string("-") : model.tensors[op.inputs[i]].name);
    }
    out << ")";
    if (!op.options.fields.empty()) {
      out << " {";
      for (size_t i = 0; i < op.options.fields.size(); ++i) out << (i ? ", " : "") << option_text(op.options.fields[i]);
      out << "}";
    }
    out << "\n";
  }
  for (int32_t i : model.outputs) out << "output " << tensor_text(model.tensors[i]) << "\n";
  out << "; " << model.operators.size() << " operators, " << model.tensors.size() << " tensors, " << constant_bytes
      << " bytes of constants\n";
  return out.str();
}

}  // namespace triton::codegen::tflite

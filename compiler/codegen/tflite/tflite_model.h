// A TFLite model in memory, as the TFLite backend builds it, and its two writers:
// `serialize` (the FlatBuffer of the official TFLite schema, schema.fbs, through
// flatbuffer_builder.h) and `to_text` (`--emit=tflite-text`, a readable dump that the golden
// tests compare). The structs cover the subset of the schema the backend emits: one
// subgraph, builtin operators only, dense buffers, per-tensor or per-channel affine
// quantization. Enum values and field ids are those of schema.fbs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace triton::codegen::tflite {

// schema.fbs `TensorType`.
enum class TensorType : int8_t { Float32 = 0, Int32 = 2, Int64 = 4, Bool = 6, Int8 = 9 };
std::string_view tensor_type_name(TensorType t);
size_t tensor_type_size(TensorType t);

// schema.fbs `BuiltinOperator` (the ones the backend emits).
enum class BuiltinOperator : int32_t {
  Add = 0, AveragePool2d = 1, Concatenation = 2, Conv2d = 3, DepthwiseConv2d = 4, Dequantize = 6,
  FullyConnected = 9, Logistic = 14, MaxPool2d = 17, Mul = 18, Relu = 19, ReluN1To1 = 20, Relu6 = 21,
  Reshape = 22, Softmax = 25, Tanh = 28, Pad = 34, Gather = 36, Transpose = 39, Mean = 40, Sub = 41,
  Div = 42, StridedSlice = 45, Exp = 47, LogSoftmax = 50, Cast = 53, Maximum = 55, ArgMax = 56, Minimum = 57,
  Less = 58, Neg = 59, PadV2 = 60, Greater = 61, GreaterEqual = 62, LessEqual = 63, Slice = 65, Tile = 69,
  Equal = 71, Log = 73, Sum = 74, Sqrt = 75, Rsqrt = 76,
  Pow = 78, ReduceMax = 82, LogicalNot = 87, ReduceMin = 89, LeakyRelu = 98, Abs = 101, Quantize = 114, Round = 116,
  HardSwish = 117,
  SelectV2 = 123, BatchMatMul = 126, BroadcastTo = 130, Gelu = 150, Sign = 158,
};
std::string_view builtin_operator_name(BuiltinOperator op);

// schema.fbs `BuiltinOptions` union tags (the ones the backend emits).
enum class OptionsType : uint8_t {
  None = 0, Conv2d = 1, DepthwiseConv2d = 2, Pool2d = 5, FullyConnected = 8, Softmax = 9,
  Concatenation = 10, Add = 11, Reshape = 17, Mul = 21, Gather = 23, Reducer = 27, Sub = 28, Div = 29,
  StridedSlice = 32, ArgMax = 40, LeakyRelu = 75, BatchMatMul = 101, Gelu = 116,
};

// schema.fbs `Padding` and `ActivationFunctionType`.
enum class Padding : int8_t { Same = 0, Valid = 1 };
enum class Activation : int8_t { None = 0, Relu = 1, ReluN1To1 = 2, Relu6 = 3 };

// One field of an options table: its id in the table, its schema name (for the text dump),
// and a scalar or a vector of int32.
struct OptionField {
  enum class Kind { Int8, Int32, Float, Bool, Int32Vector };
  uint16_t id = 0;
  std::string name;
  Kind kind = Kind::Int32;
  int32_t i = 0;
  float f = 0;
  std::vector<int32_t> ints;
};

struct Options {
  OptionsType type = OptionsType::None;
  std::vector<OptionField> fields;
};

// Typed constructors for the options tables, by their schema.fbs definitions.
Options conv2d_options(Padding padding, int stride_w, int stride_h, int dilation_w, int dilation_h);
Options depthwise_conv2d_options(Padding padding, int stride_w, int stride_h, int depth_multiplier, int dilation_w,
                                 int dilation_h);
Options pool2d_options(Padding padding, int stride_w, int stride_h, int filter_w, int filter_h);
Options fully_connected_options(bool keep_num_dims);
Options softmax_options(float beta);
Options concatenation_options(int axis);
Options reshape_options(const std::vector<int32_t>& new_shape);
Options reducer_options(bool keep_dims);
Options gather_options(int axis);
Options leaky_relu_options(float alpha);
Options batch_matmul_options(bool adj_x, bool adj_y);
Options gelu_options(bool approximate);
Options arg_max_options(TensorType output_type);
// ADD, SUB, MUL, DIV: a fused activation (NONE here).
Options arithmetic_options(OptionsType type);

struct Quantization {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;
};

struct Tensor {
  std::string name;
  TensorType type = TensorType::Float32;
  std::vector<int32_t> shape;
  uint32_t buffer = 0;  // 0: no data (the empty sentinel buffer)
  std::optional<Quantization> quantization;
};

struct Operator {
  BuiltinOperator op = BuiltinOperator::Add;
  std::vector<int32_t> inputs, outputs;
  Options options;
};

struct Model {
  std::string description;
  std::string subgraph_name;
  std::vector<Tensor> tensors;
  std::vector<int32_t> inputs, outputs;
  std::vector<Operator> operators;
  std::vector<std::string> buffers{std::string()};  // buffer 0 is the empty sentinel
};

// The FlatBuffer bytes (file identifier `TFL3`, schema version 3).
std::string serialize(const Model& model);
// One line per input, constant tensor (name, type, shape, quantization, bytes), operator and
// output.
std::string to_text(const Model& model);

}  // namespace triton::codegen::tflite

// The converter behind the TFLite backend (tflite_backend.h): one ONNX graph -> one TFLite
// model. It has many members, so they are defined in three files, split by what they lower:
//   tflite_backend.cpp       the walk (its algorithm is described there), values and
//                            constants, tensors and their layouts, elementwise operators, the
//                            dispatch by ONNX operator, GELU, Clip and Cast
//   lower_layers.cpp         8-bit activations and the -O3 int8 groups, convolutions and
//                            their padding, pooling, reductions, fully connected layers,
//                            softmax and the normalizations
//   lower_data_movement.cpp  operators that move or select data: Reshape, Transpose, Concat,
//                            Shape, Gather, Slice, Where, Expand, Tile and ArgMax
// Private to codegen/tflite/: nothing outside the backend includes it.
#pragma once

#include "codegen/tflite/tflite_backend.h"

#include "codegen/tflite/integer_groups.h"
#include "codegen/tflite/layout.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>

namespace triton::codegen::onnx_to_tflite {

using tflite::BuiltinOperator;
using tflite::find_integer_groups;
using tflite::IntegerGroup;
using tflite::IntegerGroups;
using tflite::OptionsType;
using tflite::TensorType;
using tflite::layout::broadcast;
using tflite::layout::element_count;
using tflite::layout::full;
using tflite::layout::identity;
using tflite::layout::inverse;
using tflite::layout::normalized;
using tflite::layout::Perm;
using tflite::layout::permute_data;
using tflite::layout::permuted;
using tflite::layout::same_element_order;
using tflite::layout::Shape;

struct Value {
  enum class Kind { Runtime, Constant, Quantized };
  Kind kind = Kind::Runtime;
  Shape shape;  // the logical (ONNX) shape
  // Runtime: the tensor and the order its data is stored in.
  int32_t tensor = -1;
  Perm perm;
  TensorType type = TensorType::Float32;
  std::map<Perm, int32_t> views;  // tensors already holding this value in another layout
  // Constant: float or integer data (row-major, logical shape).
  bool is_int = false;
  bool is_uint8 = false;  // an ONNX uint8 constant (a zero point), values as they are
  std::vector<float> floats;
  std::vector<int64_t> ints;
  // Quantized: int8 codes, one scale per slice along `axis` (or one scale).
  std::vector<int8_t> codes;
  std::vector<float> scales;
  int axis = 0;
  std::string name;  // for the tensors made from a constant
};

inline const onnx::Attribute* find_attribute(const onnx::Node& n, std::string_view name) {
  for (const auto& a : n.attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

inline int64_t int_attribute(const onnx::Node& n, std::string_view name, int64_t fallback) {
  const auto* a = find_attribute(n, name);
  return a ? a->i : fallback;
}

inline float float_attribute(const onnx::Node& n, std::string_view name, float fallback) {
  const auto* a = find_attribute(n, name);
  return a ? a->f : fallback;
}

inline std::vector<int64_t> ints_attribute(const onnx::Node& n, std::string_view name) {
  const auto* a = find_attribute(n, name);
  return a ? a->ints : std::vector<int64_t>{};
}

// Thrown out of a lowering with the user-facing message; caught by `convert`.
struct Unsupported {
  std::string message;
};

class Converter {
 public:
  Converter(const onnx::Model& model, const std::string& producer_version)
      : onnx_(model), producer_version_(producer_version) {}

  std::optional<tflite::Model> convert(std::string* error);

 private:
  // ---- the walk --------------------------------------------------------------------------------
  void run();
  [[noreturn]] void fail(const std::string& what);

  // `axis` counted from the end when negative; an error outside [0, rank).
  int64_t checked_axis(int64_t axis, int64_t rank);

  Value& value(const std::string& name);
  bool has_input(const onnx::Node& n, size_t i) const;
  Value& in(size_t i);
  void define(const std::string& name, Value v);
  const Value& constant_input(size_t i);
  std::vector<int64_t> int_constant(size_t i);
  float scalar_constant(size_t i);

  // ---- constants -----------------------------------------------------------------------------------
  Value constant_of(const onnx::Tensor& t);
  static Value make_constant(Shape shape, std::vector<float> data, std::string name);
  static Value make_int_constant(Shape shape, std::vector<int64_t> data, std::string name);

  // ---- tensors and operators ------------------------------------------------------------------------
  std::string unique(const std::string& hint);
  int32_t add_tensor(const std::string& name, TensorType type, const Shape& shape, std::string data = {},
                     std::optional<tflite::Quantization> quantization = std::nullopt);

  template <typename T>
  static std::string bytes_of(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }

  int32_t float_tensor(const std::string& name, const Shape& shape, const std::vector<float>& data);

  // An int32 constant (shapes, axes, permutations), shared between operators.
  int32_t int32_tensor(const Shape& shape, const std::vector<int64_t>& data);

  int32_t emit(BuiltinOperator op, std::vector<int32_t> inputs, const std::string& name, TensorType type,
               const Shape& shape, tflite::Options options = {});
  std::string result_name() const;
  int32_t reshape(int32_t tensor, const Shape& shape, const std::string& name);

  // The value's data stored in layout `perm` (empty: the logical layout).
  int32_t tensor_in(Value& v, Perm perm);

  // A quantized constant's int8 codes in layout `perm`, with per-channel quantization.
  int32_t codes_tensor(const Value& v, const Perm& perm);

  Value runtime(int32_t tensor, Shape shape, Perm perm);

  // ---- elementwise ------------------------------------------------------------------------------------
  Value unary(BuiltinOperator op, Value& x, tflite::Options options = {}, TensorType type = TensorType::Float32);
  std::optional<Value> fold_binary(std::string_view op, const Value& a, const Value& b);

  // A constant stretched to `rank` dimensions (leading 1s), as broadcasting reads it.
  static Value with_rank(const Value& v, size_t rank);

  Value binary(BuiltinOperator op, OptionsType options_type, Value& a, Value& b,
               TensorType type = TensorType::Float32);

  // ---- dispatch -----------------------------------------------------------------------------------------
  void lower(const onnx::Node& n);

  // ---- GELU -------------------------------------------------------------------------------------------
  void match_gelu();

  // ---- lowerings ----------------------------------------------------------------------------------------
  void lower_clip(const onnx::Node& n);
  void lower_cast(const onnx::Node& n);

  // ---- layers: lower_layers.cpp ----------------------------------------------------------------
  // An 8-bit activation (the ONNX backend's QuantizeLinear -> DequantizeLinear pair on a
  // run-time value): QUANTIZE to an int8 tensor with one scale and zero point 0, then
  // DEQUANTIZE. TFLite rounds halves away from zero where PyTorch rounds them to even, so
  // an input exactly halfway between two levels may land one level apart.
  void lower_quantize_activation(const onnx::Node& n);

  // An ONNX zero point as the int8 tensor's: uint8 z is int8 z - 128 (same real values).
  int64_t int8_zero_point(const Value& zp);

  // An integer QDQ group (integer_groups.h) as one int8 operator: the input is the int8
  // tensor of the QuantizeLinear before the group's DequantizeLinear, the filter its codes,
  // the bias int32 at scale s_in * s_w[c], the output int8 at the group's QuantizeLinear.
  void lower_integer_group(const onnx::Node& n, const IntegerGroup& g);

  void lower_dequantize(const onnx::Node& n);

  struct Window {
    int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
    int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  };

  // The kernel, strides, dilations and pads of a 1-D or 2-D Conv or pool (1-D: height 1).
  Window window(const onnx::Node& n, size_t spatial, const Shape& kernel);

  // NHWC input of a 1-D or 2-D window op: [N, H, W, C] (1-D: H = 1).
  int32_t nhwc_input(Value& x, size_t spatial);

  // The NHWC result [N, H, W, C] as the logical [N, C, H, W] (or [N, C, W]).
  Value from_nhwc(int32_t t, size_t spatial);

  // Output size of a window op along one dimension (ONNX: floor, no ceil_mode).
  static int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                            int64_t pad_end);

  // Whether explicit pads equal TFLite's SAME padding (the extra pixel goes to the end).
  static bool pads_are_same(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t begin, int64_t end);

  // Pads the NHWC tensor explicitly (PAD with zeros, PADV2 with `fill`) for a VALID op.
  int32_t pad_nhwc(int32_t t, const Window& w, std::optional<float> fill);

  // SAME, VALID, or VALID after an explicit pad (pads that SAME would place otherwise).
  tflite::Padding choose_padding(int32_t& t, const Window& w, bool same_allowed, std::optional<float> fill);

  void lower_conv(const onnx::Node& n);

  // CONV_2D or DEPTHWISE_CONV_2D of `x` by the constant or quantized weight `w` (OIHW or
  // OIK), the bias tensor that `make_bias` gives after the filter's (-1: zeros), output of
  // `type` (Int8: quantized by `out_q`).
  Value conv2d(const onnx::Node& n, Value& x, Value w, const std::function<int32_t()>& make_bias, TensorType type,
               const std::optional<tflite::Quantization>& out_q);

  void lower_pool(const onnx::Node& n);
  Value reduce_mean(Value& x, std::vector<int64_t> axes, bool keep_dims, const std::string& name);

  // A reduction (MEAN, SUM, REDUCE_MAX, REDUCE_MIN) over logical `axes`, in the stored layout.
  Value reduce(BuiltinOperator op, Value& x, std::vector<int64_t> axes, bool keep_dims, const std::string& name);

  // FULLY_CONNECTED: x [..., K] times weights [N, K] (+ bias [N]).
  Value fully_connected(Value& x, Value& weights_nk, int32_t bias, const std::string& name);

  // A constant or quantized 2-D weight, transposed at compile time.
  Value transposed_weight(const Value& w);

  void lower_gemm(const onnx::Node& n);
  void lower_matmul(const onnx::Node& n);

  // The layout to run a last-axis operator (softmax, layer norm) in: the stored one when it
  // keeps the last logical axis last.
  static Perm last_axis_layout(const Value& x);

  void lower_softmax(const onnx::Node& n);

  // MEAN, SUB, MUL, RSQRT: (x - mean) / sqrt(var + eps) * gamma + beta over the last axis.
  void lower_layer_norm(const onnx::Node& n);

  // Inference batch norm as MUL + ADD with per-channel constants computed here.
  void lower_batch_norm(const onnx::Node& n);

  // ---- data movement: lower_data_movement.cpp -------------------------------------------------
  void lower_reshape(const onnx::Node& n);
  void lower_transpose(const onnx::Node& n);
  void lower_concat(const onnx::Node& n);
  void lower_shape(const onnx::Node& n);

  // A lookup table (`Embedding`): constant rows gathered by run-time integer indices; the
  // output has the indices' shape plus the row.
  void lower_table_lookup(const onnx::Node& n);

  void lower_gather(const onnx::Node& n);
  void lower_slice(const onnx::Node& n);

  // SELECT_V2 (broadcasting) in the logical layout.
  void lower_where(const onnx::Node& n);

  // A constant broadcast at compile time; a runtime value through BROADCAST_TO.
  void lower_expand(const onnx::Node& n);

  // ARG_MAX drops the axis; `keepdims` puts it back with a RESHAPE.
  void lower_arg_max(const onnx::Node& n);

  // A constant repeated `repeats` times along each axis (output index i reads i mod dims).
  static Value tiled_constant(const Value& x, const Shape& repeats, const std::string& name);

  void lower_tile(const onnx::Node& n);

  const onnx::Model& onnx_;
  std::string producer_version_;
  tflite::Model out_;
  std::map<std::string, Value> values_;
  std::set<std::string> names_;
  std::map<std::string, int32_t> int32_cache_;
  std::set<size_t> skipped_;
  IntegerGroups integer_groups_;
  std::map<size_t, std::string> gelu_input_;
  const onnx::Node* node_ = nullptr;
};

}  // namespace triton::codegen::onnx_to_tflite

// Implements the TFLite backend (tflite_backend.h): the ONNX graph -> TFLite conversion.
//
// Algorithm:
//   1. Each ONNX value becomes a `Value`: a constant (initializer data, folded at compile
//      time), a quantized constant (int8 codes + scales of a DequantizeLinear, kept until a
//      consumer fixes its layout), or a runtime tensor with the permutation its data is
//      stored in (`perm[k]` is the logical dimension stored as physical dimension k).
//   2. Nodes are converted in order. An operator asks for its inputs in the layout it needs
//      (`tensor_in`); a TRANSPOSE (or a RESHAPE, where the order of the elements does not
//      change) is emitted only then, once per value and layout. ONNX Transpose only
//      composes permutations. Constants are permuted at compile time.
//   3. The erf form of GELU (x * 0.5 * (1 + erf(x / sqrt 2))) is matched before the walk and
//      becomes one GELU.
//   4. Integer QDQ groups (-O3, integer_groups.h) become one int8 CONV_2D, DEPTHWISE_CONV_2D
//      or FULLY_CONNECTED each; ONNX's uint8 activations (zero point z) are TFLite int8
//      tensors with zero point z - 128, the same real values.
//   5. Graph outputs are materialized in the logical (PyTorch) layout.
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

namespace triton::codegen {

namespace {

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

const onnx::Attribute* find_attribute(const onnx::Node& n, std::string_view name) {
  for (const auto& a : n.attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

int64_t int_attribute(const onnx::Node& n, std::string_view name, int64_t fallback) {
  const auto* a = find_attribute(n, name);
  return a ? a->i : fallback;
}

float float_attribute(const onnx::Node& n, std::string_view name, float fallback) {
  const auto* a = find_attribute(n, name);
  return a ? a->f : fallback;
}

std::vector<int64_t> ints_attribute(const onnx::Node& n, std::string_view name) {
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

  std::optional<tflite::Model> convert(std::string* error) {
    try {
      run();
    } catch (const Unsupported& u) {
      *error = u.message;
      return std::nullopt;
    }
    return std::move(out_);
  }

 private:
  // ---- the walk --------------------------------------------------------------------------------
  void run() {
    out_.subgraph_name = onnx_.graph.name;
    out_.description = "triton " + producer_version_ + " (TFLite backend, batch 1)";
    for (const auto& init : onnx_.graph.initializers) values_[init.name] = constant_of(init);
    for (const auto& input : onnx_.graph.inputs) {
      Shape shape;
      for (const auto& d : input.dims) {
        if (d.value >= 0) {
          shape.push_back(d.value);
        } else if (!d.param.empty()) {
          shape.push_back(1);  // the batch: TFLite shapes are static
        } else {
          fail("input `" + input.name + "` has a dimension of unknown size");
        }
      }
      if (input.type != onnx::DataType::Float) fail("input `" + input.name + "` is not float32");
      Value v;
      v.shape = shape;
      v.tensor = add_tensor(input.name, TensorType::Float32, shape);
      out_.inputs.push_back(v.tensor);
      values_[input.name] = std::move(v);
    }
    match_gelu();
    integer_groups_ = find_integer_groups(onnx_.graph);
    for (size_t i = 0; i < onnx_.graph.nodes.size(); ++i) {
      if (skipped_.count(i) || integer_groups_.absorbed.count(i)) continue;
      node_ = &onnx_.graph.nodes[i];
      if (auto it = integer_groups_.at.find(i); it != integer_groups_.at.end()) {
        lower_integer_group(*node_, it->second);
        continue;
      }
      if (auto it = gelu_input_.find(i); it != gelu_input_.end()) {
        Value& x = value(it->second);
        define(node_->outputs[0], unary(BuiltinOperator::Gelu, x, tflite::gelu_options(false)));
        continue;
      }
      lower(*node_);
    }
    for (const auto& output : onnx_.graph.outputs) {
      Value& v = value(output.name);
      int32_t t = tensor_in(v, {});
      const tflite::Tensor& tensor = out_.tensors[t];
      const bool is_input = std::find(out_.inputs.begin(), out_.inputs.end(), t) != out_.inputs.end();
      if (tensor.buffer != 0 || is_input ||
          std::find(out_.outputs.begin(), out_.outputs.end(), t) != out_.outputs.end()) {
        t = reshape(t, v.shape, output.name);  // an output needs a tensor of its own
      }
      out_.tensors[t].name = unique(output.name);
      out_.outputs.push_back(t);
    }
  }

  [[noreturn]] void fail(const std::string& what) {
    std::string message = "the TFLite backend cannot lower " + what;
    if (node_) {
      const std::string& name = node_->name;
      const size_t slash = name.rfind('/');
      const std::string layer = slash == std::string::npos ? name : name.substr(0, slash);
      if (what == "`" + node_->op_type + "`") {
        message += " in `" + layer + "`";
      } else {
        message += " (`" + node_->op_type + "` in `" + layer + "`)";
      }
    }
    throw Unsupported{message};
  }

  // `axis` counted from the end when negative; an error outside [0, rank).
  int64_t checked_axis(int64_t axis, int64_t rank) {
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) fail("an axis out of range");
    return axis;
  }

  Value& value(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) fail("the value `" + name + "`, which is not defined before its use");
    return it->second;
  }

  bool has_input(const onnx::Node& n, size_t i) const { return i < n.inputs.size() && !n.inputs[i].empty(); }

  Value& in(size_t i) {
    if (!has_input(*node_, i)) fail("a node without its input " + std::to_string(i));
    return value(node_->inputs[i]);
  }

  void define(const std::string& name, Value v) { values_[name] = std::move(v); }

  const Value& constant_input(size_t i) {
    Value& v = in(i);
    if (v.kind != Value::Kind::Constant) fail("a non-constant input " + std::to_string(i));
    return v;
  }

  std::vector<int64_t> int_constant(size_t i) {
    const Value& v = constant_input(i);
    if (v.is_int) return v.ints;
    std::vector<int64_t> out;
    for (float f : v.floats) out.push_back(static_cast<int64_t>(f));
    return out;
  }

  float scalar_constant(size_t i) {
    const Value& v = constant_input(i);
    if (element_count(v.shape) != 1) fail("a non-scalar constant input " + std::to_string(i));
    return v.is_int ? static_cast<float>(v.ints[0]) : v.floats[0];
  }

  // ---- constants -----------------------------------------------------------------------------------
  Value constant_of(const onnx::Tensor& t) {
    Value v;
    v.kind = Value::Kind::Constant;
    v.name = t.name;
    v.shape.assign(t.dims.begin(), t.dims.end());
    const size_t count = static_cast<size_t>(element_count(v.shape));
    switch (t.type) {
      case onnx::DataType::Float:
        v.floats.resize(count);
        if (count != 0) std::memcpy(v.floats.data(), t.raw.data(), count * 4);
        break;
      case onnx::DataType::Int64:
        v.is_int = true;
        v.ints.resize(count);
        if (count != 0) std::memcpy(v.ints.data(), t.raw.data(), count * 8);
        break;
      case onnx::DataType::Int8:
        v.is_int = true;
        for (size_t i = 0; i < count; ++i) v.ints.push_back(static_cast<int8_t>(t.raw[i]));
        break;
      case onnx::DataType::Uint8:
        v.is_int = v.is_uint8 = true;
        for (size_t i = 0; i < count; ++i) v.ints.push_back(static_cast<uint8_t>(t.raw[i]));
        break;
      case onnx::DataType::Int32:
        v.is_int = true;
        for (size_t i = 0; i < count; ++i) {
          int32_t x;
          std::memcpy(&x, t.raw.data() + 4 * i, 4);
          v.ints.push_back(x);
        }
        break;
      default:
        break;  // other types: an error if an operator uses it (`ints`/`floats` are empty)
    }
    return v;
  }

  static Value make_constant(Shape shape, std::vector<float> data, std::string name) {
    Value v;
    v.kind = Value::Kind::Constant;
    v.shape = std::move(shape);
    v.floats = std::move(data);
    v.name = std::move(name);
    return v;
  }

  static Value make_int_constant(Shape shape, std::vector<int64_t> data, std::string name) {
    Value v;
    v.kind = Value::Kind::Constant;
    v.is_int = true;
    v.shape = std::move(shape);
    v.ints = std::move(data);
    v.name = std::move(name);
    return v;
  }

  // ---- tensors and operators ------------------------------------------------------------------------
  std::string unique(const std::string& hint) {
    std::string name = hint.empty() ? "t" : hint;
    for (int n = 2; !names_.insert(name).second; ++n) name = hint + "_" + std::to_string(n);
    return name;
  }

  int32_t add_tensor(const std::string& name, TensorType type, const Shape& shape, std::string data = {},
                     std::optional<tflite::Quantization> quantization = std::nullopt) {
    tflite::Tensor t;
    t.name = unique(name);
    t.type = type;
    for (int64_t d : shape) t.shape.push_back(static_cast<int32_t>(d));
    if (!data.empty()) {
      t.buffer = static_cast<uint32_t>(out_.buffers.size());
      out_.buffers.push_back(std::move(data));
    }
    t.quantization = std::move(quantization);
    out_.tensors.push_back(std::move(t));
    return static_cast<int32_t>(out_.tensors.size() - 1);
  }

  template <typename T>
  static std::string bytes_of(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }

  int32_t float_tensor(const std::string& name, const Shape& shape, const std::vector<float>& data) {
    return add_tensor(name, TensorType::Float32, shape, bytes_of(data));
  }

  // An int32 constant (shapes, axes, permutations), shared between operators.
  int32_t int32_tensor(const Shape& shape, const std::vector<int64_t>& data) {
    std::vector<int32_t> narrow(data.begin(), data.end());
    std::string key = bytes_of(narrow) + "|" + std::to_string(shape.size());
    for (int64_t d : shape) key += "," + std::to_string(d);
    if (auto it = int32_cache_.find(key); it != int32_cache_.end()) return it->second;
    return int32_cache_[key] = add_tensor("const_i32_" + std::to_string(int32_cache_.size()), TensorType::Int32,
                                          shape, bytes_of(narrow));
  }

  int32_t emit(BuiltinOperator op, std::vector<int32_t> inputs, const std::string& name, TensorType type,
               const Shape& shape, tflite::Options options = {}) {
    const int32_t output = add_tensor(name, type, shape);
    out_.operators.push_back({op, std::move(inputs), {output}, std::move(options)});
    return output;
  }

  std::string result_name() const { return node_ ? node_->outputs[0] : std::string("t"); }

  int32_t reshape(int32_t tensor, const Shape& shape, const std::string& name) {
    std::vector<int32_t> new_shape(shape.begin(), shape.end());
    const int32_t t = emit(BuiltinOperator::Reshape,
                           {tensor, int32_tensor({static_cast<int64_t>(shape.size())}, Shape(shape.begin(), shape.end()))},
                           name, out_.tensors[tensor].type, shape, tflite::reshape_options(new_shape));
    out_.tensors[t].quantization = out_.tensors[tensor].quantization;  // an int8 tensor keeps its scale
    return t;
  }

  // The value's data stored in layout `perm` (empty: the logical layout).
  int32_t tensor_in(Value& v, Perm perm) {
    perm = normalized(std::move(perm));
    if (!perm.empty() && perm.size() != v.shape.size()) {
      fail("a value of rank " + std::to_string(v.shape.size()) + " in a layout of another rank");
    }
    if (auto it = v.views.find(perm); it != v.views.end()) return it->second;
    int32_t t = -1;
    const Shape physical = permuted(v.shape, perm);
    const std::string base = v.kind == Value::Kind::Runtime ? out_.tensors[v.tensor].name : v.name;
    const std::string suffix = perm.empty() ? "" : perm == Perm{0, 2, 3, 1} ? "/nhwc" : "/permuted";
    if (v.kind == Value::Kind::Constant) {
      if (v.is_int) {
        t = int32_tensor(physical, permute_data(v.ints, v.shape, perm));
      } else {
        t = float_tensor(base + suffix, physical, permute_data(v.floats, v.shape, perm));
      }
    } else if (v.kind == Value::Kind::Quantized) {
      t = emit(BuiltinOperator::Dequantize, {codes_tensor(v, perm)}, base + suffix, TensorType::Float32, physical);
    } else if (v.perm == perm) {
      t = v.tensor;
    } else {
      // From the stored layout to `perm`: target dimension k is stored dimension to[k].
      const Perm stored_inverse = inverse(full(v.perm, v.shape.size()));
      const Perm target = full(perm, v.shape.size());
      Perm to(target.size());
      for (size_t k = 0; k < target.size(); ++k) to[k] = stored_inverse[target[k]];
      if (same_element_order(permuted(v.shape, v.perm), to)) {
        t = reshape(v.tensor, physical, base + (perm.empty() ? "/logical" : suffix));
      } else {
        t = emit(BuiltinOperator::Transpose,
                 {v.tensor, int32_tensor({static_cast<int64_t>(to.size())}, Shape(to.begin(), to.end()))},
                 base + (perm.empty() ? "/logical" : suffix), out_.tensors[v.tensor].type, physical);
        out_.tensors[t].quantization = out_.tensors[v.tensor].quantization;
      }
    }
    v.views[perm] = t;
    return t;
  }

  // A quantized constant's int8 codes in layout `perm`, with per-channel quantization.
  int32_t codes_tensor(const Value& v, const Perm& perm) {
    tflite::Quantization q;
    q.scale = v.scales;
    q.zero_point.assign(v.scales.size(), 0);
    const Perm p = full(perm, v.shape.size());
    q.quantized_dimension = static_cast<int32_t>(std::find(p.begin(), p.end(), v.axis) - p.begin());
    const std::string suffix = perm.empty() ? "" : perm == Perm{0, 2, 3, 1} ? "/nhwc" : "/permuted";
    return add_tensor(v.name + ".codes" + suffix, TensorType::Int8, permuted(v.shape, perm),
                      bytes_of(permute_data(v.codes, v.shape, perm)), std::move(q));
  }

  Value runtime(int32_t tensor, Shape shape, Perm perm) {
    Value v;
    v.shape = std::move(shape);
    v.tensor = tensor;
    v.perm = normalized(std::move(perm));
    v.type = out_.tensors[tensor].type;
    return v;
  }

  // ---- elementwise ------------------------------------------------------------------------------------
  Value unary(BuiltinOperator op, Value& x, tflite::Options options = {}, TensorType type = TensorType::Float32) {
    const Perm perm = x.kind == Value::Kind::Runtime ? x.perm : Perm{};
    const int32_t t = tensor_in(x, perm);
    return runtime(emit(op, {t}, result_name(), type, permuted(x.shape, perm), std::move(options)), x.shape, perm);
  }

  std::optional<Value> fold_binary(std::string_view op, const Value& a, const Value& b) {
    if (a.kind != Value::Kind::Constant || b.kind != Value::Kind::Constant) return std::nullopt;
    const Shape shape = broadcast(a.shape, b.shape);
    const int64_t n = element_count(shape);
    if ((element_count(a.shape) != n && element_count(a.shape) != 1) ||
        (element_count(b.shape) != n && element_count(b.shape) != 1)) {
      return std::nullopt;
    }
    auto at = [](const Value& v, int64_t i) -> double {
      const int64_t j = element_count(v.shape) == 1 ? 0 : i;
      return v.is_int ? static_cast<double>(v.ints[j]) : static_cast<double>(v.floats[j]);
    };
    auto apply = [&](double x, double y) -> double {
      if (op == "Add") return x + y;
      if (op == "Sub") return x - y;
      if (op == "Mul") return x * y;
      return a.is_int && b.is_int ? std::trunc(x / y) : x / y;  // ONNX integer Div truncates
    };
    if (a.is_int && b.is_int) {
      std::vector<int64_t> data;
      for (int64_t i = 0; i < n; ++i) data.push_back(static_cast<int64_t>(apply(at(a, i), at(b, i))));
      return make_int_constant(shape, data, result_name());
    }
    std::vector<float> data;
    for (int64_t i = 0; i < n; ++i) data.push_back(static_cast<float>(apply(at(a, i), at(b, i))));
    return make_constant(shape, data, result_name());
  }

  // A constant stretched to `rank` dimensions (leading 1s), as broadcasting reads it.
  static Value with_rank(const Value& v, size_t rank) {
    Value out = v;
    out.views.clear();
    while (out.shape.size() < rank) out.shape.insert(out.shape.begin(), 1);
    if (out.kind == Value::Kind::Quantized) out.axis += static_cast<int>(rank - v.shape.size());
    return out;
  }

  Value binary(BuiltinOperator op, OptionsType options_type, Value& a, Value& b,
               TensorType type = TensorType::Float32) {
    const Shape shape = broadcast(a.shape, b.shape);
    const size_t rank = shape.size();
    // A shared stored layout, when every runtime operand has the full rank and that layout.
    std::optional<Perm> layout;
    bool shared = true;
    for (const Value* v : {&a, &b}) {
      if (v->kind != Value::Kind::Runtime) continue;
      if (v->shape.size() != rank) {
        if (element_count(v->shape) != 1) shared = false;
        continue;
      }
      if (!layout) layout = v->perm;
      else if (*layout != v->perm) shared = false;
    }
    const Perm perm = shared && layout ? *layout : Perm{};
    auto operand = [&](Value& v) -> int32_t {
      if (v.kind == Value::Kind::Runtime) return tensor_in(v, v.shape.size() == rank ? perm : Perm{});
      if (perm.empty()) return tensor_in(v, {});
      Value stretched = with_rank(v, rank);
      return tensor_in(stretched, perm);
    };
    const int32_t ta = operand(a);
    const int32_t tb = operand(b);
    tflite::Options options;
    if (options_type != OptionsType::None) options = tflite::arithmetic_options(options_type);
    return runtime(emit(op, {ta, tb}, result_name(), type, permuted(shape, perm), std::move(options)), shape, perm);
  }

  // ---- dispatch -----------------------------------------------------------------------------------------
  void lower(const onnx::Node& n) {
    const std::string& op = n.op_type;
    const std::string& out = n.outputs[0];
    static const std::map<std::string, BuiltinOperator> kUnary = {
        {"Relu", BuiltinOperator::Relu},   {"Sigmoid", BuiltinOperator::Logistic}, {"Tanh", BuiltinOperator::Tanh},
        {"Abs", BuiltinOperator::Abs},     {"Neg", BuiltinOperator::Neg},          {"Sqrt", BuiltinOperator::Sqrt},
        {"Exp", BuiltinOperator::Exp},     {"Log", BuiltinOperator::Log},          {"Round", BuiltinOperator::Round},
        {"Sign", BuiltinOperator::Sign},   {"HardSwish", BuiltinOperator::HardSwish}};
    static const std::map<std::string, std::pair<BuiltinOperator, OptionsType>> kBinary = {
        {"Add", {BuiltinOperator::Add, OptionsType::Add}},  {"Sub", {BuiltinOperator::Sub, OptionsType::Sub}},
        {"Mul", {BuiltinOperator::Mul, OptionsType::Mul}},  {"Div", {BuiltinOperator::Div, OptionsType::Div}},
        {"Max", {BuiltinOperator::Maximum, OptionsType::None}}, {"Min", {BuiltinOperator::Minimum, OptionsType::None}}};
    static const std::map<std::string, BuiltinOperator> kCompare = {
        {"Greater", BuiltinOperator::Greater}, {"GreaterOrEqual", BuiltinOperator::GreaterEqual},
        {"Less", BuiltinOperator::Less}, {"LessOrEqual", BuiltinOperator::LessEqual},
        {"Equal", BuiltinOperator::Equal}};
    static const std::map<std::string, BuiltinOperator> kReduce = {
        {"ReduceMean", BuiltinOperator::Mean}, {"ReduceSum", BuiltinOperator::Sum},
        {"ReduceMax", BuiltinOperator::ReduceMax}, {"ReduceMin", BuiltinOperator::ReduceMin}};
    if (op == "Identity") {
      Value v = in(0);
      define(out, std::move(v));
    } else if (auto u = kUnary.find(op); u != kUnary.end()) {
      define(out, unary(u->second, in(0)));
    } else if (auto b = kBinary.find(op); b != kBinary.end()) {
      if (n.inputs.size() != 2) fail("a variadic `" + op + "`");
      if (auto folded = fold_binary(op, in(0), in(1))) {
        define(out, std::move(*folded));
      } else {
        define(out, binary(b->second.first, b->second.second, in(0), in(1)));
      }
    } else if (auto c = kCompare.find(op); c != kCompare.end()) {
      define(out, binary(c->second, OptionsType::None, in(0), in(1), TensorType::Bool));
    } else if (op == "Not") {
      define(out, unary(BuiltinOperator::LogicalNot, in(0), {}, TensorType::Bool));
    } else if (op == "LeakyRelu") {
      const float alpha = float_attribute(n, "alpha", 0.01f);
      define(out, unary(BuiltinOperator::LeakyRelu, in(0), tflite::leaky_relu_options(alpha)));
    } else if (op == "Clip") {
      lower_clip(n);
    } else if (op == "Cast") {
      lower_cast(n);
    } else if (op == "QuantizeLinear") {
      lower_quantize_activation(n);
    } else if (op == "DequantizeLinear" && in(0).kind == Value::Kind::Runtime) {
      Value& q = in(0);
      define(out, unary(BuiltinOperator::Dequantize, q, {}, TensorType::Float32));
    } else if (op == "DequantizeLinear") {
      lower_dequantize(n);
    } else if (op == "Conv") {
      lower_conv(n);
    } else if (op == "MaxPool" || op == "AveragePool") {
      lower_pool(n);
    } else if (op == "GlobalAveragePool") {
      Value& x = in(0);
      std::vector<int64_t> axes;
      for (size_t i = 2; i < x.shape.size(); ++i) axes.push_back(static_cast<int64_t>(i));
      define(out, reduce_mean(x, axes, true, out));
    } else if (auto r = kReduce.find(op); r != kReduce.end()) {
      Value& x = in(0);
      std::vector<int64_t> axes = has_input(n, 1) ? int_constant(1) : ints_attribute(n, "axes");
      if (axes.empty()) {
        for (size_t i = 0; i < x.shape.size(); ++i) axes.push_back(static_cast<int64_t>(i));
      }
      define(out, reduce(r->second, x, axes, int_attribute(n, "keepdims", 1) != 0, out));
    } else if (op == "Pow") {
      define(out, binary(BuiltinOperator::Pow, OptionsType::None, in(0), in(1)));
    } else if (op == "Where") {
      lower_where(n);
    } else if (op == "Expand") {
      lower_expand(n);
    } else if (op == "ArgMax") {
      lower_arg_max(n);
    } else if (op == "LogSoftmax") {
      lower_softmax(n);
    } else if (op == "Gemm") {
      lower_gemm(n);
    } else if (op == "MatMul") {
      lower_matmul(n);
    } else if (op == "Reshape" || op == "Flatten" || op == "Unsqueeze" || op == "Squeeze") {
      lower_reshape(n);
    } else if (op == "Transpose") {
      lower_transpose(n);
    } else if (op == "Concat") {
      lower_concat(n);
    } else if (op == "Softmax") {
      lower_softmax(n);
    } else if (op == "LayerNormalization") {
      lower_layer_norm(n);
    } else if (op == "BatchNormalization") {
      lower_batch_norm(n);
    } else if (op == "Shape") {
      lower_shape(n);
    } else if (op == "Gather") {
      lower_gather(n);
    } else if (op == "Slice") {
      lower_slice(n);
    } else if (op == "Tile") {
      lower_tile(n);
    } else if (op == "Erf") {
      fail("`Erf` outside the GELU pattern x * 0.5 * (1 + erf(x / sqrt(2)))");
    } else {
      fail("`" + op + "`");
    }
  }

  // ---- GELU -------------------------------------------------------------------------------------------
  void match_gelu() {
    const auto& nodes = onnx_.graph.nodes;
    std::map<std::string, std::vector<size_t>> consumers;
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (const auto& input : nodes[i].inputs) consumers[input].push_back(i);
    }
    for (const auto& output : onnx_.graph.outputs) consumers[output.name].push_back(nodes.size());
    auto only_consumer = [&](const std::string& name, std::string_view op) -> std::optional<size_t> {
      auto it = consumers.find(name);
      if (it == consumers.end() || it->second.size() != 1 || it->second[0] >= nodes.size()) return std::nullopt;
      if (nodes[it->second[0]].op_type != op) return std::nullopt;
      return it->second[0];
    };
    auto constant_near = [&](const std::string& name, double expected) {
      auto it = values_.find(name);
      if (it == values_.end() || it->second.kind != Value::Kind::Constant || it->second.is_int ||
          it->second.floats.size() != 1) {
        return false;
      }
      return std::abs(it->second.floats[0] - expected) < 1e-5 * std::abs(expected);
    };
    auto other = [](const onnx::Node& node, const std::string& one) {
      return node.inputs.size() == 2 ? (node.inputs[0] == one ? node.inputs[1] : node.inputs[0]) : std::string();
    };
    for (size_t div = 0; div < nodes.size(); ++div) {
      const onnx::Node& d = nodes[div];
      if (d.op_type != "Div" || d.inputs.size() != 2 || !constant_near(d.inputs[1], std::sqrt(2.0))) continue;
      const std::string& x = d.inputs[0];
      auto erf = only_consumer(d.outputs[0], "Erf");
      if (!erf) continue;
      auto add = only_consumer(nodes[*erf].outputs[0], "Add");
      if (!add || !constant_near(other(nodes[*add], nodes[*erf].outputs[0]), 1.0)) continue;
      auto mul = only_consumer(nodes[*add].outputs[0], "Mul");
      if (!mul || other(nodes[*mul], nodes[*add].outputs[0]) != x) continue;
      auto half = only_consumer(nodes[*mul].outputs[0], "Mul");
      if (!half || !constant_near(other(nodes[*half], nodes[*mul].outputs[0]), 0.5)) continue;
      skipped_.insert({div, *erf, *add, *mul});
      gelu_input_[*half] = x;
    }
  }

  // ---- lowerings ----------------------------------------------------------------------------------------
  void lower_clip(const onnx::Node& n) {
    const float lo = has_input(n, 1) ? scalar_constant(1) : -std::numeric_limits<float>::infinity();
    const float hi = has_input(n, 2) ? scalar_constant(2) : std::numeric_limits<float>::infinity();
    Value& x = in(0);
    if (lo == 0 && hi == 6) return define(n.outputs[0], unary(BuiltinOperator::Relu6, x));
    if (lo == -1 && hi == 1) return define(n.outputs[0], unary(BuiltinOperator::ReluN1To1, x));
    if (lo == 0 && std::isinf(hi)) return define(n.outputs[0], unary(BuiltinOperator::Relu, x));
    Value v = x;
    if (!std::isinf(lo)) {
      Value bound = make_constant({}, {lo}, n.outputs[0] + "/min");
      v = binary(BuiltinOperator::Maximum, OptionsType::None, v, bound);
    }
    if (!std::isinf(hi)) {
      Value bound = make_constant({}, {hi}, n.outputs[0] + "/max");
      v = binary(BuiltinOperator::Minimum, OptionsType::None, v, bound);
    }
    define(n.outputs[0], std::move(v));
  }

  void lower_cast(const onnx::Node& n) {
    const int64_t to = int_attribute(n, "to", 1);
    Value& x = in(0);
    if (x.kind == Value::Kind::Constant) {
      Value v = x;
      if (to == static_cast<int64_t>(onnx::DataType::Float) && v.is_int) {
        v.floats.assign(v.ints.begin(), v.ints.end());
        v.ints.clear();
        v.is_int = false;
      } else if (to == static_cast<int64_t>(onnx::DataType::Int64) && !v.is_int) {
        for (float f : v.floats) v.ints.push_back(static_cast<int64_t>(f));
        v.floats.clear();
        v.is_int = true;
      }
      return define(n.outputs[0], std::move(v));
    }
    if (to != static_cast<int64_t>(onnx::DataType::Float)) fail("a cast to a type other than float32");
    if (x.type == TensorType::Float32) return define(n.outputs[0], Value(x));
    define(n.outputs[0], unary(BuiltinOperator::Cast, x));
  }

  // An 8-bit activation (the ONNX backend's QuantizeLinear -> DequantizeLinear pair on a
  // run-time value): QUANTIZE to an int8 tensor with one scale and zero point 0, then
  // DEQUANTIZE. TFLite rounds halves away from zero where PyTorch rounds them to even, so
  // an input exactly halfway between two levels may land one level apart.
  void lower_quantize_activation(const onnx::Node& n) {
    Value& x = in(0);
    if (x.kind != Value::Kind::Runtime) fail("a QuantizeLinear of a constant");
    const Value& scale = constant_input(1);
    if (scale.is_int || scale.floats.size() != 1) fail("a QuantizeLinear with other than one float scale");
    const int64_t zero_point = has_input(n, 2) ? int8_zero_point(constant_input(2)) : 0;
    const int32_t t = tensor_in(x, x.perm);
    const int32_t q = emit(BuiltinOperator::Quantize, {t}, n.outputs[0], TensorType::Int8, permuted(x.shape, x.perm));
    out_.tensors[q].quantization = tflite::Quantization{{scale.floats[0]}, {zero_point}, 0};
    define(n.outputs[0], runtime(q, x.shape, x.perm));
  }

  // An ONNX zero point as the int8 tensor's: uint8 z is int8 z - 128 (same real values).
  int64_t int8_zero_point(const Value& zp) {
    if (!zp.is_int || zp.ints.size() != 1) fail("a zero point that is not one integer");
    const int64_t z = zp.is_uint8 ? zp.ints[0] - 128 : zp.ints[0];
    if (z < -128 || z > 127) fail("a zero point out of the int8 range");
    return z;
  }

  // An integer QDQ group (integer_groups.h) as one int8 operator: the input is the int8
  // tensor of the QuantizeLinear before the group's DequantizeLinear, the filter its codes,
  // the bias int32 at scale s_in * s_w[c], the output int8 at the group's QuantizeLinear.
  void lower_integer_group(const onnx::Node& n, const IntegerGroup& g) {
    const auto& nodes = onnx_.graph.nodes;
    Value& x = value(nodes[g.input_dq].inputs[0]);
    if (x.kind != Value::Kind::Runtime || x.type != TensorType::Int8) fail("an integer operator on a float input");
    const float s_in = out_.tensors[x.tensor].quantization->scale[0];
    Value w = value(nodes[g.weight_dq].outputs[0]);
    if (w.kind != Value::Kind::Quantized) fail("integer weights that are not int8 codes");
    const onnx::Node& q = nodes[g.quantize];
    const tflite::Quantization out_q{{value(q.inputs[1]).floats.at(0)}, {int8_zero_point(value(q.inputs[2]))}, 0};
    const bool conv = n.op_type == "Conv";
    // Bias: int32 codes (Conv: the DequantizeLinear's, MatMul: -Sub's constant / scale).
    std::vector<int64_t> bias_codes;
    std::vector<float> bias_scales;
    const int64_t out_channels = conv ? w.shape[0] : w.shape[1];
    for (int64_t c = 0; c < out_channels; ++c) bias_scales.push_back(s_in * (w.scales.size() == 1 ? w.scales[0] : w.scales[c]));
    if (g.bias_dq != IntegerGroup::kNone) {
      bias_codes = value(nodes[g.bias_dq].inputs[0]).ints;
    } else if (g.sub != IntegerGroup::kNone) {
      const std::vector<float>& negated = value(nodes[g.sub].inputs[1]).floats;
      for (int64_t c = 0; c < out_channels; ++c)
        bias_codes.push_back(static_cast<int64_t>(std::nearbyint(-static_cast<double>(negated.at(c)) / bias_scales[c])));
    } else {
      bias_codes.assign(out_channels, 0);
    }
    if (static_cast<int64_t>(bias_codes.size()) != out_channels) fail("a bias that is not one per output channel");
    const std::vector<int32_t> narrow(bias_codes.begin(), bias_codes.end());
    const int32_t bias = add_tensor(q.outputs[0] + "/bias", TensorType::Int32, {out_channels}, bytes_of(narrow),
                                    tflite::Quantization{bias_scales, std::vector<int64_t>(out_channels, 0), 0});
    if (!conv) {
      if (x.shape.size() != 2 || w.shape.size() != 2) fail("an integer matrix product of operands that are not matrices");
      const Value weights = transposed_weight(w);
      const int32_t filter = codes_tensor(weights, {});
      const int32_t t = emit(BuiltinOperator::FullyConnected, {tensor_in(x, {}), filter, bias}, q.outputs[0], TensorType::Int8,
                             {x.shape[0], out_channels}, tflite::fully_connected_options(false));
      out_.tensors[t].quantization = out_q;
      return define(q.outputs[0], runtime(t, {x.shape[0], out_channels}, {}));
    }
    define(q.outputs[0], conv2d(n, x, w, [&] { return bias; }, TensorType::Int8, out_q));
  }

  void lower_dequantize(const onnx::Node& n) {
    const Value& codes = constant_input(0);
    const Value& scales = constant_input(1);
    if (has_input(n, 2)) {
      for (int64_t z : int_constant(2)) {
        if (z != 0) fail("a zero point other than 0");
      }
    }
    if (!codes.is_int || scales.is_int) fail("codes that are not int8");
    Value v;
    v.kind = Value::Kind::Quantized;
    v.name = n.outputs[0];
    v.shape = codes.shape;
    for (int64_t c : codes.ints) v.codes.push_back(static_cast<int8_t>(c));
    v.scales = scales.floats;
    if (v.scales.size() != 1) {  // per channel along `axis`; one scale needs no axis
      const int64_t axis = checked_axis(int_attribute(n, "axis", 1), static_cast<int64_t>(v.shape.size()));
      if (static_cast<int64_t>(v.scales.size()) != v.shape[axis]) fail("scales that do not match the codes");
      v.axis = static_cast<int>(axis);
    }
    define(n.outputs[0], std::move(v));
  }

  struct Window {
    int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
    int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  };

  // The kernel, strides, dilations and pads of a 1-D or 2-D Conv or pool (1-D: height 1).
  Window window(const onnx::Node& n, size_t spatial, const Shape& kernel) {
    Window w;
    const auto strides = ints_attribute(n, "strides");
    const auto dilations = ints_attribute(n, "dilations");
    auto pads = ints_attribute(n, "pads");
    if (const auto* auto_pad = find_attribute(n, "auto_pad"); auto_pad && auto_pad->s != "NOTSET") {
      fail("`auto_pad`");
    }
    if (pads.empty()) pads.assign(2 * spatial, 0);
    auto at = [](const std::vector<int64_t>& v, size_t i) { return i < v.size() ? v[i] : 1; };
    if (spatial == 2) {
      w = {kernel[0], kernel[1], at(strides, 0), at(strides, 1), at(dilations, 0), at(dilations, 1),
           pads[0], pads[1], pads[2], pads[3]};
    } else {
      w = {1, kernel[0], 1, at(strides, 0), 1, at(dilations, 0), 0, pads[0], 0, pads[1]};
    }
    return w;
  }

  // NHWC input of a 1-D or 2-D window op: [N, H, W, C] (1-D: H = 1).
  int32_t nhwc_input(Value& x, size_t spatial) {
    if (spatial == 2) return tensor_in(x, {0, 2, 3, 1});
    const int32_t t = tensor_in(x, {0, 2, 1});
    return reshape(t, {x.shape[0], 1, x.shape[2], x.shape[1]}, out_.tensors[t].name + "/2d");
  }

  // The NHWC result [N, H, W, C] as the logical [N, C, H, W] (or [N, C, W]).
  Value from_nhwc(int32_t t, size_t spatial) {
    const std::vector<int32_t> s = out_.tensors[t].shape;
    if (spatial == 2) return runtime(t, {s[0], s[3], s[1], s[2]}, {0, 2, 3, 1});
    const int32_t flat = reshape(t, {s[0], s[2], s[3]}, out_.tensors[t].name + "/1d");
    return runtime(flat, {s[0], s[3], s[2]}, {0, 2, 1});
  }

  // Output size of a window op along one dimension (ONNX: floor, no ceil_mode).
  static int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                            int64_t pad_end) {
    return (in + pad_begin + pad_end - ((kernel - 1) * dilation + 1)) / stride + 1;
  }

  // Whether explicit pads equal TFLite's SAME padding (the extra pixel goes to the end).
  static bool pads_are_same(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t begin, int64_t end) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
    return begin == total / 2 && end == total - total / 2;
  }

  // Pads the NHWC tensor explicitly (PAD with zeros, PADV2 with `fill`) for a VALID op.
  int32_t pad_nhwc(int32_t t, const Window& w, std::optional<float> fill) {
    const std::vector<int32_t> s = out_.tensors[t].shape;
    const Shape padded = {s[0], s[1] + w.pad_top + w.pad_bottom, s[2] + w.pad_left + w.pad_right, s[3]};
    const int32_t paddings = int32_tensor({4, 2}, {0, 0, w.pad_top, w.pad_bottom, w.pad_left, w.pad_right, 0, 0});
    const std::string name = out_.tensors[t].name + "/pad";
    if (!fill) {  // an int8 tensor pads with its zero point, i.e. real 0
      const int32_t p = emit(BuiltinOperator::Pad, {t, paddings}, name, out_.tensors[t].type, padded);
      out_.tensors[p].quantization = out_.tensors[t].quantization;
      return p;
    }
    const int32_t value = float_tensor(name + "/value", {}, {*fill});
    return emit(BuiltinOperator::PadV2, {t, paddings, value}, name, TensorType::Float32, padded);
  }

  // SAME, VALID, or VALID after an explicit pad (pads that SAME would place otherwise).
  tflite::Padding choose_padding(int32_t& t, const Window& w, bool same_allowed, std::optional<float> fill) {
    const std::vector<int32_t> s = out_.tensors[t].shape;
    if (w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0) return tflite::Padding::Valid;
    if (same_allowed && pads_are_same(s[1], w.kernel_h, w.stride_h, w.dilation_h, w.pad_top, w.pad_bottom) &&
        pads_are_same(s[2], w.kernel_w, w.stride_w, w.dilation_w, w.pad_left, w.pad_right)) {
      return tflite::Padding::Same;
    }
    t = pad_nhwc(t, w, fill);
    return tflite::Padding::Valid;
  }

  void lower_conv(const onnx::Node& n) {
    Value& x = in(0);
    Value w = in(1);
    auto bias = [&]() -> int32_t {
      if (!has_input(n, 2)) return -1;
      Value& b = in(2);
      if (b.kind != Value::Kind::Constant) fail("a bias computed at run time");
      return tensor_in(b, {});
    };
    define(n.outputs[0], conv2d(n, x, w, bias, TensorType::Float32, std::nullopt));
  }

  // CONV_2D or DEPTHWISE_CONV_2D of `x` by the constant or quantized weight `w` (OIHW or
  // OIK), the bias tensor that `make_bias` gives after the filter's (-1: zeros), output of
  // `type` (Int8: quantized by `out_q`).
  Value conv2d(const onnx::Node& n, Value& x, Value w, const std::function<int32_t()>& make_bias, TensorType type,
               const std::optional<tflite::Quantization>& out_q) {
    if (x.kind != Value::Kind::Runtime) fail("a convolution of a constant");
    if (w.kind == Value::Kind::Runtime) fail("a convolution with weights computed at run time");
    const size_t spatial = x.shape.size() - 2;
    if (spatial != 1 && spatial != 2) fail("a " + std::to_string(spatial) + "-D convolution");
    const int64_t group = int_attribute(n, "group", 1);
    const int64_t channels = x.shape[1];
    const int64_t out_channels = w.shape[0];
    const bool depthwise = group > 1 && group == channels && out_channels % channels == 0 && w.shape[1] == 1;
    if (group != 1 && !depthwise) fail("a grouped convolution that is not depthwise");
    const Window win = window(n, spatial, Shape(w.shape.begin() + 2, w.shape.end()));
    if (spatial == 1) {  // [O, I, K] -> [O, I, 1, K]
      w.views.clear();
      w.shape.insert(w.shape.begin() + 2, 1);
    }
    int32_t input = nhwc_input(x, spatial);
    const tflite::Padding padding = choose_padding(input, win, true, std::nullopt);
    const std::vector<int32_t> s = out_.tensors[input].shape;
    const bool same = padding == tflite::Padding::Same;
    const int64_t out_h = same ? (s[1] + win.stride_h - 1) / win.stride_h
                               : window_out(s[1], win.kernel_h, win.stride_h, win.dilation_h, 0, 0);
    const int64_t out_w = same ? (s[2] + win.stride_w - 1) / win.stride_w
                               : window_out(s[2], win.kernel_w, win.stride_w, win.dilation_w, 0, 0);
    // Filters: OIHW -> OHWI, depthwise [C*M, 1, H, W] -> [1, H, W, C*M]; permuted on the codes
    // (kept int8 for an int8 operator, else behind a DEQUANTIZE).
    const Perm filter_perm = depthwise ? Perm{1, 2, 3, 0} : Perm{0, 2, 3, 1};
    const int32_t filter = type == TensorType::Int8 ? codes_tensor(w, filter_perm) : tensor_in(w, filter_perm);
    int32_t bias = make_bias();
    if (bias < 0) bias = float_tensor(n.outputs[0] + "/bias", {out_channels}, std::vector<float>(out_channels, 0.0f));
    const Shape out_shape = {s[0], out_h, out_w, out_channels};
    const std::string name = n.outputs[0] + "/nhwc";
    int32_t t;
    if (depthwise) {
      t = emit(BuiltinOperator::DepthwiseConv2d, {input, filter, bias}, name, type, out_shape,
               tflite::depthwise_conv2d_options(padding, int(win.stride_w), int(win.stride_h),
                                                int(out_channels / channels), int(win.dilation_w),
                                                int(win.dilation_h)));
    } else {
      t = emit(BuiltinOperator::Conv2d, {input, filter, bias}, name, type, out_shape,
               tflite::conv2d_options(padding, int(win.stride_w), int(win.stride_h), int(win.dilation_w),
                                      int(win.dilation_h)));
    }
    out_.tensors[t].quantization = out_q;
    return from_nhwc(t, spatial);
  }

  void lower_pool(const onnx::Node& n) {
    Value& x = in(0);
    const size_t spatial = x.shape.size() - 2;
    if (spatial != 1 && spatial != 2) fail("a " + std::to_string(spatial) + "-D pooling");
    if (int_attribute(n, "ceil_mode", 0) != 0) fail("`ceil_mode`");
    const Window win = window(n, spatial, ints_attribute(n, "kernel_shape"));
    if (win.dilation_h != 1 || win.dilation_w != 1) fail("a dilated pooling");
    const bool is_max = n.op_type == "MaxPool";
    const bool count_pads = int_attribute(n, "count_include_pad", 0) != 0;
    int32_t input = nhwc_input(x, spatial);
    // Average pooling with SAME padding leaves the padding out of the count.
    const std::optional<float> fill = is_max ? std::optional<float>(-std::numeric_limits<float>::max()) : std::nullopt;
    const bool any_pad = win.pad_top || win.pad_left || win.pad_bottom || win.pad_right;
    if (!is_max && !count_pads && any_pad &&
        !pads_are_same(out_.tensors[input].shape[1], win.kernel_h, win.stride_h, 1, win.pad_top, win.pad_bottom)) {
      fail("an average pooling that leaves padding out of the count with pads SAME does not place");
    }
    const tflite::Padding padding = choose_padding(input, win, is_max || !count_pads, fill);
    const std::vector<int32_t> s = out_.tensors[input].shape;
    const bool same = padding == tflite::Padding::Same;
    const int64_t out_h = same ? (s[1] + win.stride_h - 1) / win.stride_h
                               : window_out(s[1], win.kernel_h, win.stride_h, 1, 0, 0);
    const int64_t out_w = same ? (s[2] + win.stride_w - 1) / win.stride_w
                               : window_out(s[2], win.kernel_w, win.stride_w, 1, 0, 0);
    const int32_t t = emit(is_max ? BuiltinOperator::MaxPool2d : BuiltinOperator::AveragePool2d, {input},
                           n.outputs[0] + "/nhwc", TensorType::Float32, {s[0], out_h, out_w, s[3]},
                           tflite::pool2d_options(padding, int(win.stride_w), int(win.stride_h), int(win.kernel_w),
                                                  int(win.kernel_h)));
    define(n.outputs[0], from_nhwc(t, spatial));
  }

  Value reduce_mean(Value& x, std::vector<int64_t> axes, bool keep_dims, const std::string& name) {
    return reduce(BuiltinOperator::Mean, x, std::move(axes), keep_dims, name);
  }

  // A reduction (MEAN, SUM, REDUCE_MAX, REDUCE_MIN) over logical `axes`, in the stored layout.
  Value reduce(BuiltinOperator op, Value& x, std::vector<int64_t> axes, bool keep_dims, const std::string& name) {
    const size_t rank = x.shape.size();
    for (auto& a : axes) {
      if (a < 0) a += static_cast<int64_t>(rank);
    }
    const Perm perm = x.kind == Value::Kind::Runtime ? x.perm : Perm{};
    const Perm p = full(perm, rank);
    const int32_t t = tensor_in(x, perm);
    std::vector<int64_t> physical_axes;
    for (size_t k = 0; k < rank; ++k) {
      if (std::find(axes.begin(), axes.end(), p[k]) != axes.end()) physical_axes.push_back(static_cast<int64_t>(k));
    }
    Shape shape = x.shape;
    for (int64_t a : axes) shape[a] = 1;
    Perm out_perm = perm;
    if (!keep_dims) {
      Shape kept;
      for (size_t i = 0; i < rank; ++i) {
        if (std::find(axes.begin(), axes.end(), static_cast<int64_t>(i)) == axes.end()) kept.push_back(x.shape[i]);
      }
      shape = kept;
      out_perm.clear();
      for (size_t k = 0; k < rank; ++k) {
        if (std::find(axes.begin(), axes.end(), p[k]) != axes.end()) continue;
        int renumbered = p[k];
        for (int64_t a : axes) renumbered -= a < p[k] ? 1 : 0;
        out_perm.push_back(renumbered);
      }
    }
    const int32_t axes_tensor = int32_tensor({static_cast<int64_t>(physical_axes.size())}, physical_axes);
    const int32_t r = emit(op, {t, axes_tensor}, name, TensorType::Float32,
                           permuted(shape, normalized(out_perm)), tflite::reducer_options(keep_dims));
    return runtime(r, shape, out_perm);
  }

  // FULLY_CONNECTED: x [..., K] times weights [N, K] (+ bias [N]).
  Value fully_connected(Value& x, Value& weights_nk, int32_t bias, const std::string& name) {
    const int32_t input = tensor_in(x, {});
    const int32_t weights = tensor_in(weights_nk, {});
    Shape shape = x.shape;
    shape.back() = weights_nk.shape[0];
    const int32_t t = emit(BuiltinOperator::FullyConnected, {input, weights, bias}, name, TensorType::Float32, shape,
                           tflite::fully_connected_options(shape.size() > 2));
    return runtime(t, shape, {});
  }

  // A constant or quantized 2-D weight, transposed at compile time.
  Value transposed_weight(const Value& w) {
    Value t = w;
    t.views.clear();
    t.shape = {w.shape[1], w.shape[0]};
    if (w.kind == Value::Kind::Constant) {
      if (w.is_int) fail("integer weights");
      t.floats = permute_data(w.floats, w.shape, {1, 0});
    } else {
      t.codes = permute_data(w.codes, w.shape, {1, 0});
      if (w.scales.size() != 1) t.axis = 1 - w.axis;
    }
    return t;
  }

  void lower_gemm(const onnx::Node& n) {
    if (int_attribute(n, "transA", 0) != 0) fail("`transA`");
    if (float_attribute(n, "alpha", 1.0f) != 1.0f || float_attribute(n, "beta", 1.0f) != 1.0f) {
      fail("`alpha` or `beta`");
    }
    Value& a = in(0);
    Value b = in(1);
    if (a.shape.size() != 2 || b.shape.size() != 2) fail("a product of operands that are not matrices");
    if (b.kind == Value::Kind::Runtime) {  // weights computed in the graph (a custom layer's quantizer)
      const bool trans_b = int_attribute(n, "transB", 0) != 0;
      const Shape shape = {a.shape[0], trans_b ? b.shape[0] : b.shape[1]};
      const int32_t t = emit(BuiltinOperator::BatchMatMul, {tensor_in(a, {}), tensor_in(b, {})}, n.outputs[0] + "/matmul",
                             TensorType::Float32, shape, tflite::batch_matmul_options(false, trans_b));
      Value product = runtime(t, shape, {});
      if (!has_input(n, 2)) return define(n.outputs[0], std::move(product));
      return define(n.outputs[0], binary(BuiltinOperator::Add, OptionsType::Add, product, in(2)));
    }
    if (int_attribute(n, "transB", 0) == 0) b = transposed_weight(b);
    int32_t bias = -1;
    if (has_input(n, 2)) {
      Value& c = in(2);
      if (c.kind != Value::Kind::Constant || element_count(c.shape) != b.shape[0]) {
        fail("a bias that is not one per output");
      }
      Value flat = c;
      flat.views.clear();
      flat.shape = {b.shape[0]};
      bias = tensor_in(flat, {});
    }
    define(n.outputs[0], fully_connected(a, b, bias, n.outputs[0]));
  }

  void lower_matmul(const onnx::Node& n) {
    Value& a = in(0);
    Value& b = in(1);
    if (a.kind == Value::Kind::Runtime && b.kind != Value::Kind::Runtime && b.shape.size() == 2) {
      Value weights = transposed_weight(b);
      return define(n.outputs[0], fully_connected(a, weights, -1, n.outputs[0]));
    }
    if (a.shape.size() != b.shape.size() || a.shape.size() < 2) fail("a matrix product of operands of different ranks");
    // An operand stored with its last two axes swapped (a transposed key) is read as it is,
    // with BATCH_MATMUL's adj_x / adj_y.
    auto operand = [&](Value& v, bool& adjoint) {
      const size_t rank = v.shape.size();
      Perm swapped = identity(rank);
      std::swap(swapped[rank - 1], swapped[rank - 2]);
      adjoint = v.kind == Value::Kind::Runtime && v.perm == swapped;
      return adjoint ? v.tensor : tensor_in(v, {});
    };
    bool adj_x = false, adj_y = false;
    const int32_t ta = operand(a, adj_x);
    const int32_t tb = operand(b, adj_y);
    Shape batch = broadcast(Shape(a.shape.begin(), a.shape.end() - 2), Shape(b.shape.begin(), b.shape.end() - 2));
    batch.push_back(a.shape[a.shape.size() - 2]);
    batch.push_back(b.shape.back());
    const int32_t t = emit(BuiltinOperator::BatchMatMul, {ta, tb}, n.outputs[0], TensorType::Float32, batch,
                           tflite::batch_matmul_options(adj_x, adj_y));
    define(n.outputs[0], runtime(t, batch, {}));
  }

  void lower_reshape(const onnx::Node& n) {
    Value& x = in(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    Shape shape;
    if (n.op_type == "Flatten") {
      int64_t axis = int_attribute(n, "axis", 1);
      axis = checked_axis(axis, rank);
      shape = {element_count(Shape(x.shape.begin(), x.shape.begin() + axis)),
               element_count(Shape(x.shape.begin() + axis, x.shape.end()))};
    } else if (n.op_type == "Unsqueeze" || n.op_type == "Squeeze") {
      std::vector<int64_t> axes = has_input(n, 1) ? int_constant(1) : ints_attribute(n, "axes");
      if (n.op_type == "Unsqueeze") {
        const int64_t out_rank = rank + static_cast<int64_t>(axes.size());
        for (auto& a : axes) a = a < 0 ? a + out_rank : a;
        std::sort(axes.begin(), axes.end());
        shape = x.shape;
        for (int64_t a : axes) shape.insert(shape.begin() + a, 1);
      } else {
        for (auto& a : axes) a = a < 0 ? a + rank : a;
        for (int64_t i = 0; i < rank; ++i) {
          const bool listed = std::find(axes.begin(), axes.end(), i) != axes.end();
          if (!(x.shape[i] == 1 && (axes.empty() || listed))) shape.push_back(x.shape[i]);
        }
      }
    } else {
      const std::vector<int64_t> target = int_constant(1);
      int64_t known = 1;
      int infer = -1;
      for (size_t i = 0; i < target.size(); ++i) {
        int64_t d = target[i];
        if (d == 0) d = i < x.shape.size() ? x.shape[i] : 1;
        if (d == -1) {
          infer = static_cast<int>(i);
          d = 1;
        } else {
          known *= d;
        }
        shape.push_back(d);
      }
      if (infer >= 0) shape[infer] = known == 0 ? 0 : element_count(x.shape) / known;
    }
    if (element_count(shape) != element_count(x.shape)) fail("a reshape that changes the number of elements");
    if (x.kind != Value::Kind::Runtime) {
      Value v = x;
      v.views.clear();
      if (x.kind == Value::Kind::Quantized && x.scales.size() != 1) {
        // The channel axis survives when the dimensions up to it are kept.
        if (static_cast<size_t>(x.axis) >= shape.size() ||
            !std::equal(x.shape.begin(), x.shape.begin() + x.axis + 1, shape.begin())) {
          fail("a reshape across the channels of quantized weights");
        }
      }
      v.shape = shape;
      v.name = n.outputs[0];
      return define(n.outputs[0], std::move(v));
    }
    const int32_t t = tensor_in(x, {});
    define(n.outputs[0], runtime(reshape(t, shape, n.outputs[0]), shape, {}));
  }

  void lower_transpose(const onnx::Node& n) {
    Value& x = in(0);
    Perm p;
    for (int64_t d : ints_attribute(n, "perm")) p.push_back(static_cast<int>(d));
    if (p.empty()) {
      for (size_t i = x.shape.size(); i-- > 0;) p.push_back(static_cast<int>(i));
    }
    const Shape shape = permuted(x.shape, p);
    if (x.kind == Value::Kind::Constant) {
      Value v = x;
      v.views.clear();
      v.shape = shape;
      v.name = n.outputs[0];
      if (v.is_int) v.ints = permute_data(x.ints, x.shape, p);
      else v.floats = permute_data(x.floats, x.shape, p);
      return define(n.outputs[0], std::move(v));
    }
    if (x.kind == Value::Kind::Quantized) {
      Value v = x;
      v.views.clear();
      v.shape = shape;
      v.name = n.outputs[0];
      v.codes = permute_data(x.codes, x.shape, p);
      v.axis = inverse(p)[x.axis];
      return define(n.outputs[0], std::move(v));
    }
    // Only the stored order changes: stored dimension k is output dimension inverse(p)[perm[k]].
    const Perm stored = full(x.perm, x.shape.size());
    const Perm p_inverse = inverse(p);
    Perm composed(stored.size());
    for (size_t k = 0; k < stored.size(); ++k) composed[k] = p_inverse[stored[k]];
    define(n.outputs[0], runtime(x.tensor, shape, composed));
  }

  void lower_concat(const onnx::Node& n) {
    std::vector<Value*> inputs;
    for (size_t i = 0; i < n.inputs.size(); ++i) inputs.push_back(&in(i));
    const size_t rank = inputs[0]->shape.size();
    int64_t axis = int_attribute(n, "axis", 0);
    axis = checked_axis(axis, static_cast<int64_t>(rank));
    Shape shape = inputs[0]->shape;
    shape[axis] = 0;
    for (const Value* v : inputs) shape[axis] += v->shape[axis];
    const bool all_constant = std::all_of(inputs.begin(), inputs.end(), [](const Value* v) {
      return v->kind == Value::Kind::Constant;
    });
    if (all_constant) {
      // Folded along any axis: outer blocks of each input in turn.
      const int64_t outer = element_count(Shape(shape.begin(), shape.begin() + axis));
      Value v;
      v.kind = Value::Kind::Constant;
      v.is_int = inputs[0]->is_int;
      v.shape = shape;
      v.name = n.outputs[0];
      for (int64_t o = 0; o < outer; ++o) {
        for (const Value* in_v : inputs) {
          const int64_t block = element_count(Shape(in_v->shape.begin() + axis, in_v->shape.end()));
          for (int64_t j = 0; j < block; ++j) {
            const int64_t at = o * block + j;
            if (v.is_int) v.ints.push_back(in_v->is_int ? in_v->ints[at] : int64_t(in_v->floats[at]));
            else v.floats.push_back(in_v->is_int ? float(in_v->ints[at]) : in_v->floats[at]);
          }
        }
      }
      return define(n.outputs[0], std::move(v));
    }
    std::optional<Perm> layout;
    bool shared = true;
    for (const Value* v : inputs) {
      if (v->kind != Value::Kind::Runtime) continue;
      if (!layout) layout = v->perm;
      else if (*layout != v->perm) shared = false;
    }
    const Perm perm = shared && layout ? *layout : Perm{};
    std::vector<int32_t> tensors;
    for (Value* v : inputs) tensors.push_back(tensor_in(*v, perm));
    const Perm p = full(perm, rank);
    const int physical_axis = static_cast<int>(std::find(p.begin(), p.end(), axis) - p.begin());
    const int32_t t = emit(BuiltinOperator::Concatenation, tensors, n.outputs[0], TensorType::Float32,
                           permuted(shape, perm), tflite::concatenation_options(physical_axis));
    define(n.outputs[0], runtime(t, shape, perm));
  }

  // The layout to run a last-axis operator (softmax, layer norm) in: the stored one when it
  // keeps the last logical axis last.
  static Perm last_axis_layout(const Value& x) {
    if (x.kind == Value::Kind::Runtime && !x.perm.empty() && x.perm.back() == static_cast<int>(x.shape.size()) - 1) {
      return x.perm;
    }
    return {};
  }

  void lower_softmax(const onnx::Node& n) {
    Value& x = in(0);
    int64_t axis = int_attribute(n, "axis", -1);
    axis = checked_axis(axis, static_cast<int64_t>(x.shape.size()));
    // TFLite normalizes the last axis: the stored layout when it has `axis` last, else one
    // that stores `axis` last (the other axes keep their order).
    Perm perm;
    if (x.kind == Value::Kind::Runtime && !x.perm.empty() && x.perm.back() == axis) {
      perm = x.perm;
    } else if (axis != static_cast<int64_t>(x.shape.size()) - 1) {
      perm.clear();
      for (int i = 0; i < static_cast<int>(x.shape.size()); ++i) {
        if (i != axis) perm.push_back(i);
      }
      perm.push_back(static_cast<int>(axis));
    }
    const int32_t t = tensor_in(x, perm);
    const bool log = n.op_type == "LogSoftmax";
    define(n.outputs[0], runtime(emit(log ? BuiltinOperator::LogSoftmax : BuiltinOperator::Softmax, {t}, n.outputs[0],
                                      TensorType::Float32, permuted(x.shape, perm),
                                      log ? tflite::Options{} : tflite::softmax_options(1.0f)),
                                 x.shape, perm));
  }

  // MEAN, SUB, MUL, RSQRT: (x - mean) / sqrt(var + eps) * gamma + beta over the last axis.
  void lower_layer_norm(const onnx::Node& n) {
    Value& x = in(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = int_attribute(n, "axis", -1);
    axis = checked_axis(axis, rank);
    const float epsilon = float_attribute(n, "epsilon", 1e-5f);
    // Over the last axis in whatever layout keeps it last; over several trailing axes in
    // the logical layout, where they are the stored trailing axes.
    const Perm perm = axis == rank - 1 ? last_axis_layout(x) : Perm{};
    const std::string& name = n.outputs[0];
    const int32_t t = tensor_in(x, perm);
    const Shape physical = permuted(x.shape, perm);
    Shape reduced = physical;
    std::vector<int64_t> trailing;
    for (int64_t a = axis; a < rank; ++a) {
      reduced[a] = 1;
      trailing.push_back(a);
    }
    const int32_t last = int32_tensor({static_cast<int64_t>(trailing.size())}, trailing);
    const int32_t mean = emit(BuiltinOperator::Mean, {t, last}, name + "/mean", TensorType::Float32, reduced,
                              tflite::reducer_options(true));
    const int32_t centered = emit(BuiltinOperator::Sub, {t, mean}, name + "/centered", TensorType::Float32, physical,
                                  tflite::arithmetic_options(OptionsType::Sub));
    const int32_t squared = emit(BuiltinOperator::Mul, {centered, centered}, name + "/squared", TensorType::Float32,
                                 physical, tflite::arithmetic_options(OptionsType::Mul));
    const int32_t variance = emit(BuiltinOperator::Mean, {squared, last}, name + "/variance", TensorType::Float32,
                                  reduced, tflite::reducer_options(true));
    const int32_t eps = float_tensor(name + "/epsilon", {}, {epsilon});
    const int32_t shifted = emit(BuiltinOperator::Add, {variance, eps}, name + "/variance_eps", TensorType::Float32,
                                 reduced, tflite::arithmetic_options(OptionsType::Add));
    const int32_t inv_std = emit(BuiltinOperator::Rsqrt, {shifted}, name + "/rsqrt", TensorType::Float32, reduced);
    int32_t y = emit(BuiltinOperator::Mul, {centered, inv_std}, name + "/normalized", TensorType::Float32, physical,
                     tflite::arithmetic_options(OptionsType::Mul));
    if (has_input(n, 1)) {
      Value& gamma = in(1);
      y = emit(BuiltinOperator::Mul, {y, tensor_in(gamma, {})}, name + "/scaled", TensorType::Float32, physical,
               tflite::arithmetic_options(OptionsType::Mul));
    }
    if (has_input(n, 2)) {
      Value& beta = in(2);
      y = emit(BuiltinOperator::Add, {y, tensor_in(beta, {})}, name, TensorType::Float32, physical,
               tflite::arithmetic_options(OptionsType::Add));
    }
    define(name, runtime(y, x.shape, perm));
  }

  // Inference batch norm as MUL + ADD with per-channel constants computed here.
  void lower_batch_norm(const onnx::Node& n) {
    Value& x = in(0);
    const Value& scale = constant_input(1);
    const Value& shift = constant_input(2);
    const Value& mean = constant_input(3);
    const Value& var = constant_input(4);
    const float epsilon = float_attribute(n, "epsilon", 1e-5f);
    const size_t channels = scale.floats.size();
    std::vector<float> multiplier(channels), offset(channels);
    for (size_t c = 0; c < channels; ++c) {
      multiplier[c] = scale.floats[c] / std::sqrt(var.floats[c] + epsilon);
      offset[c] = shift.floats[c] - mean.floats[c] * multiplier[c];
    }
    Shape per_channel(x.shape.size() - 1, 1);
    per_channel[0] = static_cast<int64_t>(channels);
    Value m = make_constant(per_channel, multiplier, n.outputs[0] + "/multiplier");
    Value o = make_constant(per_channel, offset, n.outputs[0] + "/offset");
    Value scaled = binary(BuiltinOperator::Mul, OptionsType::Mul, x, m);
    define(n.outputs[0], binary(BuiltinOperator::Add, OptionsType::Add, scaled, o));
  }

  void lower_shape(const onnx::Node& n) {
    const Value& x = in(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t start = int_attribute(n, "start", 0), end = int_attribute(n, "end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    Shape dims(x.shape.begin() + start, x.shape.begin() + end);
    define(n.outputs[0], make_int_constant({static_cast<int64_t>(dims.size())}, dims, n.outputs[0]));
  }

  // A lookup table (`Embedding`): constant rows gathered by run-time integer indices; the
  // output has the indices' shape plus the row.
  void lower_table_lookup(const onnx::Node& n) {
    Value& table = in(0);
    Value& indices = in(1);
    const int64_t rank = static_cast<int64_t>(table.shape.size());
    if (checked_axis(int_attribute(n, "axis", 0), rank) != 0) fail("a gather of run-time indices along an axis other than 0");
    int32_t idx = tensor_in(indices, {});
    if (out_.tensors[idx].type == TensorType::Int64) {  // GATHER takes int32 or int64; keep int32 for all kernels
      idx = emit(BuiltinOperator::Cast, {idx}, n.outputs[0] + "/indices", TensorType::Int32, indices.shape);
    }
    Shape shape = indices.shape;
    shape.insert(shape.end(), table.shape.begin() + 1, table.shape.end());
    const int32_t t = tensor_in(table, {});
    define(n.outputs[0], runtime(emit(BuiltinOperator::Gather, {t, idx}, n.outputs[0], out_.tensors[t].type, shape,
                                      tflite::gather_options(0)),
                                 shape, {}));
  }

  void lower_gather(const onnx::Node& n) {
    Value& x = in(0);
    if (in(1).kind == Value::Kind::Runtime) return lower_table_lookup(n);
    const Value& indices = constant_input(1);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = int_attribute(n, "axis", 0);
    axis = checked_axis(axis, rank);
    std::vector<int64_t> index = indices.is_int ? indices.ints : std::vector<int64_t>();
    for (auto& i : index) {
      i = i < 0 ? i + x.shape[axis] : i;
      if (i < 0 || i >= x.shape[axis]) fail("a gather with an index out of range");
    }
    if (!indices.is_int || !indices.shape.empty()) {
      if (x.kind == Value::Kind::Constant && x.shape.size() == 1 && indices.is_int) {
        std::vector<int64_t> data;
        for (int64_t i : index) data.push_back(x.is_int ? x.ints[i] : int64_t(x.floats[i]));
        return define(n.outputs[0], make_int_constant(indices.shape, data, n.outputs[0]));
      }
      fail("a gather with indices that are not one constant");
    }
    Shape shape = x.shape;
    shape.erase(shape.begin() + axis);
    if (x.kind == Value::Kind::Constant) {
      const int64_t inner = element_count(Shape(x.shape.begin() + axis + 1, x.shape.end()));
      const int64_t outer = element_count(Shape(x.shape.begin(), x.shape.begin() + axis));
      Value v = x;
      v.views.clear();
      v.shape = shape;
      v.name = n.outputs[0];
      v.ints.clear();
      v.floats.clear();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < inner; ++j) {
          const int64_t src = (o * x.shape[axis] + index[0]) * inner + j;
          if (x.is_int) v.ints.push_back(x.ints[src]);
          else v.floats.push_back(x.floats[src]);
        }
      }
      return define(n.outputs[0], std::move(v));
    }
    if (x.kind != Value::Kind::Runtime) fail("a gather from quantized weights");
    // One index: a SLICE of size 1 along the stored axis, then a RESHAPE that drops it.
    const Perm p = full(x.perm, x.shape.size());
    const int64_t k = std::find(p.begin(), p.end(), axis) - p.begin();
    const Shape physical = permuted(x.shape, x.perm);
    std::vector<int64_t> begin(physical.size(), 0), size(physical.begin(), physical.end());
    begin[k] = index[0];
    size[k] = 1;
    Shape sliced_shape = physical;
    sliced_shape[k] = 1;
    const int64_t r = static_cast<int64_t>(physical.size());
    const int32_t sliced = emit(BuiltinOperator::Slice, {x.tensor, int32_tensor({r}, begin), int32_tensor({r}, size)},
                                n.outputs[0] + "/slice", x.type, sliced_shape);
    Shape dropped = physical;
    dropped.erase(dropped.begin() + k);
    Perm out_perm;
    for (int64_t j = 0; j < r; ++j) {
      if (j == k) continue;
      out_perm.push_back(p[j] > axis ? p[j] - 1 : p[j]);
    }
    define(n.outputs[0], runtime(reshape(sliced, dropped, n.outputs[0]), shape, out_perm));
  }

  void lower_slice(const onnx::Node& n) {
    Value& x = in(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const std::vector<int64_t> starts = int_constant(1), ends = int_constant(2);
    std::vector<int64_t> axes = has_input(n, 3) ? int_constant(3) : std::vector<int64_t>();
    std::vector<int64_t> steps = has_input(n, 4) ? int_constant(4) : std::vector<int64_t>();
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    std::vector<int64_t> begin(rank, 0), stop(x.shape.begin(), x.shape.end()), stride(rank, 1);
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
      const int64_t dim = x.shape[a];
      const int64_t step = i < steps.size() ? steps[i] : 1;
      if (step <= 0) fail("a slice with a step that is not positive");
      int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
      int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
      begin[a] = std::clamp<int64_t>(s, 0, dim);
      stop[a] = std::clamp<int64_t>(e, 0, dim);
      stride[a] = step;
    }
    Shape shape(rank);
    for (int64_t a = 0; a < rank; ++a) {
      shape[a] = std::max<int64_t>(0, (stop[a] - begin[a] + stride[a] - 1) / stride[a]);
    }
    if (x.kind == Value::Kind::Constant) {
      if (rank != 1) fail("a slice of a constant of rank other than 1");
      Value v = x;
      v.views.clear();
      v.shape = shape;
      v.name = n.outputs[0];
      v.ints.clear();
      v.floats.clear();
      for (int64_t i = begin[0]; i < stop[0]; i += stride[0]) {
        if (x.is_int) v.ints.push_back(x.ints[i]);
        else v.floats.push_back(x.floats[i]);
      }
      return define(n.outputs[0], std::move(v));
    }
    if (x.kind != Value::Kind::Runtime) fail("a slice of quantized weights");
    const Perm p = full(x.perm, x.shape.size());
    std::vector<int64_t> pb(rank), pe(rank), ps(rank), size(rank);
    bool unit = true;
    for (int64_t k = 0; k < rank; ++k) {
      pb[k] = begin[p[k]];
      pe[k] = stop[p[k]];
      ps[k] = stride[p[k]];
      size[k] = shape[p[k]];
      unit = unit && ps[k] == 1;
    }
    int32_t t;
    if (unit) {
      t = emit(BuiltinOperator::Slice, {x.tensor, int32_tensor({rank}, pb), int32_tensor({rank}, size)},
               n.outputs[0], x.type, permuted(shape, x.perm));
    } else {
      tflite::Options options{OptionsType::StridedSlice, {}};
      t = emit(BuiltinOperator::StridedSlice,
               {x.tensor, int32_tensor({rank}, pb), int32_tensor({rank}, pe), int32_tensor({rank}, ps)}, n.outputs[0],
               x.type, permuted(shape, x.perm), options);
    }
    define(n.outputs[0], runtime(t, shape, x.perm));
  }

  // SELECT_V2 (broadcasting) in the logical layout.
  void lower_where(const onnx::Node& n) {
    Value& condition = in(0);
    Value& a = in(1);
    Value& b = in(2);
    const Shape shape = broadcast(broadcast(condition.shape, a.shape), b.shape);
    const int32_t t = emit(BuiltinOperator::SelectV2, {tensor_in(condition, {}), tensor_in(a, {}), tensor_in(b, {})},
                           n.outputs[0], TensorType::Float32, shape);
    define(n.outputs[0], runtime(t, shape, {}));
  }

  // A constant broadcast at compile time; a runtime value through BROADCAST_TO.
  void lower_expand(const onnx::Node& n) {
    Value& x = in(0);
    const std::vector<int64_t> target = int_constant(1);
    const Shape shape = broadcast(x.shape, Shape(target.begin(), target.end()));
    if (x.kind == Value::Kind::Constant) {
      const Value stretched = with_rank(x, shape.size());
      Shape repeats(shape.size());
      for (size_t i = 0; i < shape.size(); ++i) repeats[i] = stretched.shape[i] == shape[i] ? 1 : shape[i];
      return define(n.outputs[0], tiled_constant(stretched, repeats, n.outputs[0]));
    }
    const int64_t rank = static_cast<int64_t>(shape.size());
    const int32_t t = emit(BuiltinOperator::BroadcastTo, {tensor_in(x, {}), int32_tensor({rank}, shape)}, n.outputs[0],
                           x.type, shape);
    define(n.outputs[0], runtime(t, shape, {}));
  }

  // ARG_MAX drops the axis; `keepdims` puts it back with a RESHAPE.
  void lower_arg_max(const onnx::Node& n) {
    Value& x = in(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = int_attribute(n, "axis", 0);
    axis = checked_axis(axis, rank);
    if (int_attribute(n, "select_last_index", 0) != 0) fail("`select_last_index`");
    const Perm perm = x.kind == Value::Kind::Runtime ? x.perm : Perm{};
    const Perm p = full(perm, x.shape.size());
    const int32_t t = tensor_in(x, perm);
    const int64_t physical_axis = std::find(p.begin(), p.end(), axis) - p.begin();
    Shape dropped = x.shape;
    dropped.erase(dropped.begin() + axis);
    Perm out_perm;
    for (int64_t k = 0; k < rank; ++k) {
      if (k != physical_axis) out_perm.push_back(p[k] > axis ? p[k] - 1 : p[k]);
    }
    const bool keep = int_attribute(n, "keepdims", 1) != 0;
    const std::string name = keep ? n.outputs[0] + "/dropped" : n.outputs[0];
    const int32_t r = emit(BuiltinOperator::ArgMax, {t, int32_tensor({1}, {physical_axis})}, name, TensorType::Int64,
                           permuted(dropped, normalized(out_perm)), tflite::arg_max_options(TensorType::Int64));
    Value v = runtime(r, dropped, out_perm);
    if (!keep) return define(n.outputs[0], std::move(v));
    Shape kept = x.shape;
    kept[axis] = 1;
    define(n.outputs[0], runtime(reshape(tensor_in(v, {}), kept, n.outputs[0]), kept, {}));
  }

  // A constant repeated `repeats` times along each axis (output index i reads i mod dims).
  static Value tiled_constant(const Value& x, const Shape& repeats, const std::string& name) {
    Shape shape = x.shape;
    for (size_t i = 0; i < shape.size(); ++i) shape[i] *= repeats[i];
    Value v = x;
    v.views.clear();
    v.shape = shape;
    v.name = name;
    v.ints.clear();
    v.floats.clear();
    const size_t rank = shape.size();
    std::vector<int64_t> index(rank, 0);
    for (int64_t count = element_count(shape), e = 0; e < count; ++e) {
      int64_t src = 0;
      for (size_t d = 0; d < rank; ++d) src = src * x.shape[d] + index[d] % x.shape[d];
      if (x.is_int) v.ints.push_back(x.ints[src]);
      else v.floats.push_back(x.floats[src]);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < shape[d]) break;
        index[d] = 0;
      }
    }
    return v;
  }

  void lower_tile(const onnx::Node& n) {
    Value& x = in(0);
    const std::vector<int64_t> repeats = int_constant(1);
    if (repeats.size() != x.shape.size()) fail("a tile whose repeats do not match the rank");
    Shape shape = x.shape;
    for (size_t i = 0; i < shape.size(); ++i) shape[i] *= repeats[i];
    if (x.kind == Value::Kind::Constant) {
      return define(n.outputs[0], tiled_constant(x, Shape(repeats.begin(), repeats.end()), n.outputs[0]));
    }
    const int32_t t = tensor_in(x, {});
    const int64_t rank = static_cast<int64_t>(shape.size());
    define(n.outputs[0], runtime(emit(BuiltinOperator::Tile, {t, int32_tensor({rank}, repeats)}, n.outputs[0],
                                      x.type, shape),
                                 shape, {}));
  }

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

}  // namespace

std::optional<tflite::Model> convert_onnx_to_tflite(const onnx::Model& model, const std::string& producer_version,
                                                    std::string* error) {
  return Converter(model, producer_version).convert(error);
}

std::optional<tflite::Model> emit_tflite(const ir::Program& program, DiagnosticEngine& diags,
                                         const TfliteOptions& options, std::string* error, bool* error_is_weights) {
  OnnxOptions onnx_options;
  onnx_options.code_type = onnx::DataType::Int8;  // ternary codes arrive as int8 + per-channel scales
  onnx_options.weights = options.weights;
  onnx_options.seed = options.seed;
  onnx_options.producer_version = options.producer_version;
  onnx_options.integer_lowering = options.integer_lowering;
  *error_is_weights = false;
  auto graph = emit_onnx(program, diags, onnx_options, error);
  if (!graph) {
    *error_is_weights = !error->empty();
    return std::nullopt;
  }
  return convert_onnx_to_tflite(*graph, options.producer_version, error);
}

}  // namespace triton::codegen

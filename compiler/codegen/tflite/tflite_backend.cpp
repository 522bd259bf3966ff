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
// The converter is declared in converter.h; this file holds the walk and its shared
// machinery, lower_layers.cpp and lower_data_movement.cpp the lowerings of the other
// operators.
#include "codegen/tflite/tflite_backend.h"

#include "codegen/tflite/converter.h"

namespace triton::codegen::onnx_to_tflite {

std::optional<tflite::Model> Converter::convert(std::string* error) {
  try {
    run();
  } catch (const Unsupported& u) {
    *error = u.message;
    return std::nullopt;
  }
  return std::move(out_);
}

// ---- the walk --------------------------------------------------------------------------------
void Converter::run() {
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

void Converter::fail(const std::string& what) {
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

int64_t Converter::checked_axis(int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) fail("an axis out of range");
  return axis;
}

Value& Converter::value(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) fail("the value `" + name + "`, which is not defined before its use");
  return it->second;
}

bool Converter::has_input(const onnx::Node& n, size_t i) const { return i < n.inputs.size() && !n.inputs[i].empty(); }

Value& Converter::in(size_t i) {
  if (!has_input(*node_, i)) fail("a node without its input " + std::to_string(i));
  return value(node_->inputs[i]);
}

void Converter::define(const std::string& name, Value v) { values_[name] = std::move(v); }

const Value& Converter::constant_input(size_t i) {
  Value& v = in(i);
  if (v.kind != Value::Kind::Constant) fail("a non-constant input " + std::to_string(i));
  return v;
}

std::vector<int64_t> Converter::int_constant(size_t i) {
  const Value& v = constant_input(i);
  if (v.is_int) return v.ints;
  std::vector<int64_t> out;
  for (float f : v.floats) out.push_back(static_cast<int64_t>(f));
  return out;
}

float Converter::scalar_constant(size_t i) {
  const Value& v = constant_input(i);
  if (element_count(v.shape) != 1) fail("a non-scalar constant input " + std::to_string(i));
  return v.is_int ? static_cast<float>(v.ints[0]) : v.floats[0];
}

// ---- constants -----------------------------------------------------------------------------------
Value Converter::constant_of(const onnx::Tensor& t) {
  Value v;
  v.kind = Value::Kind::Constant;
  v.name = t.name;
  v.shape.assign(t.dims.begin(), t.dims.end());
  const size_t count = static_cast<size_t>(element_count(v.shape));
  switch (t.type) {
    case onnx::DataType::Float:
      v.floats = t.float_values();
      v.floats.resize(count);
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

Value Converter::make_constant(Shape shape, std::vector<float> data, std::string name) {
  Value v;
  v.kind = Value::Kind::Constant;
  v.shape = std::move(shape);
  v.floats = std::move(data);
  v.name = std::move(name);
  return v;
}

Value Converter::make_int_constant(Shape shape, std::vector<int64_t> data, std::string name) {
  Value v;
  v.kind = Value::Kind::Constant;
  v.is_int = true;
  v.shape = std::move(shape);
  v.ints = std::move(data);
  v.name = std::move(name);
  return v;
}

// ---- tensors and operators ------------------------------------------------------------------------
std::string Converter::unique(const std::string& hint) {
  std::string name = hint.empty() ? "t" : hint;
  for (int n = 2; !names_.insert(name).second; ++n) name = hint + "_" + std::to_string(n);
  return name;
}

int32_t Converter::add_tensor(const std::string& name, TensorType type, const Shape& shape, std::string data,
                              std::optional<tflite::Quantization> quantization) {
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

int32_t Converter::float_tensor(const std::string& name, const Shape& shape, const std::vector<float>& data) {
  return add_tensor(name, TensorType::Float32, shape, bytes_of(data));
}

int32_t Converter::int32_tensor(const Shape& shape, const std::vector<int64_t>& data) {
  std::vector<int32_t> narrow(data.begin(), data.end());
  std::string key = bytes_of(narrow) + "|" + std::to_string(shape.size());
  for (int64_t d : shape) key += "," + std::to_string(d);
  if (auto it = int32_cache_.find(key); it != int32_cache_.end()) return it->second;
  return int32_cache_[key] = add_tensor("const_i32_" + std::to_string(int32_cache_.size()), TensorType::Int32,
                                        shape, bytes_of(narrow));
}

int32_t Converter::emit(BuiltinOperator op, std::vector<int32_t> inputs, const std::string& name, TensorType type,
                        const Shape& shape, tflite::Options options) {
  const int32_t output = add_tensor(name, type, shape);
  out_.operators.push_back({op, std::move(inputs), {output}, std::move(options)});
  return output;
}

std::string Converter::result_name() const { return node_ ? node_->outputs[0] : std::string("t"); }

int32_t Converter::reshape(int32_t tensor, const Shape& shape, const std::string& name) {
  std::vector<int32_t> new_shape(shape.begin(), shape.end());
  const int32_t t = emit(BuiltinOperator::Reshape,
                         {tensor, int32_tensor({static_cast<int64_t>(shape.size())}, Shape(shape.begin(), shape.end()))},
                         name, out_.tensors[tensor].type, shape, tflite::reshape_options(new_shape));
  out_.tensors[t].quantization = out_.tensors[tensor].quantization;  // an int8 tensor keeps its scale
  return t;
}

int32_t Converter::tensor_in(Value& v, Perm perm) {
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

int32_t Converter::codes_tensor(const Value& v, const Perm& perm) {
  tflite::Quantization q;
  q.scale = v.scales;
  q.zero_point.assign(v.scales.size(), 0);
  const Perm p = full(perm, v.shape.size());
  q.quantized_dimension = static_cast<int32_t>(std::find(p.begin(), p.end(), v.axis) - p.begin());
  const std::string suffix = perm.empty() ? "" : perm == Perm{0, 2, 3, 1} ? "/nhwc" : "/permuted";
  return add_tensor(v.name + ".codes" + suffix, TensorType::Int8, permuted(v.shape, perm),
                    bytes_of(permute_data(v.codes, v.shape, perm)), std::move(q));
}

Value Converter::runtime(int32_t tensor, Shape shape, Perm perm) {
  Value v;
  v.shape = std::move(shape);
  v.tensor = tensor;
  v.perm = normalized(std::move(perm));
  v.type = out_.tensors[tensor].type;
  return v;
}

// ---- elementwise ------------------------------------------------------------------------------------
Value Converter::unary(BuiltinOperator op, Value& x, tflite::Options options, TensorType type) {
  const Perm perm = x.kind == Value::Kind::Runtime ? x.perm : Perm{};
  const int32_t t = tensor_in(x, perm);
  return runtime(emit(op, {t}, result_name(), type, permuted(x.shape, perm), std::move(options)), x.shape, perm);
}

std::optional<Value> Converter::fold_binary(std::string_view op, const Value& a, const Value& b) {
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

Value Converter::with_rank(const Value& v, size_t rank) {
  Value out = v;
  out.views.clear();
  while (out.shape.size() < rank) out.shape.insert(out.shape.begin(), 1);
  if (out.kind == Value::Kind::Quantized) out.axis += static_cast<int>(rank - v.shape.size());
  return out;
}

Value Converter::binary(BuiltinOperator op, OptionsType options_type, Value& a, Value& b,
                        TensorType type) {
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
void Converter::lower(const onnx::Node& n) {
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
void Converter::match_gelu() {
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
void Converter::lower_clip(const onnx::Node& n) {
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

void Converter::lower_cast(const onnx::Node& n) {
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

}  // namespace triton::codegen::onnx_to_tflite

namespace triton::codegen {

std::optional<tflite::Model> convert_onnx_to_tflite(const onnx::Model& model, const std::string& producer_version,
                                                    std::string* error) {
  return onnx_to_tflite::Converter(model, producer_version).convert(error);
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

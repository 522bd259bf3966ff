// The ONNX builder's built-in layers (builder.h): each instance of a built-in layer becomes
// its ONNX nodes and initializers. Ternary weights enter as codes + per-channel scales behind
// a DequantizeLinear (weights.h), a batch norm after a layer is folded into its weights, and
// 8-bit activations are the QuantizeLinear/DequantizeLinear pair the -O3 integer lowering
// (integer_lowering.h) later rewrites. The operator helpers that layers and functions share
// (activations, pooling, softmax, flatten, transpose) are here too.
#include "codegen/onnx/builder.h"

namespace triton::codegen::ir_to_onnx {

InitSpec Builder::fan_in_uniform(int64_t fan_in) { return InitSpec::uniform(1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1)))); }

std::string Builder::layer_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape, int64_t fan_in,
                                  bool ternary, const BatchNormFold* fold) {
  const InitSpec init = fan_in_uniform(fan_in);
  if (!ternary) {
    std::vector<float> w = weights_.floats(key, shape, init);
    if (fold) fold->scale_rows(w);
    return initializer(onnx::Tensor::floats(key, shape, std::move(w)));
  }
  const auto& a = l.attrs;
  if (a.str_of("quantization") == "ttq") {
    std::vector<float> w = ttq_weight(l, key, shape, init);
    if (fold) fold->scale_rows(w);
    return initializer(onnx::Tensor::floats(key, shape, std::move(w)));
  }
  const bool per_channel = a.str_of("scaling") != "per_layer";
  // Integer weights ("int8", "int4"): their own codes, as int8 (or int4 where the file's
  // code type is int4 and the layer's codes fit); never narrower than the codes.
  const std::string& method = a.str_of("quantization");
  if (method == "int8" || method == "int4") {
    onnx::TernaryWeight t = onnx::quantize_integer(weights_.floats(key, shape, init), shape[0], method == "int8" ? 127 : 7, per_channel);
    const DataType type = options_.code_type == DataType::Float ? DataType::Float
                          : method == "int4" && options_.code_type == DataType::Int4 ? DataType::Int4
                                                                                      : DataType::Int8;
    return coded_weight(l, key, shape, std::move(t), type, fold);
  }
  const double threshold = a.get("threshold").is_number() ? a.get("threshold").as_number() : 0.7;
  return coded_weight(l, key, shape, weights_.ternary(key, shape, init, threshold, per_channel), options_.code_type, fold);
}

std::string Builder::coded_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape, onnx::TernaryWeight t,
                                  DataType type, const BatchNormFold* fold) {
  if (fold) fold->scale_ternary(t);
  if (type == DataType::Float) {
    std::vector<float> w(t.codes.size());
    const size_t per_row = t.scales.empty() ? 0 : w.size() / t.scales.size();
    for (size_t i = 0; i < w.size(); ++i) w[i] = t.scales[i / per_row] * static_cast<float>(t.codes[i]);
    return initializer(onnx::Tensor::floats(key, shape, w));
  }
  const std::string codes = initializer(onnx::Tensor::codes(key + ".codes", type, shape, t.codes));
  const std::string scales = initializer(onnx::Tensor::floats(key + ".scales", {shape[0]}, t.scales));
  return node("DequantizeLinear", {codes, scales}, {Attribute::of_int("axis", 0)}, l.path, unique(key));
}

std::string Builder::layer_bias(const std::string& key, int64_t n, int64_t fan_in, bool has_bias,
                                const BatchNormFold* fold) {
  std::vector<float> b = has_bias ? weights_.floats(key, {n}, fan_in_uniform(fan_in)) : std::vector<float>(static_cast<size_t>(n), 0.0f);
  if (fold) fold->fold_bias(b);
  return initializer(onnx::Tensor::floats(key, {n}, std::move(b)));
}

BatchNormFold Builder::batch_norm_fold(const LayerInst& norm) {
  const auto& a = norm.attrs;
  const int64_t n = a.int_of("num_features");
  const std::string p = norm.path + ".";
  const size_t count = static_cast<size_t>(n);
  std::vector<float> gamma(count, 1.0f), beta(count, 0.0f);
  if (a.bool_of("affine")) {
    gamma = weights_.floats(p + "weight", {n}, {InitSpec::Kind::Ones});
    beta = weights_.floats(p + "bias", {n}, {});
  }
  const std::vector<float> mean = weights_.floats(p + "running_mean", {n}, {});
  const std::vector<float> var = weights_.floats(p + "running_var", {n}, {InitSpec::Kind::Ones});
  const double eps = a.get("eps").as_number();
  BatchNormFold fold;
  fold.norm_path = norm.path;
  fold.inv.resize(count);
  fold.shift.resize(count);
  for (size_t c = 0; c < count && c < gamma.size() && c < beta.size() && c < mean.size() && c < var.size(); ++c) {
    const double inv = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
    fold.inv[c] = static_cast<float>(inv);
    fold.shift[c] = static_cast<float>(static_cast<double>(beta[c]) - static_cast<double>(mean[c]) * inv);
  }
  return fold;
}

Val Builder::fused_layer(const LayerInst& layer, const LayerInst* norm, const Val& x, SourceRange use) {
  if (!norm) return builtin_layer(layer, x, use);
  const BatchNormFold fold = batch_norm_fold(*norm);
  const auto& a = layer.attrs;
  const std::string& t = layer.type_name;
  if (static_cast<int64_t>(fold.inv.size()) != (t == "TernaryLinear" || t == "Linear" ? a.int_of("out_features") : a.int_of("out_channels")))
    unsupported(use, what(*norm), "its feature count differs from the output channels of " + what(layer));
  if (t == "TernaryLinear" || t == "Linear")
    return linear(layer, layer.path + ".", x, a.int_of("in_features"), a.int_of("out_features"), a.bool_of("bias"),
                  is_ternary_layer(layer), use, &fold);
  return conv(layer, x, t == "TernaryConv1d" ? 1 : 2, use, &fold);
}

std::vector<float> Builder::ttq_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape,
                                       const InitSpec& init) {
  std::vector<float> w = weights_.floats(key, shape, init);
  const double threshold = l.attrs.get("threshold").is_number() ? l.attrs.get("threshold").as_number() : 0.7;
  const onnx::TernaryWeight twn = onnx::ternarize(w, 1, threshold, false);
  const double start = twn.scales.empty() ? 0.0 : twn.scales[0];
  const float positive = weights_.floats(l.path + ".ttq_positive", {}, InitSpec::constant(start))[0];
  const float negative = weights_.floats(l.path + ".ttq_negative", {}, InitSpec::constant(start))[0];
  double mean = 0.0;
  for (float v : w) mean += std::fabs(static_cast<double>(v));
  const float delta = static_cast<float>(threshold * (w.empty() ? 0.0 : mean / static_cast<double>(w.size())));
  for (float& v : w) v = v > delta ? positive : (v < -delta ? -negative : 0.0f);
  return w;
}

bool Builder::is_ternary_layer(const LayerInst& l) {
  return l.type_name.rfind("Ternary", 0) == 0 && l.attrs.str_of("quantization") != "none";
}

bool Builder::has_8bit_input(const LayerInst& l) const {
  if (l.attrs.get("activation_bits").is_int() && l.attrs.int_of("activation_bits") == 8) return true;
  if (!is_ternary_layer(l) || options_.weights == nullptr) return false;
  const auto it = options_.weights->tensors.find(l.path + ".input_amax");
  return it != options_.weights->tensors.end() && it->second.dtype == "F32" && it->second.element_count() == 1;
}

Val Builder::fake_quantize_input(const LayerInst& l, const Val& x) {
  if (!has_8bit_input(l)) return x;
  const std::string key = l.path + ".input_amax";
  const float amax = weights_.floats(key, {}, {})[0];
  const float s = std::max(amax, 1e-8f) / 127.0f;
  const std::string scale = float_const(s);
  if (!int8_zero_point_) int8_zero_point_ = initializer(onnx::Tensor::codes("int8_zero_point", DataType::Int8, {}, {0}));
  const std::string clipped = node("Max", {x.name, float_const(-127.0f * s)}, {}, l.path);
  const std::string q = node("QuantizeLinear", {clipped, scale, *int8_zero_point_}, {}, l.path);
  return Val::tensor(node("DequantizeLinear", {q, scale, *int8_zero_point_}, {}, l.path), x.dims);
}

Val Builder::linear(const LayerInst& l, const std::string& prefix, const Val& x0, int64_t in, int64_t out, bool has_bias, bool ternary,
                    SourceRange use, const BatchNormFold* fold) {
  if (x0.dims.empty() || !(x0.dims.back().is_known() && x0.dims.back().size == in))
    unsupported(use, what(l), "its input's last dimension is not " + std::to_string(in));
  const Val x = ternary ? fake_quantize_input(l, x0) : x0;
  const std::string w = layer_weight(l, prefix + "weight", {out, in}, in, ternary, fold);
  const bool bias = has_bias || fold;
  const std::string b = bias ? layer_bias(prefix + "bias", out, in, has_bias, fold) : std::string();
  std::vector<Dim> dims = x.dims;
  dims.back() = Dim::known(out);
  if (x.dims.size() == 2) {
    std::vector<std::string> inputs = {x.name, w};
    if (bias) inputs.push_back(b);
    const std::string y = node("Gemm", inputs, {Attribute::of_int("transB", 1)}, l.path);
    if (ternary) record_output_range(l, fold, y);
    return Val::tensor(y, dims);
  }
  const std::string wt = node("Transpose", {w}, {Attribute::of_ints("perm", {1, 0})}, l.path);
  std::string y = node("MatMul", {x.name, wt}, {}, l.path);
  if (bias) y = node("Add", {y, b}, {}, l.path);
  return Val::tensor(y, dims);
}

Val Builder::conv(const LayerInst& l, const Val& x0, size_t spatial, SourceRange use, const BatchNormFold* fold) {
  const auto& a = l.attrs;
  if (x0.dims.size() != spatial + 2) unsupported(use, what(l), "its input has rank " + std::to_string(x0.dims.size()));
  const bool ternary = is_ternary_layer(l);
  const Val x = ternary ? fake_quantize_input(l, x0) : x0;
  const int64_t in = a.int_of("in_channels"), out = a.int_of("out_channels"), groups = std::max<int64_t>(1, a.int_of("groups"));
  std::vector<int64_t> kernel = int_list(a.get("kernel_size"), spatial), stride = int_list(a.get("stride"), spatial),
                       padding = int_list(a.get("padding"), spatial), dilation = int_list(a.get("dilation"), spatial);
  std::vector<int64_t> shape = {out, in / groups};
  int64_t fan_in = in / groups;
  for (int64_t k : kernel) {
    shape.push_back(k);
    fan_in *= k;
  }
  const std::string w = layer_weight(l, l.path + ".weight", shape, fan_in, ternary, fold);
  std::vector<std::string> inputs = {x.name, w};
  if (a.bool_of("bias") || fold) inputs.push_back(layer_bias(l.path + ".bias", out, fan_in, a.bool_of("bias"), fold));
  std::vector<int64_t> pads = padding;
  pads.insert(pads.end(), padding.begin(), padding.end());
  std::vector<Dim> dims = {x.dims[0], Dim::known(out)};
  for (size_t i = 0; i < spatial; ++i) {
    const Dim& d = x.dims[2 + i];
    dims.push_back(d.is_known() ? Dim::known((d.size + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1)
                                : Dim::unknown());
  }
  const std::string y = node("Conv", inputs,
                             {Attribute::of_ints("dilations", dilation), Attribute::of_int("group", groups),
                              Attribute::of_ints("kernel_shape", kernel), Attribute::of_ints("pads", pads),
                              Attribute::of_ints("strides", stride)},
                             l.path);
  if (ternary) record_output_range(l, fold, y);
  return Val::tensor(y, dims);
}

Val Builder::batch_norm(const LayerInst& l, const Val& x) {
  const auto& a = l.attrs;
  const int64_t n = a.int_of("num_features");
  const std::string p = l.path + ".";
  std::string scale, bias;
  if (a.bool_of("affine")) {
    scale = initializer(onnx::Tensor::floats(p + "weight", {n}, weights_.floats(p + "weight", {n}, {InitSpec::Kind::Ones})));
    bias = initializer(onnx::Tensor::floats(p + "bias", {n}, weights_.floats(p + "bias", {n}, {})));
  } else {
    scale = initializer(onnx::Tensor::floats(p + "weight", {n}, std::vector<float>(static_cast<size_t>(n), 1.0f)));
    bias = initializer(onnx::Tensor::floats(p + "bias", {n}, std::vector<float>(static_cast<size_t>(n), 0.0f)));
  }
  const std::string mean = initializer(onnx::Tensor::floats(p + "running_mean", {n}, weights_.floats(p + "running_mean", {n}, {})));
  const std::string var = initializer(onnx::Tensor::floats(p + "running_var", {n}, weights_.floats(p + "running_var", {n}, {InitSpec::Kind::Ones})));
  const float eps = static_cast<float>(a.get("eps").as_number());
  return Val::tensor(node("BatchNormalization", {x.name, scale, bias, mean, var}, {Attribute::of_float("epsilon", eps)}, l.path), x.dims);
}

Val Builder::layer_norm_op(const std::string& scope, const Val& x, const std::vector<int64_t>& shape, double eps_d,
                           const std::string& weight_prefix) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::string scale, bias;
  if (!weight_prefix.empty()) {
    scale = initializer(onnx::Tensor::floats(weight_prefix + "weight", shape, weights_.floats(weight_prefix + "weight", shape, {InitSpec::Kind::Ones})));
    bias = initializer(onnx::Tensor::floats(weight_prefix + "bias", shape, weights_.floats(weight_prefix + "bias", shape, {})));
  } else {
    scale = initializer(onnx::Tensor::floats(scope + ".ones", shape, std::vector<float>(static_cast<size_t>(n), 1.0f)));
    bias = initializer(onnx::Tensor::floats(scope + ".zeros", shape, std::vector<float>(static_cast<size_t>(n), 0.0f)));
  }
  return Val::tensor(node("LayerNormalization", {x.name, scale, bias},
                          {Attribute::of_int("axis", -static_cast<int64_t>(shape.size())),
                           Attribute::of_float("epsilon", static_cast<float>(eps_d))},
                          scope),
                     x.dims);
}

Val Builder::gelu(const std::string& scope, const Val& x, const std::string& approximate) {
  if (approximate == "tanh") {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    std::string cube = node("Mul", {x.name, x.name}, {}, scope);
    cube = node("Mul", {cube, x.name}, {}, scope);
    std::string inner = node("Add", {x.name, node("Mul", {cube, float_const(0.044715f)}, {}, scope)}, {}, scope);
    inner = node("Tanh", {node("Mul", {inner, float_const(static_cast<float>(std::sqrt(2.0 / M_PI)))}, {}, scope)}, {}, scope);
    std::string y = node("Mul", {x.name, node("Add", {inner, float_const(1.0f)}, {}, scope)}, {}, scope);
    return Val::tensor(node("Mul", {y, float_const(0.5f)}, {}, scope), x.dims);
  }
  // 0.5 x (1 + erf(x / sqrt(2))): Gelu is an operator only from opset 20.
  std::string e = node("Erf", {node("Div", {x.name, float_const(static_cast<float>(std::sqrt(2.0)))}, {}, scope)}, {}, scope);
  std::string y = node("Mul", {x.name, node("Add", {e, float_const(1.0f)}, {}, scope)}, {}, scope);
  return Val::tensor(node("Mul", {y, float_const(0.5f)}, {}, scope), x.dims);
}

Val Builder::activation(const std::string& kind, const std::string& scope, const Val& x) {
  if (kind == "relu") return Val::tensor(node("Relu", {x.name}, {}, scope), x.dims);
  if (kind == "relu6") return Val::tensor(node("Clip", {x.name, float_const(0.0f), float_const(6.0f)}, {}, scope), x.dims);
  if (kind == "sigmoid") return Val::tensor(node("Sigmoid", {x.name}, {}, scope), x.dims);
  if (kind == "tanh") return Val::tensor(node("Tanh", {x.name}, {}, scope), x.dims);
  if (kind == "silu") return Val::tensor(node("Mul", {x.name, node("Sigmoid", {x.name}, {}, scope)}, {}, scope), x.dims);
  if (kind == "hardswish") return Val::tensor(node("HardSwish", {x.name}, {}, scope), x.dims);
  if (kind == "abs") return Val::tensor(node("Abs", {x.name}, {}, scope), x.dims);
  if (kind == "sqrt") return Val::tensor(node("Sqrt", {x.name}, {}, scope), x.dims);
  if (kind == "exp") return Val::tensor(node("Exp", {x.name}, {}, scope), x.dims);
  if (kind == "log") return Val::tensor(node("Log", {x.name}, {}, scope), x.dims);
  if (kind == "sign") return Val::tensor(node("Sign", {x.name}, {}, scope), x.dims);
  // Both round halves to even, as torch.round does.
  if (kind == "round") return Val::tensor(node("Round", {x.name}, {}, scope), x.dims);
  // A gradient barrier is the identity at inference.
  if (kind == "stop_gradient") return Val::tensor(node("Identity", {x.name}, {}, scope), x.dims);
  internal_error("ONNX backend: unknown activation " + kind);
}

Val Builder::adaptive_pool(const std::string& scope, const Val& x, const ConstValue& size, SourceRange use, const std::string& what_text) {
  const std::vector<int64_t> out = int_list(size, 2);
  if (x.dims.size() != 4) unsupported(use, what_text, "its input is not 4-d");
  if (out.size() == 2 && out[0] == 1 && out[1] == 1)
    return Val::tensor(node("GlobalAveragePool", {x.name}, {}, scope), {x.dims[0], x.dims[1], Dim::known(1), Dim::known(1)});
  if (out.size() != 2 || !x.dims[2].is_known() || !x.dims[3].is_known() || x.dims[2].size % out[0] || x.dims[3].size % out[1])
    unsupported(use, what_text, "adaptive pooling to " + size.to_source() + " does not tile the input evenly");
  const std::vector<int64_t> k = {x.dims[2].size / out[0], x.dims[3].size / out[1]};
  return Val::tensor(node("AveragePool", {x.name}, {Attribute::of_ints("kernel_shape", k), Attribute::of_ints("strides", k)}, scope),
                     {x.dims[0], x.dims[1], Dim::known(out[0]), Dim::known(out[1])});
}

Val Builder::pool(const std::string& op, const std::string& scope, const Val& x, const ConstValue& kernel_v, const ConstValue& stride_v,
                  const ConstValue& padding_v, SourceRange use, const std::string& what_text) {
  if (x.dims.size() != 4) unsupported(use, what_text, "its input is not 4-d");
  const auto kernel = int_list(kernel_v, 2);
  const auto stride = stride_v.is_none() ? kernel : int_list(stride_v, 2);
  const auto padding = int_list(padding_v, 2);
  std::vector<Attribute> attrs = {Attribute::of_ints("kernel_shape", kernel),
                                  Attribute::of_ints("pads", {padding[0], padding[1], padding[0], padding[1]}),
                                  Attribute::of_ints("strides", stride)};
  if (op == "AveragePool") attrs.push_back(Attribute::of_int("count_include_pad", 1));  // PyTorch's default
  std::vector<Dim> dims = {x.dims[0], x.dims[1]};
  for (size_t i = 0; i < 2; ++i) {
    const Dim& d = x.dims[2 + i];
    dims.push_back(d.is_known() ? Dim::known((d.size + 2 * padding[i] - kernel[i]) / stride[i] + 1) : Dim::unknown());
  }
  return Val::tensor(node(op, {x.name}, attrs, scope), dims);
}

Val Builder::softmax(const std::string& op, const std::string& scope, const Val& x, int64_t dim) {
  return Val::tensor(node(op, {x.name}, {Attribute::of_int("axis", normalize_axis(dim, x.dims.size()))}, scope), x.dims);
}

Val Builder::flatten(const std::string& scope, const Val& x, int64_t start, int64_t end, SourceRange use, const std::string& what_text) {
  const size_t rank = x.dims.size();
  if (rank == 0) return x;
  start = normalize_axis(start, rank);
  end = normalize_axis(end, rank);
  if (start < 0 || end >= static_cast<int64_t>(rank) || start > end) unsupported(use, what_text, "its dimensions are out of range");
  std::vector<int64_t> target;
  std::vector<Dim> dims;
  for (int64_t i = 0; i < start; ++i) {
    target.push_back(0);
    dims.push_back(x.dims[i]);
  }
  int64_t n = 1;
  bool known = true;
  for (int64_t i = start; i <= end; ++i) {
    known = known && x.dims[i].is_known();
    if (known) n *= x.dims[i].size;
  }
  target.push_back(-1);
  dims.push_back(known ? Dim::known(n) : Dim::unknown());
  for (size_t i = static_cast<size_t>(end) + 1; i < rank; ++i) {
    if (!x.dims[i].is_known()) unsupported(use, what_text, "a dimension after the flattened ones is known only at run time");
    target.push_back(x.dims[i].size);
    dims.push_back(x.dims[i]);
  }
  return Val::tensor(node("Reshape", {x.name, int64s_const(target)}, {}, scope), dims);
}

Val Builder::transpose(const std::string& scope, const Val& x, std::vector<int64_t> perm) {
  std::vector<Dim> dims;
  for (int64_t& p : perm) {
    p = normalize_axis(p, x.dims.size());
    dims.push_back(x.dims[static_cast<size_t>(p)]);
  }
  return Val::tensor(node("Transpose", {x.name}, {Attribute::of_ints("perm", perm)}, scope), dims);
}

Val Builder::attention(const LayerInst& l, const Val& x, SourceRange use) {
  const auto& a = l.attrs;
  const int64_t e = a.int_of("embed_dim"), h = a.int_of("num_heads"), d = e / h;
  if (x.dims.size() != 3) unsupported(use, what(l), "its input is not [batch, sequence, embed_dim]");
  const bool ternary = a.str_of("quantization") != "none", bias = a.bool_of("bias");
  const std::string s = l.path;
  Val qkv = linear(l, s + ".qkv.", x, e, 3 * e, bias, ternary, use);
  // [B, N, 3E] -> [B, N, 3, H, D] -> [3, B, H, N, D]
  std::string r = node("Reshape", {qkv.name, int64s_const({0, 0, 3, h, d})}, {}, s);
  r = node("Transpose", {r}, {Attribute::of_ints("perm", {2, 0, 3, 1, 4})}, s);
  auto part = [&](int64_t i) { return node("Gather", {r, scalar_int64(i)}, {Attribute::of_int("axis", 0)}, s); };
  const std::string q = part(0), k = part(1), v = part(2);
  const std::string kt = node("Transpose", {k}, {Attribute::of_ints("perm", {0, 1, 3, 2})}, s);
  std::string scores = node("MatMul", {q, kt}, {}, s);
  scores = node("Mul", {scores, float_const(static_cast<float>(1.0 / std::sqrt(static_cast<double>(d))))}, {}, s);
  const std::string weights = node("Softmax", {scores}, {Attribute::of_int("axis", -1)}, s);
  std::string y = node("MatMul", {weights, v}, {}, s);
  y = node("Transpose", {y}, {Attribute::of_ints("perm", {0, 2, 1, 3})}, s);
  y = node("Reshape", {y, int64s_const({0, 0, e})}, {}, s);
  return linear(l, s + ".proj.", Val::tensor(y, x.dims), e, e, bias, ternary, use);
}

Val Builder::ternary_activation(const LayerInst& l, const Val& x) {
  const auto& a = l.attrs;
  const float clip = static_cast<float>(a.get("clip_value").as_number());
  const std::string s = l.path;
  const std::string sign = node("Sign", {x.name}, {}, s);
  if (a.str_of("method") == "sign") {  // sign(0) counts as +1: sign + (1 - |sign|)
    std::string q = node("Add", {sign, node("Sub", {float_const(1.0f), node("Abs", {sign}, {}, s)}, {}, s)}, {}, s);
    return Val::tensor(node("Mul", {q, float_const(clip)}, {}, s), x.dims);
  }
  const float threshold = static_cast<float>(a.get("threshold").as_number()) * clip;
  std::string keep = node("Greater", {node("Abs", {x.name}, {}, s), float_const(threshold)}, {}, s);
  keep = node("Cast", {keep}, {Attribute::of_int("to", static_cast<int64_t>(DataType::Float))}, s);
  return Val::tensor(node("Mul", {node("Mul", {sign, keep}, {}, s), float_const(clip)}, {}, s), x.dims);
}

Val Builder::embedding(const LayerInst& l, const Val& x, SourceRange use) {
  if (x.type != DataType::Int64 && x.type != DataType::Int32)
    unsupported(use, what(l), "its input is not an integer tensor of indices");
  const int64_t n = l.attrs.int_of("num_embeddings"), d = l.attrs.int_of("embedding_dim");
  const std::string key = l.path + ".weight";
  const std::string w = initializer(onnx::Tensor::floats(key, {n, d}, weights_.floats(key, {n, d}, {InitSpec::Kind::Normal, 0.0, 1.0})));
  std::vector<Dim> dims = x.dims;
  dims.push_back(Dim::known(d));
  return Val::tensor(node("Gather", {w, x.name}, {Attribute::of_int("axis", 0)}, l.path), dims);
}

Val Builder::builtin_layer(const LayerInst& l, const Val& x, SourceRange use) {
  const std::string& t = l.type_name;
  const auto& a = l.attrs;
  if (t == "TernaryLinear" || t == "Linear")
    return linear(l, l.path + ".", x, a.int_of("in_features"), a.int_of("out_features"), a.bool_of("bias"), is_ternary_layer(l), use);
  if (t == "TernaryConv2d" || t == "Conv2d") return conv(l, x, 2, use);
  if (t == "TernaryConv1d") return conv(l, x, 1, use);
  if (t == "BatchNorm1d" || t == "BatchNorm2d") return batch_norm(l, x);
  if (t == "LayerNorm") {
    std::vector<int64_t> shape = int_list(a.get("normalized_shape"), 1);
    return layer_norm_op(l.path, x, shape, a.get("eps").as_number(), a.bool_of("elementwise_affine") ? l.path + "." : "");
  }
  if (t == "ReLU") return activation("relu", l.path, x);
  if (t == "ReLU6") return activation("relu6", l.path, x);
  if (t == "SiLU") return activation("silu", l.path, x);
  if (t == "Sigmoid") return activation("sigmoid", l.path, x);
  if (t == "Tanh") return activation("tanh", l.path, x);
  if (t == "Identity" || t == "Dropout") return x;  // eval mode
  if (t == "GELU") return gelu(l.path, x, a.str_of("approximate"));
  if (t == "Softmax") return softmax("Softmax", l.path, x, a.int_of("dim"));
  if (t == "Flatten") return flatten(l.path, x, a.int_of("start_dim"), a.int_of("end_dim"), use, what(l));
  if (t == "MaxPool2d") return pool("MaxPool", l.path, x, a.get("kernel_size"), a.get("stride"), a.get("padding"), use, what(l));
  if (t == "AvgPool2d") return pool("AveragePool", l.path, x, a.get("kernel_size"), a.get("stride"), a.get("padding"), use, what(l));
  if (t == "AdaptiveAvgPool2d") return adaptive_pool(l.path, x, a.get("output_size"), use, what(l));
  if (t == "MultiHeadAttention") return attention(l, x, use);
  if (t == "TernaryActivation") return ternary_activation(l, x);
  if (t == "Embedding") return embedding(l, x, use);
  unsupported(use, what(l), "the ONNX backend has no lowering for `" + t + "` yet");
}

}  // namespace triton::codegen::ir_to_onnx

// The TFLite converter's lowerings of layers (converter.h): 8-bit activations as QUANTIZE /
// DEQUANTIZE, the -O3 integer groups as one int8 operator each, quantized weights behind
// DEQUANTIZE, convolutions and pooling in NHWC with their padding, reductions, Gemm and MatMul
// as FULLY_CONNECTED, softmax, layer norm and batch norm.
#include "codegen/tflite/converter.h"

namespace triton::codegen::onnx_to_tflite {

void Converter::lower_quantize_activation(const onnx::Node& n) {
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

int64_t Converter::int8_zero_point(const Value& zp) {
  if (!zp.is_int || zp.ints.size() != 1) fail("a zero point that is not one integer");
  const int64_t z = zp.is_uint8 ? zp.ints[0] - 128 : zp.ints[0];
  if (z < -128 || z > 127) fail("a zero point out of the int8 range");
  return z;
}

void Converter::lower_integer_group(const onnx::Node& n, const IntegerGroup& g) {
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

void Converter::lower_dequantize(const onnx::Node& n) {
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

Converter::Window Converter::window(const onnx::Node& n, size_t spatial, const Shape& kernel) {
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

int32_t Converter::nhwc_input(Value& x, size_t spatial) {
  if (spatial == 2) return tensor_in(x, {0, 2, 3, 1});
  const int32_t t = tensor_in(x, {0, 2, 1});
  return reshape(t, {x.shape[0], 1, x.shape[2], x.shape[1]}, out_.tensors[t].name + "/2d");
}

Value Converter::from_nhwc(int32_t t, size_t spatial) {
  const std::vector<int32_t> s = out_.tensors[t].shape;
  if (spatial == 2) return runtime(t, {s[0], s[3], s[1], s[2]}, {0, 2, 3, 1});
  const int32_t flat = reshape(t, {s[0], s[2], s[3]}, out_.tensors[t].name + "/1d");
  return runtime(flat, {s[0], s[3], s[2]}, {0, 2, 1});
}

int64_t Converter::window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                              int64_t pad_end) {
  return (in + pad_begin + pad_end - ((kernel - 1) * dilation + 1)) / stride + 1;
}

bool Converter::pads_are_same(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t begin,
                              int64_t end) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
  return begin == total / 2 && end == total - total / 2;
}

int32_t Converter::pad_nhwc(int32_t t, const Window& w, std::optional<float> fill) {
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

tflite::Padding Converter::choose_padding(int32_t& t, const Window& w, bool same_allowed, std::optional<float> fill) {
  const std::vector<int32_t> s = out_.tensors[t].shape;
  if (w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0) return tflite::Padding::Valid;
  if (same_allowed && pads_are_same(s[1], w.kernel_h, w.stride_h, w.dilation_h, w.pad_top, w.pad_bottom) &&
      pads_are_same(s[2], w.kernel_w, w.stride_w, w.dilation_w, w.pad_left, w.pad_right)) {
    return tflite::Padding::Same;
  }
  t = pad_nhwc(t, w, fill);
  return tflite::Padding::Valid;
}

void Converter::lower_conv(const onnx::Node& n) {
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

Value Converter::conv2d(const onnx::Node& n, Value& x, Value w, const std::function<int32_t()>& make_bias,
                        TensorType type, const std::optional<tflite::Quantization>& out_q) {
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

void Converter::lower_pool(const onnx::Node& n) {
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

Value Converter::reduce_mean(Value& x, std::vector<int64_t> axes, bool keep_dims, const std::string& name) {
  return reduce(BuiltinOperator::Mean, x, std::move(axes), keep_dims, name);
}

Value Converter::reduce(BuiltinOperator op, Value& x, std::vector<int64_t> axes, bool keep_dims,
                        const std::string& name) {
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

Value Converter::fully_connected(Value& x, Value& weights_nk, int32_t bias, const std::string& name) {
  const int32_t input = tensor_in(x, {});
  const int32_t weights = tensor_in(weights_nk, {});
  Shape shape = x.shape;
  shape.back() = weights_nk.shape[0];
  const int32_t t = emit(BuiltinOperator::FullyConnected, {input, weights, bias}, name, TensorType::Float32, shape,
                         tflite::fully_connected_options(shape.size() > 2));
  return runtime(t, shape, {});
}

Value Converter::transposed_weight(const Value& w) {
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

void Converter::lower_gemm(const onnx::Node& n) {
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

void Converter::lower_matmul(const onnx::Node& n) {
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

Perm Converter::last_axis_layout(const Value& x) {
  if (x.kind == Value::Kind::Runtime && !x.perm.empty() && x.perm.back() == static_cast<int>(x.shape.size()) - 1) {
    return x.perm;
  }
  return {};
}

void Converter::lower_softmax(const onnx::Node& n) {
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

void Converter::lower_layer_norm(const onnx::Node& n) {
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

void Converter::lower_batch_norm(const onnx::Node& n) {
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

}  // namespace triton::codegen::onnx_to_tflite

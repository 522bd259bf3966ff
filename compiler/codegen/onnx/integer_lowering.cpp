// Implements the integer lowering (integer_lowering.h).
//
// Algorithm:
//   1. Index the graph: the node that produces each value and the nodes that read it.
//   2. Find the fake quantizations: Max(x, c) -> QuantizeLinear(s) -> DequantizeLinear(s),
//      each intermediate value read once (the ONNX backend's `fake_quantize_input`).
//   3. Find the layers to lower: a Conv, or a Gemm (transB, 2-d input), whose input is a
//      fake quantization and whose weight is a DequantizeLinear of integer codes with one
//      scale per output channel (axis 0), with an optional float bias.
//   4. Choose each layer's output quantization. Let z be the layer's output, or the output
//      of the Relu that alone reads it. If every reader of z is a fake quantization and all
//      have the same scale s (the next layers' input scale), z is quantized at s and those
//      fake quantizations disappear: their readers read the layer's quantized output.
//      Otherwise the calibrated range of the output (integer_lowering.h) gives
//      s = amax / 127, or amax / 255 after a Relu. A layer with neither keeps its float form.
//   5. Rewrite each chosen layer, in place:
//        input   Q(x, s_in, uint8 zero point 128) -> DQ  (the Max is gone)
//        weight  the codes as int8 (int4/int2 codes widened); a channel with scale 0 gets
//                scale 1 and codes 0, so the bias scale below stays positive
//        bias    int32 round(b / (s_in * s_w[c])) behind DQ with scale s_in * s_w[c], the
//                exact product onnxruntime's fusion checks
//        Conv    Conv -> Q(s_out, z_out) -> DQ
//        Gemm    MatMul(x, DQ(int8 w^T, axis 1)) -> Sub(-b) -> Q(s_out, z_out) -> DQ: with
//                per-channel weights onnxruntime fuses no Gemm, and a MatMul + Add would be
//                fused into a float Gemm before its QDQ fusion runs (hence Sub)
//      z_out is 0 after a Relu (uint8 saturates at 0, so the Relu is dropped), else 128.
//   6. Drop initializers that no node reads any more.
//
// Deviations from PyTorch's fake quantization (docs/onnx-export.md, "Integer lowering"):
// after a Relu the uint8 range is [0, 255 s], so a value above the next layer's amax
// saturates at 2 amax instead of amax; an input below -127.5 s reaches -128 s (PyTorch
// clamps at -127 s); outputs that PyTorch keeps in float (into a residual Add, a pooling,
// the logits) are rounded to 8 bits at their calibrated range; the bias is rounded to
// s_in * s_w[c].
#include "codegen/onnx/integer_lowering.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

namespace triton::codegen::onnx {

namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

struct FakeQuantization {
  size_t max = kNone, quantize = kNone, dequantize = kNone;
  std::string input;  // x
  float scale = 0;
};

struct Layer {
  size_t node = kNone;
  const FakeQuantization* input = nullptr;
  size_t weight_dq = kNone;
  size_t relu = kNone;  // the Relu dropped after it
  float out_scale = 0;
  uint8_t out_zero_point = 128;
  std::vector<const FakeQuantization*> absorbed;  // the next layers' input quantizations
};

class IntegerLowering {
 public:
  IntegerLowering(Model& model, const std::map<std::string, float>& output_amax)
      : graph_(model.graph), output_amax_(output_amax) {}

  void run() {
    index();
    find_fake_quantizations();
    find_layers();
    if (layers_.empty()) return;
    rewrite();
    drop_unread_initializers();
  }

 private:
  // ---- 1. index ---------------------------------------------------------------------------------
  void index() {
    for (size_t i = 0; i < graph_.initializers.size(); ++i) initializer_[graph_.initializers[i].name] = i;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      for (const auto& in : graph_.nodes[i].inputs) readers_[in].push_back(i);
      for (const auto& out : graph_.nodes[i].outputs) producer_[out] = i;
    }
    for (const auto& out : graph_.outputs) readers_[out.name].push_back(kNone);
  }

  const Node* producer(const std::string& value) const {
    auto it = producer_.find(value);
    return it == producer_.end() ? nullptr : &graph_.nodes[it->second];
  }
  size_t producer_index(const std::string& value) const {
    auto it = producer_.find(value);
    return it == producer_.end() ? kNone : it->second;
  }
  const std::vector<size_t>& readers(const std::string& value) const {
    static const std::vector<size_t> none;
    auto it = readers_.find(value);
    return it == readers_.end() ? none : it->second;
  }
  bool read_once(const std::string& value) const { return readers(value).size() == 1 && readers(value)[0] != kNone; }
  Tensor* constant(const std::string& name) {
    auto it = initializer_.find(name);
    return it == initializer_.end() ? nullptr : &graph_.initializers[it->second];
  }
  std::optional<float> scalar(const std::string& name) {
    const Tensor* t = constant(name);
    if (!t || t->type != DataType::Float || t->element_count() != 1) return std::nullopt;
    return t->float_values()[0];
  }

  // ---- 2. fake quantizations ----------------------------------------------------------------------
  void find_fake_quantizations() {
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& dq = graph_.nodes[i];
      if (dq.op_type != "DequantizeLinear" || dq.inputs.size() < 2) continue;
      const size_t qi = producer_index(dq.inputs[0]);
      if (qi == kNone || graph_.nodes[qi].op_type != "QuantizeLinear" || !read_once(dq.inputs[0])) continue;
      const Node& q = graph_.nodes[qi];
      const size_t mi = producer_index(q.inputs[0]);
      if (mi == kNone || graph_.nodes[mi].op_type != "Max" || !read_once(q.inputs[0])) continue;
      const Node& m = graph_.nodes[mi];
      const auto s = scalar(q.inputs[1]);
      if (m.inputs.size() != 2 || !constant(m.inputs[1]) || !s || q.inputs[1] != dq.inputs[1]) continue;
      fake_[dq.outputs[0]] = FakeQuantization{mi, qi, i, m.inputs[0], *s};
      fake_at_max_[mi] = &fake_[dq.outputs[0]];
    }
  }

  const FakeQuantization* fake_quantization(const std::string& value) const {
    auto it = fake_.find(value);
    return it == fake_.end() ? nullptr : &it->second;
  }

  // ---- 3. and 4. layers and their output quantization ---------------------------------------------
  void find_layers() {
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& n = graph_.nodes[i];
      const bool conv = n.op_type == "Conv";
      const bool gemm = n.op_type == "Gemm" && has_int(n, "transB", 1) && !has_int(n, "transA", 1) &&
                        !has_attribute(n, "alpha") && !has_attribute(n, "beta");
      if ((!conv && !gemm) || n.inputs.size() < 2) continue;
      Layer layer;
      layer.node = i;
      layer.input = fake_quantization(n.inputs[0]);
      if (!layer.input || !read_once(n.inputs[0])) continue;
      layer.weight_dq = producer_index(n.inputs[1]);
      if (layer.weight_dq == kNone || !per_channel_codes(graph_.nodes[layer.weight_dq]) || !read_once(n.inputs[1])) continue;
      if (n.inputs.size() > 2 && !float_bias(n.inputs[2])) continue;
      if (!choose_output(layer)) continue;
      layers_.push_back(std::move(layer));
    }
    for (const Layer& l : layers_) {
      for (const FakeQuantization* f : l.absorbed) absorbed_.insert(f);
    }
  }

  static bool has_attribute(const Node& n, std::string_view name) {
    return std::any_of(n.attributes.begin(), n.attributes.end(), [&](const Attribute& a) { return a.name == name; });
  }
  static bool has_int(const Node& n, std::string_view name, int64_t v) {
    return std::any_of(n.attributes.begin(), n.attributes.end(), [&](const Attribute& a) { return a.name == name && a.i == v; });
  }

  bool per_channel_codes(const Node& dq) {
    if (dq.op_type != "DequantizeLinear" || dq.inputs.size() != 2 || has_int(dq, "axis", 1)) return false;
    const Tensor* codes = constant(dq.inputs[0]);
    const Tensor* scales = constant(dq.inputs[1]);
    return codes && scales && codes->code_values() && scales->type == DataType::Float && !codes->dims.empty() &&
           scales->element_count() == codes->dims[0] && scales->dims.size() == 1;
  }

  bool float_bias(const std::string& name) {
    const Tensor* b = constant(name);
    return b && b->type == DataType::Float && b->dims.size() == 1;
  }

  bool choose_output(Layer& layer) {
    const std::string& y = graph_.nodes[layer.node].outputs[0];
    std::string z = y;
    if (read_once(y) && graph_.nodes[readers(y)[0]].op_type == "Relu") {
      layer.relu = readers(y)[0];
      z = graph_.nodes[layer.relu].outputs[0];
    }
    const auto& zr = readers(z);
    bool all_quantized = !zr.empty();
    for (size_t r : zr) {
      if (r == kNone || graph_.nodes[r].op_type != "Max") {
        all_quantized = false;
        break;
      }
      auto it = fake_at_max_.find(r);
      const FakeQuantization* g = it == fake_at_max_.end() ? nullptr : it->second;
      if (!g || (!layer.absorbed.empty() && layer.absorbed[0]->scale != g->scale)) {
        all_quantized = false;
        break;
      }
      layer.absorbed.push_back(g);
    }
    layer.out_zero_point = layer.relu != kNone ? 0 : 128;
    if (all_quantized) {
      layer.out_scale = layer.absorbed[0]->scale;
      return true;
    }
    layer.absorbed.clear();
    auto it = output_amax_.find(y);
    if (it == output_amax_.end()) return false;
    layer.out_scale = std::max(it->second, 1e-8f) / (layer.relu != kNone ? 255.0f : 127.0f);
    return true;
  }

  // ---- 5. rewrite ---------------------------------------------------------------------------------
  std::string add_initializer(Tensor t) {
    std::string name = t.name;
    for (int n = 2; initializer_.count(name) || producer_.count(name); ++n) name = t.name + "_" + std::to_string(n);
    t.name = name;
    initializer_[name] = graph_.initializers.size();
    graph_.initializers.push_back(std::move(t));
    return name;
  }

  std::string fresh(const std::string& hint) {
    std::string name = hint;
    for (int n = 2; producer_.count(name) || initializer_.count(name) || readers_.count(name); ++n)
      name = hint + "_" + std::to_string(n);
    producer_[name] = kNone;
    return name;
  }

  std::string zero_point(uint8_t z) {
    std::string& name = zero_points_[z];
    if (name.empty()) name = add_initializer(Tensor{"uint8_zero_point_" + std::to_string(z), DataType::Uint8, {}, std::string(1, static_cast<char>(z))});
    return name;
  }

  std::string scale_constant(const std::string& hint, float s) {
    return add_initializer(Tensor::floats(hint, {}, {s}));
  }

  Node make(const std::string& op, const std::string& scope, std::vector<std::string> inputs, std::string output,
            std::vector<Attribute> attrs = {}) {
    Node n;
    n.op_type = op;
    n.name = fresh_node_name(scope + "/" + op);
    n.inputs = std::move(inputs);
    n.outputs = {std::move(output)};
    n.attributes = std::move(attrs);
    return n;
  }

  std::string fresh_node_name(const std::string& hint) {
    if (node_names_.empty())
      for (const auto& n : graph_.nodes) node_names_.insert(n.name);
    std::string name = hint;
    for (int n = 2; !node_names_.insert(name).second; ++n) name = hint + "_" + std::to_string(n);
    return name;
  }

  static std::string scope_of(const Node& n) {
    const size_t slash = n.name.rfind('/');
    return slash == std::string::npos ? n.name : n.name.substr(0, slash);
  }

  void rewrite() {
    std::map<size_t, const Layer*> layer_at;
    for (const Layer& l : layers_) layer_at[l.node] = &l;
    std::set<size_t> dropped;        // nodes that disappear
    std::map<size_t, const FakeQuantization*> quantization_at;  // Max index -> group rewritten
    for (const Layer& l : layers_) {
      dropped.insert(l.weight_dq);
      if (l.relu != kNone) dropped.insert(l.relu);
      if (!absorbed_.count(l.input)) quantization_at[l.input->max] = l.input;
    }
    for (const FakeQuantization* f : absorbed_) {
      dropped.insert(f->max);
      dropped.insert(f->quantize);
      dropped.insert(f->dequantize);
    }
    for (const auto& [max, f] : quantization_at) {
      dropped.insert(f->quantize);
      dropped.insert(f->dequantize);
    }
    std::vector<Node> out;
    out.reserve(graph_.nodes.size() + 4 * layers_.size());
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      if (auto it = quantization_at.find(i); it != quantization_at.end()) {
        quantize_input(*it->second, out);
        continue;
      }
      if (dropped.count(i)) continue;
      if (auto it = layer_at.find(i); it != layer_at.end()) {
        lower_layer(*it->second, out);
        continue;
      }
      out.push_back(graph_.nodes[i]);
    }
    for (Node& n : out) {
      for (std::string& in : n.inputs) {
        if (auto it = renamed_.find(in); it != renamed_.end()) in = it->second;
      }
    }
    graph_.nodes = std::move(out);
  }

  // Q(x, s, 128) -> DQ, in place of Max -> Q -> DQ; readers keep the DQ's output name.
  void quantize_input(const FakeQuantization& f, std::vector<Node>& out) {
    const Node& q = graph_.nodes[f.quantize];
    const Node& dq = graph_.nodes[f.dequantize];
    const std::string zp = zero_point(128);
    out.push_back(make("QuantizeLinear", scope_of(q), {f.input, q.inputs[1], zp}, q.outputs[0]));
    out.push_back(make("DequantizeLinear", scope_of(dq), {q.outputs[0], q.inputs[1], zp}, dq.outputs[0]));
  }

  void lower_layer(const Layer& l, std::vector<Node>& out) {
    const Node& n = graph_.nodes[l.node];
    const Node& wdq = graph_.nodes[l.weight_dq];
    const std::string scope = scope_of(n);
    const bool conv = n.op_type == "Conv";
    // The input scale: its own quantization's, or (absorbed) the previous layer's output scale,
    // which is the same number.
    const float s_in = l.input->scale;
    // Copies: adding initializers below may move the vector they live in.
    const Tensor codes_t = *constant(wdq.inputs[0]);
    const Tensor scales_t = *constant(wdq.inputs[1]);
    std::vector<int8_t> codes = *codes_t.code_values();
    std::vector<float> scales = scales_t.float_values();
    const size_t rows = scales.size(), per_row = rows ? codes.size() / rows : 0;
    for (size_t c = 0; c < rows; ++c) {
      if (scales[c] > 0.0f) continue;
      scales[c] = 1.0f;
      std::fill(codes.begin() + static_cast<std::ptrdiff_t>(c * per_row), codes.begin() + static_cast<std::ptrdiff_t>((c + 1) * per_row), 0);
    }
    std::vector<int64_t> dims = codes_t.dims;
    if (!conv) {  // [out, in] -> [in, out]
      std::vector<int8_t> t(codes.size());
      for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < per_row; ++k) t[k * rows + r] = codes[r * per_row + k];
      codes = std::move(t);
      dims = {dims[1], dims[0]};
    }
    const std::string codes_name = add_initializer(Tensor::codes(codes_t.name + ".int8", DataType::Int8, dims, codes));
    const std::string scales_name = add_initializer(Tensor::floats(scales_t.name + ".int8", scales_t.dims, scales));
    const std::string w = fresh(wdq.outputs[0]);
    out.push_back(make("DequantizeLinear", scope_of(wdq), {codes_name, scales_name}, w, {Attribute::of_int("axis", conv ? 0 : 1)}));
    const std::string x = n.inputs[0];  // the input DQ's output (renamed if absorbed)
    std::string y;
    if (conv) {
      std::vector<std::string> inputs = {x, w};
      if (n.inputs.size() > 2) inputs.push_back(int32_bias(n.inputs[2], s_in, scales, scope, out));
      y = fresh(n.outputs[0]);
      Node c = n;
      c.inputs = std::move(inputs);
      c.outputs = {y};
      out.push_back(std::move(c));
    } else {
      y = fresh(n.outputs[0] + "/matmul");
      out.push_back(make("MatMul", scope, {x, w}, y));
      if (n.inputs.size() > 2) {
        std::vector<float> negated = constant(n.inputs[2])->float_values();
        for (float& v : negated) v = -v;
        const std::string nb = add_initializer(Tensor::floats(n.inputs[2] + ".negated", {static_cast<int64_t>(negated.size())}, negated));
        const std::string sub = fresh(n.outputs[0] + "/bias");
        out.push_back(make("Sub", scope, {y, nb}, sub));
        y = sub;
      }
    }
    const std::string s_out = scale_constant(scope + ".output_scale", l.out_scale);
    const std::string zp = zero_point(l.out_zero_point);
    const std::string q = fresh(n.outputs[0] + "/quantized");
    out.push_back(make("QuantizeLinear", scope, {y, s_out, zp}, q));
    const std::string z = graph_.nodes[l.relu != kNone ? l.relu : l.node].outputs[0];
    out.push_back(make("DequantizeLinear", scope, {q, s_out, zp}, z));
    for (const FakeQuantization* f : l.absorbed) renamed_[graph_.nodes[f->dequantize].outputs[0]] = z;
  }

  std::string int32_bias(const std::string& name, float s_in, const std::vector<float>& w_scales, const std::string& scope,
                         std::vector<Node>& out) {
    const std::vector<float> b = constant(name)->float_values();
    std::vector<float> scale(b.size());
    std::string raw(b.size() * 4, '\0');
    for (size_t c = 0; c < b.size(); ++c) {
      scale[c] = s_in * (c < w_scales.size() ? w_scales[c] : 1.0f);
      const double q = std::nearbyint(static_cast<double>(b[c]) / static_cast<double>(scale[c]));
      const auto v = static_cast<int32_t>(std::clamp(q, -2147483648.0, 2147483647.0));
      std::memcpy(raw.data() + 4 * c, &v, 4);
    }
    const int64_t n = static_cast<int64_t>(b.size());
    const std::string codes = add_initializer(Tensor{name + ".int32", DataType::Int32, {n}, raw});
    const std::string scales = add_initializer(Tensor::floats(name + ".int32_scale", {n}, scale));
    const std::string dq = fresh(name + "/dequantized");
    out.push_back(make("DequantizeLinear", scope, {codes, scales}, dq, {Attribute::of_int("axis", 0)}));
    return dq;
  }

  // ---- 6. unread initializers -----------------------------------------------------------------------
  void drop_unread_initializers() {
    std::set<std::string> read;
    for (const Node& n : graph_.nodes)
      for (const auto& in : n.inputs) read.insert(in);
    std::vector<Tensor> kept;
    for (Tensor& t : graph_.initializers)
      if (read.count(t.name)) kept.push_back(std::move(t));
    graph_.initializers = std::move(kept);
  }

  Graph& graph_;
  const std::map<std::string, float>& output_amax_;
  std::map<std::string, size_t> initializer_, producer_;
  std::map<std::string, std::vector<size_t>> readers_;
  std::map<std::string, FakeQuantization> fake_;
  std::map<size_t, const FakeQuantization*> fake_at_max_;  // by the index of its Max
  std::vector<Layer> layers_;
  std::set<const FakeQuantization*> absorbed_;
  std::map<std::string, std::string> renamed_;
  std::map<uint8_t, std::string> zero_points_;
  std::set<std::string> node_names_;
};

}  // namespace

void lower_to_integer(Model& model, const std::map<std::string, float>& output_amax) {
  IntegerLowering(model, output_amax).run();
}

}  // namespace triton::codegen::onnx

// The built-in layer table: attributes with types and defaults, the shape rule and the cost
// of every layer of the language (see builtins.h). Keep in step with the runtime's
// `triton_dsl.layers` classes; a Python test compares the two through `--dump-builtins`.
#include <algorithm>
#include <cmath>

#include "schema/builtins.h"

namespace triton {

namespace {

using CV = ConstValue;

AttrSchema req(std::string_view n, AttrType t, std::string_view doc) {
  return {n, t, true, CV::none(), {}, doc};
}
AttrSchema opt(std::string_view n, AttrType t, CV def, std::string_view doc,
               std::vector<std::string_view> choices = {}) {
  return {n, t, false, std::move(def), std::move(choices), doc};
}

// `single_weight`: the layer also takes "ttq" (trained ternary quantization: a learned
// positive and negative scale per layer) and the integer quantizers "int8" and "int4"
// (symmetric, one scale per output channel), which the single-weight layers implement.
std::vector<AttrSchema> ternary_attrs(bool single_weight = false) {
  std::vector<std::string_view> methods = {"deterministic", "stochastic", "ternary", "none"};
  if (single_weight) methods.insert(methods.end(), {"ttq", "int8", "int4"});
  return {
      opt("quantization", AttrType::Str, CV::of_str("deterministic"),
          single_weight ? "how weights are quantized; \"ttq\" learns a positive and a negative scale, \"int8\"/\"int4\" "
                          "keep 8-/4-bit integer weights, \"none\" keeps a float layer"
                        : "how weights are ternarized; \"none\" keeps a float layer",
          methods),
      opt("threshold", AttrType::Float, CV::of_float(0.7),
          "fraction of mean |w| under which a weight becomes 0"),
      opt("scaling", AttrType::Str, CV::of_str("per_channel"), "granularity of the scale alpha",
          {"per_channel", "per_layer"}),
      opt("gradient_estimator", AttrType::Str, CV::of_str("ste"),
          "straight-through estimator variant", {"ste", "clipped_ste"}),
  };
}

// Only the ternary layers the native engine can run on int8 inputs take it (linear and
// convolutions).
AttrSchema activation_bits_attr() {
  return opt("activation_bits", AttrType::Int, CV::of_int(32),
             "bits of the layer's input: 32 keeps float activations, 8 quantizes them to int8 "
             "with a running per-tensor scale",
             {"8", "32"});
}

std::vector<AttrSchema> concat(std::vector<AttrSchema> a, std::vector<AttrSchema> b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Product of the dimensions that are known; symbolic ones (the batch) count once, so costs
// are per sample.
int64_t per_sample(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.dims.size(); ++i)
    if (s.dims[i].is_known()) p = sat_mul(p, s.dims[i].size);
  return p;
}


ShapeRuleResult need_rank(std::string_view layer, const Shape& in, size_t lo, size_t hi,
                          std::string_view what) {
  if (in.ranked && (in.rank() < lo || in.rank() > hi))
    return ShapeRuleResult::fail("`" + std::string(layer) + "` expects " + std::string(what) +
                                 ", got a tensor of shape " + in.to_string());
  return ShapeRuleResult::ok(in);
}

bool is_ternary(const AttrSet& a) {
  const CV& q = a.get("quantization");
  return !(q.is_str() && q.as_str() == "none");
}

// Whether the packed file stores the layer's weight as 2-bit codes: TTQ's two scales per
// layer and the integer quantizers travel as float32 (docs/packed-format.md), so their
// weights count as float parameters in the size figures.
bool packs_ternary_codes(const AttrSet& a) {
  const CV& q = a.get("quantization");
  if (!q.is_str()) return true;
  const std::string& s = q.as_str();
  return s != "none" && s != "ttq" && s != "int8" && s != "int4";
}

// TTQ's two learned scales are float parameters of the layer.
int64_t ttq_scales(const AttrSet& a) {
  const CV& q = a.get("quantization");
  return q.is_str() && q.as_str() == "ttq" ? 2 : 0;
}

int64_t scales(const AttrSet& a, int64_t out) {
  return a.str_of("scaling") == "per_layer" ? 1 : out;
}

ShapeRuleResult linear_rule(const AttrSet& a, const Shape& in) {
  auto rank = need_rank(a.schema->name, in, 1, 16, "an input of rank at least 1");
  if (!rank.error.empty()) return rank;
  int64_t in_f = a.int_of("in_features"), out_f = a.int_of("out_features");
  if (!in.ranked) return ShapeRuleResult::ok(Shape::unranked());
  Shape out = in;
  const Dim& last = in.dims.back();
  if (last.is_known() && last.size != in_f)
    return ShapeRuleResult::fail("`" + std::string(a.schema->name) + "` expects " +
                                     std::to_string(in_f) + " input features, got " +
                                     std::to_string(last.size),
                                 "in_features");
  out.dims.back() = Dim::known(out_f);
  return ShapeRuleResult::ok(out);
}

LayerCost linear_cost(const AttrSet& a, const Shape& in, const Shape&, bool ternary_layer) {
  LayerCost c;
  int64_t in_f = a.int_of("in_features"), out_f = a.int_of("out_features");
  int64_t w = sat_mul(in_f, out_f);
  if (ternary_layer && packs_ternary_codes(a)) {
    c.ternary_weights = w;
    c.ternary_scales = scales(a, out_f);
  } else {
    c.float_params = w;
  }
  if (a.bool_of("bias")) c.float_params = sat_add(c.float_params, out_f);
  if (ternary_layer) c.float_params = sat_add(c.float_params, ttq_scales(a));
  c.macs = sat_mul(w, in.ranked && in.rank() > 1 ? per_sample(in, 1, in.rank() - 1) : 1);
  return c;
}

// Saturating: each attribute is at most 2^40, but dilation * (kernel - 1) can pass 2^63. A
// saturated span gives a very negative size, which the caller reports as non-positive. A
// padded input shorter than the kernel's span is empty whatever the stride (dividing the
// negative difference would truncate toward zero and give one output).
int64_t conv_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) {
  const int64_t padded = sat_add(n, sat_mul(2, p));
  const int64_t span = sat_add(sat_mul(d, sat_add(k, -1)), 1);
  if (padded < span) return 0;
  return sat_add(padded, -span) / s + 1;
}

// Convolutions over `spatial` trailing dimensions (1: [batch, channels, length], 2:
// [batch, channels, height, width]); a 1-d layer's size attributes are plain ints, which
// `pair_of` reads the same for every index.
ShapeRuleResult conv_rule(const AttrSet& a, const Shape& in, size_t spatial) {
  std::string_view name = a.schema->name;
  int64_t ic = a.int_of("in_channels"), oc = a.int_of("out_channels"), g = a.int_of("groups");
  if (g <= 0) return ShapeRuleResult::fail("`groups` must be positive, got " + std::to_string(g), "groups");
  if (ic % g != 0)
    return ShapeRuleResult::fail("`in_channels` (" + std::to_string(ic) + ") must be divisible by `groups` (" + std::to_string(g) + ")", "groups");
  if (oc % g != 0)
    return ShapeRuleResult::fail("`out_channels` (" + std::to_string(oc) + ") must be divisible by `groups` (" + std::to_string(g) + ")", "groups");
  for (const char* attr : {"kernel_size", "stride", "dilation"})
    for (size_t i = 0; i < spatial; ++i)
      if (a.pair_of(attr, i) < 1)
        return ShapeRuleResult::fail("`" + std::string(attr) + "` must be positive, got " + std::to_string(a.pair_of(attr, i)), attr);
  for (size_t i = 0; i < spatial; ++i)
    if (a.pair_of("padding", i) < 0) return ShapeRuleResult::fail("`padding` must not be negative", "padding");
  auto rank = spatial == 1 ? need_rank(name, in, 3, 3, "a 3-d input [batch, channels, length]")
                           : need_rank(name, in, 4, 4, "a 4-d input [batch, channels, height, width]");
  if (!rank.error.empty()) return rank;
  if (!in.ranked) return ShapeRuleResult::ok(Shape::unranked());
  const Dim& c = in.dims[1];
  if (c.is_known() && c.size != ic)
    return ShapeRuleResult::fail("`" + std::string(name) + "` expects " + std::to_string(ic) +
                                     " input channels, got " + std::to_string(c.size),
                                 "in_channels");
  Shape out = in;
  out.dims[1] = Dim::known(oc);
  static constexpr std::string_view kSide[2][2] = {{"length ", ""}, {"height ", "width "}};
  for (size_t i = 0; i < spatial; ++i) {
    const Dim& d = in.dims[2 + i];
    if (!d.is_known()) continue;
    int64_t o = conv_out(d.size, a.pair_of("kernel_size", i), a.pair_of("stride", i),
                         a.pair_of("padding", i), a.pair_of("dilation", i));
    if (o <= 0)
      return ShapeRuleResult::fail("`" + std::string(name) + "` gives an empty output: input " +
                                       std::string(kSide[spatial - 1][i]) + std::to_string(d.size) +
                                       " is smaller than the kernel",
                                   "kernel_size");
    out.dims[2 + i] = Dim::known(o);
  }
  return ShapeRuleResult::ok(out);
}

LayerCost conv_cost(const AttrSet& a, const Shape& out, size_t spatial, bool ternary_layer) {
  LayerCost c;
  int64_t ic = a.int_of("in_channels"), oc = a.int_of("out_channels"), g = a.int_of("groups");
  int64_t taps = 1;
  for (size_t i = 0; i < spatial; ++i) taps = sat_mul(taps, a.pair_of("kernel_size", i));
  int64_t w = sat_mul(sat_mul(oc, g > 0 ? ic / g : ic), taps);
  if (ternary_layer && packs_ternary_codes(a)) {
    c.ternary_weights = w;
    c.ternary_scales = scales(a, oc);
  } else {
    c.float_params = w;
  }
  if (a.bool_of("bias")) c.float_params = sat_add(c.float_params, oc);
  if (ternary_layer) c.float_params = sat_add(c.float_params, ttq_scales(a));
  c.macs = sat_mul(w, out.ranked && out.rank() == 2 + spatial ? per_sample(out, 2, 2 + spatial) : 1);
  return c;
}

ShapeRuleResult same_shape(const AttrSet&, const Shape& in) { return ShapeRuleResult::ok(in); }
LayerCost no_cost(const AttrSet&, const Shape&, const Shape&) { return {}; }

ShapeRuleResult batchnorm_rule(const AttrSet& a, const Shape& in, size_t lo, size_t hi) {
  auto rank = need_rank(a.schema->name, in, lo, hi,
                        lo == 4 ? "a 4-d input [batch, channels, height, width]"
                                : "a 2-d or 3-d input [batch, features(, length)]");
  if (!rank.error.empty()) return rank;
  int64_t n = a.int_of("num_features");
  if (in.ranked && in.dims[1].is_known() && in.dims[1].size != n)
    return ShapeRuleResult::fail("`" + std::string(a.schema->name) + "` expects " + std::to_string(n) +
                                     " features, got " + std::to_string(in.dims[1].size),
                                 "num_features");
  return ShapeRuleResult::ok(in);
}

LayerCost batchnorm_cost(const AttrSet& a, const Shape&, const Shape&) {
  LayerCost c;
  if (a.bool_of("affine")) c.float_params = sat_mul(2, a.int_of("num_features"));
  return c;
}

std::vector<int64_t> int_list(const CV& v) {
  std::vector<int64_t> out;
  if (v.is_int()) out.push_back(v.as_int());
  if (v.is_list())
    for (const auto& e : v.as_list()) out.push_back(e.is_int() ? e.as_int() : 0);
  return out;
}

ShapeRuleResult layernorm_rule(const AttrSet& a, const Shape& in) {
  auto ns = int_list(a.get("normalized_shape"));
  if (!in.ranked) return ShapeRuleResult::ok(in);
  if (in.rank() < ns.size())
    return ShapeRuleResult::fail("`LayerNorm` normalizes over " + std::to_string(ns.size()) +
                                 " trailing dimensions, got a tensor of shape " + in.to_string(),
                                 "normalized_shape");
  for (size_t i = 0; i < ns.size(); ++i) {
    const Dim& d = in.dims[in.rank() - ns.size() + i];
    if (d.is_known() && d.size != ns[i])
      return ShapeRuleResult::fail("`LayerNorm` expects trailing size " + std::to_string(ns[i]) +
                                       ", got " + std::to_string(d.size) + " in shape " + in.to_string(),
                                   "normalized_shape");
  }
  return ShapeRuleResult::ok(in);
}

LayerCost layernorm_cost(const AttrSet& a, const Shape&, const Shape&) {
  LayerCost c;
  int64_t n = 1;
  for (int64_t d : int_list(a.get("normalized_shape"))) n = sat_mul(n, d);
  if (a.bool_of("elementwise_affine")) c.float_params = sat_mul(2, n);
  return c;
}

// Normalizes a possibly negative dimension index against a rank; -1 when out of range.
int64_t norm_dim(int64_t d, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  if (d < 0) d += r;
  return (d < 0 || d >= r) ? -1 : d;
}

ShapeRuleResult softmax_rule(const AttrSet& a, const Shape& in) {
  if (in.ranked && norm_dim(a.int_of("dim"), in.rank()) < 0)
    return ShapeRuleResult::fail("`Softmax` dimension " + std::to_string(a.int_of("dim")) +
                                     " is out of range for a tensor of shape " + in.to_string(),
                                 "dim");
  return ShapeRuleResult::ok(in);
}

ShapeRuleResult flatten_rule(const AttrSet& a, const Shape& in) {
  if (!in.ranked) return ShapeRuleResult::ok(in);
  int64_t s = norm_dim(a.int_of("start_dim"), in.rank()), e = norm_dim(a.int_of("end_dim"), in.rank());
  if (s < 0 || e < 0 || s > e)
    return ShapeRuleResult::fail("`Flatten` dimensions " + std::to_string(a.int_of("start_dim")) + ".." +
                                     std::to_string(a.int_of("end_dim")) + " do not fit shape " + in.to_string(),
                                 "start_dim");
  Shape out;
  out.ranked = true;
  for (int64_t i = 0; i < s; ++i) out.dims.push_back(in.dims[i]);
  auto p = in.known_product(s, e + 1);
  out.dims.push_back(p ? Dim::known(*p) : Dim::unknown());
  for (size_t i = e + 1; i < in.rank(); ++i) out.dims.push_back(in.dims[i]);
  return ShapeRuleResult::ok(out);
}

ShapeRuleResult pool_rule(const AttrSet& a, const Shape& in) {
  auto rank = need_rank(a.schema->name, in, 3, 4, "a 3-d or 4-d input [batch, channels, height, width]");
  if (!rank.error.empty() || !in.ranked) return rank;
  Shape out = in;
  bool stride_none = a.get("stride").is_none();
  for (size_t i = 0; i < 2; ++i) {
    const Dim& d = in.dims[in.rank() - 2 + i];
    if (!d.is_known()) continue;
    int64_t k = a.pair_of("kernel_size", i);
    int64_t s = stride_none ? k : a.pair_of("stride", i);
    if (k < 1 || s < 1 || a.pair_of("padding", i) < 0)
      return ShapeRuleResult::fail("`" + std::string(a.schema->name) + "` needs a positive kernel and stride and a padding >= 0",
                                   k < 1 ? "kernel_size" : "stride");
    int64_t o = conv_out(d.size, k, s, a.pair_of("padding", i), 1);
    if (o <= 0)
      return ShapeRuleResult::fail("`" + std::string(a.schema->name) + "` kernel " + std::to_string(k) +
                                       " is larger than the input size " + std::to_string(d.size),
                                   "kernel_size");
    out.dims[in.rank() - 2 + i] = Dim::known(o);
  }
  return ShapeRuleResult::ok(out);
}

ShapeRuleResult adaptive_pool_rule(const AttrSet& a, const Shape& in) {
  auto rank = need_rank(a.schema->name, in, 3, 4, "a 3-d or 4-d input [batch, channels, height, width]");
  if (!rank.error.empty() || !in.ranked) return rank;
  Shape out = in;
  out.dims[in.rank() - 2] = Dim::known(a.pair_of("output_size", 0));
  out.dims[in.rank() - 1] = Dim::known(a.pair_of("output_size", 1));
  return ShapeRuleResult::ok(out);
}

ShapeRuleResult embedding_rule(const AttrSet& a, const Shape& in) {
  if (!in.ranked) return ShapeRuleResult::ok(in);
  Shape out = in;
  out.dims.push_back(Dim::known(a.int_of("embedding_dim")));
  return ShapeRuleResult::ok(out);
}

LayerCost embedding_cost(const AttrSet& a, const Shape&, const Shape&) {
  LayerCost c;
  c.float_params = sat_mul(a.int_of("num_embeddings"), a.int_of("embedding_dim"));
  return c;
}

ShapeRuleResult attention_rule(const AttrSet& a, const Shape& in) {
  int64_t e = a.int_of("embed_dim"), h = a.int_of("num_heads");
  if (h <= 0 || e % h != 0)
    return ShapeRuleResult::fail("`embed_dim` (" + std::to_string(e) + ") must be divisible by `num_heads` (" +
                                     std::to_string(h) + ")",
                                 "num_heads");
  auto rank = need_rank("MultiHeadAttention", in, 3, 3, "a 3-d input [batch, sequence, embed_dim]");
  if (!rank.error.empty() || !in.ranked) return rank;
  if (in.dims[2].is_known() && in.dims[2].size != e)
    return ShapeRuleResult::fail("`MultiHeadAttention` expects " + std::to_string(e) +
                                     " embedding features, got " + std::to_string(in.dims[2].size),
                                 "embed_dim");
  return ShapeRuleResult::ok(in);
}

LayerCost attention_cost(const AttrSet& a, const Shape& in, const Shape&) {
  LayerCost c;
  int64_t e = a.int_of("embed_dim");
  int64_t w = sat_mul(4, sat_mul(e, e));  // fused qkv (e -> 3e) and the output projection (e -> e)
  if (is_ternary(a)) {
    c.ternary_weights = w;
    c.ternary_scales = a.str_of("scaling") == "per_layer" ? 2 : sat_mul(4, e);
  } else {
    c.float_params = w;
  }
  if (a.bool_of("bias")) c.float_params = sat_add(c.float_params, sat_mul(4, e));
  int64_t seq = in.ranked && in.rank() == 3 && in.dims[1].is_known() ? in.dims[1].size : 1;
  c.macs = sat_add(sat_mul(seq, w), sat_mul(sat_mul(2, seq), sat_mul(seq, e)));  // projections, q.k^T, attn.v
  return c;
}

std::vector<LayerSchema> make_layers() {
  using T = AttrType;
  auto tl = [](const AttrSet& a, const Shape& i, const Shape& o) { return linear_cost(a, i, o, true); };
  auto fl = [](const AttrSet& a, const Shape& i, const Shape& o) { return linear_cost(a, i, o, false); };
  auto tc1 = [](const AttrSet& a, const Shape&, const Shape& o) { return conv_cost(a, o, 1, true); };
  auto tc = [](const AttrSet& a, const Shape&, const Shape& o) { return conv_cost(a, o, 2, true); };
  auto fc = [](const AttrSet& a, const Shape&, const Shape& o) { return conv_cost(a, o, 2, false); };
  auto conv1_rule = [](const AttrSet& a, const Shape& in) { return conv_rule(a, in, 1); };
  auto conv2_rule = [](const AttrSet& a, const Shape& in) { return conv_rule(a, in, 2); };
  std::vector<AttrSchema> linear = {
      req("in_features", T::Int, "size of each input sample's last dimension"),
      req("out_features", T::Int, "size of each output sample's last dimension"),
      opt("bias", T::Bool, CV::of_bool(true), "learn an additive float bias"),
  };
  std::vector<AttrSchema> conv = {
      req("in_channels", T::Int, "channels of the input"),
      req("out_channels", T::Int, "channels of the output"),
      req("kernel_size", T::IntOrIntList, "kernel height and width"),
      opt("stride", T::IntOrIntList, CV::of_int(1), "step of the kernel"),
      opt("padding", T::IntOrIntList, CV::of_int(0), "zeros added on each side"),
      opt("dilation", T::IntOrIntList, CV::of_int(1), "spacing between kernel taps"),
      opt("groups", T::Int, CV::of_int(1), "blocked connections; in_channels for depthwise"),
      opt("bias", T::Bool, CV::of_bool(true), "learn an additive float bias"),
  };
  std::vector<AttrSchema> conv1d = {
      req("in_channels", T::Int, "channels of the input"),
      req("out_channels", T::Int, "channels of the output"),
      req("kernel_size", T::Int, "kernel length"),
      opt("stride", T::Int, CV::of_int(1), "step of the kernel"),
      opt("padding", T::Int, CV::of_int(0), "zeros added on each side"),
      opt("dilation", T::Int, CV::of_int(1), "spacing between kernel taps"),
      opt("groups", T::Int, CV::of_int(1), "blocked connections; in_channels for depthwise"),
      opt("bias", T::Bool, CV::of_bool(true), "learn an additive float bias"),
  };
  auto bn = [&](std::string_view name, size_t lo, size_t hi) {
    return LayerSchema{name, "batch normalization over the channel dimension",
                       {req("num_features", T::Int, "channels (dimension 1 of the input)"),
                        opt("eps", T::Float, CV::of_float(1e-5), "added to the variance"),
                        opt("momentum", T::Float, CV::of_float(0.1), "running statistics update"),
                        opt("affine", T::Bool, CV::of_bool(true), "learn a scale and a shift")},
                       "num_features", "num_features", false,
                       [lo, hi](const AttrSet& a, const Shape& in) { return batchnorm_rule(a, in, lo, hi); },
                       batchnorm_cost, WidthDim::Channel};
  };
  auto activation = [&](std::string_view name, std::string_view doc) {
    return LayerSchema{name, doc, {}, {}, {}, false, same_shape, no_cost};
  };
  auto pool = [&](std::string_view name, std::string_view doc) {
    return LayerSchema{name, doc,
                       {req("kernel_size", T::IntOrIntList, "window size"),
                        opt("stride", T::OptionalIntOrIntList, CV::none(), "window step; None means kernel_size"),
                        opt("padding", T::IntOrIntList, CV::of_int(0), "implicit padding on each side")},
                       {}, {}, false, pool_rule, no_cost};
  };
  std::vector<LayerSchema> l;
  l.push_back({"TernaryLinear", "fully connected layer with ternary weights",
               concat(concat(linear, ternary_attrs(true)), {activation_bits_attr()}), "in_features", "out_features", false, linear_rule, tl});
  l.push_back({"TernaryConv2d", "2-d convolution with ternary weights",
               concat(concat(conv, ternary_attrs(true)), {activation_bits_attr()}), "in_channels", "out_channels", false, conv2_rule, tc,
               WidthDim::Channel});
  l.push_back({"TernaryConv1d", "1-d convolution with ternary weights over [batch, channels, length]",
               concat(concat(conv1d, ternary_attrs(true)), {activation_bits_attr()}), "in_channels", "out_channels", false, conv1_rule,
               tc1, WidthDim::Channel});
  l.push_back({"TernaryActivation", "quantizes activations with a clipped straight-through gradient",
               {opt("method", T::Str, CV::of_str("ternary"), "output levels", {"sign", "ternary"}),
                opt("clip_value", T::Float, CV::of_float(1.0), "inputs are clipped to [-clip_value, clip_value]"),
                opt("threshold", T::Float, CV::of_float(0.5), "fraction of clip_value under which ternary gives 0")},
               {}, {}, false, same_shape, no_cost});
  l.push_back({"Linear", "float fully connected layer", linear, "in_features", "out_features", false, linear_rule, fl});
  l.push_back({"Conv2d", "float 2-d convolution", conv, "in_channels", "out_channels", false, conv2_rule, fc, WidthDim::Channel});
  l.push_back(bn("BatchNorm1d", 2, 3));
  l.push_back(bn("BatchNorm2d", 4, 4));
  l.push_back({"LayerNorm", "layer normalization over the trailing dimensions",
               {req("normalized_shape", T::IntOrIntList, "trailing dimensions normalized over"),
                opt("eps", T::Float, CV::of_float(1e-5), "added to the variance"),
                opt("elementwise_affine", T::Bool, CV::of_bool(true), "learn a scale and a shift")},
               "normalized_shape", "normalized_shape", false, layernorm_rule, layernorm_cost});
  l.push_back(activation("ReLU", "max(x, 0)"));
  l.push_back(activation("ReLU6", "min(max(x, 0), 6)"));
  l.push_back(activation("SiLU", "x * sigmoid(x)"));
  l.push_back(activation("Sigmoid", "1 / (1 + exp(-x))"));
  l.push_back(activation("Tanh", "hyperbolic tangent"));
  l.push_back(activation("Identity", "returns its input"));
  l.push_back({"GELU", "Gaussian error linear unit",
               {opt("approximate", T::Str, CV::of_str("none"), "\"tanh\" for the tanh approximation", {"none", "tanh"})},
               {}, {}, false, same_shape, no_cost});
  l.push_back({"Softmax", "softmax along one dimension",
               {opt("dim", T::Int, CV::of_int(-1), "dimension that sums to 1")}, {}, {}, false, softmax_rule, no_cost});
  l.push_back({"Dropout", "zeroes elements with probability p during training",
               {opt("p", T::Float, CV::of_float(0.5), "probability of an element being zeroed")},
               {}, {}, false, same_shape, no_cost});
  l.push_back({"Flatten", "flattens a range of dimensions into one",
               {opt("start_dim", T::Int, CV::of_int(1), "first dimension flattened"),
                opt("end_dim", T::Int, CV::of_int(-1), "last dimension flattened")},
               {}, {}, false, flatten_rule, no_cost});
  l.push_back(pool("MaxPool2d", "2-d max pooling"));
  l.push_back(pool("AvgPool2d", "2-d average pooling"));
  l.push_back({"AdaptiveAvgPool2d", "2-d average pooling to a fixed output size",
               {req("output_size", T::IntOrIntList, "output height and width")},
               {}, {}, false, adaptive_pool_rule, no_cost});
  l.push_back({"Embedding", "lookup table of float vectors",
               {req("num_embeddings", T::Int, "size of the dictionary"),
                req("embedding_dim", T::Int, "size of each vector"),
                opt("padding_idx", T::OptionalInt, CV::none(), "index whose vector stays zero")},
               {}, "embedding_dim", false, embedding_rule, embedding_cost});
  l.push_back({"Sequential", "runs its child layers in order", {}, {}, {}, true, same_shape, no_cost});
  l.push_back({"MultiHeadAttention", "self-attention over [batch, sequence, embed_dim] with ternary projections",
               concat({req("embed_dim", T::Int, "model width"),
                       req("num_heads", T::Int, "parallel heads; must divide embed_dim"),
                       opt("dropout", T::Float, CV::of_float(0.0), "dropout on attention weights"),
                       opt("bias", T::Bool, CV::of_bool(true), "biases on the projections")},
                      ternary_attrs()),
               "embed_dim", "embed_dim", false, attention_rule, attention_cost});
  return l;
}

}  // namespace

std::string_view attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::Int: return "int";
    case AttrType::Float: return "float";
    case AttrType::Bool: return "bool";
    case AttrType::Str: return "str";
    case AttrType::IntOrIntList: return "int|list[int]";
    case AttrType::OptionalInt: return "int|None";
    case AttrType::OptionalIntOrIntList: return "int|list[int]|None";
  }
  return "?";
}

static bool is_int_list(const ConstValue& v) {
  if (!v.is_list()) return false;
  return std::all_of(v.as_list().begin(), v.as_list().end(), [](const ConstValue& e) { return e.is_int(); });
}

bool attr_value_fits(AttrType t, const ConstValue& v) {
  switch (t) {
    case AttrType::Int: return v.is_int();
    case AttrType::Float: return v.is_number();
    case AttrType::Bool: return v.is_bool();
    case AttrType::Str: return v.is_str();
    case AttrType::IntOrIntList: return v.is_int() || is_int_list(v);
    case AttrType::OptionalInt: return v.is_int() || v.is_none();
    case AttrType::OptionalIntOrIntList: return v.is_int() || v.is_none() || is_int_list(v);
  }
  return false;
}

const AttrSchema* LayerSchema::find_attr(std::string_view attr) const {
  for (const auto& a : attrs)
    if (a.name == attr) return &a;
  return nullptr;
}

const ConstValue& AttrSet::get(std::string_view name) const {
  static const ConstValue none;
  for (size_t i = 0; i < schema->attrs.size() && i < values.size(); ++i)
    if (schema->attrs[i].name == name) return values[i];
  return none;
}

int64_t AttrSet::int_of(std::string_view name) const {
  const ConstValue& v = get(name);
  return v.is_int() ? v.as_int() : 0;
}

int64_t AttrSet::pair_of(std::string_view name, size_t i) const {
  const ConstValue& v = get(name);
  if (v.is_int()) return v.as_int();
  if (v.is_list() && !v.as_list().empty()) {
    const auto& l = v.as_list();
    const ConstValue& e = l[std::min(i, l.size() - 1)];
    return e.is_int() ? e.as_int() : 0;
  }
  return 0;
}

bool AttrSet::bool_of(std::string_view name) const {
  const ConstValue& v = get(name);
  return v.is_bool() && v.as_bool();
}

const std::string& AttrSet::str_of(std::string_view name) const {
  static const std::string empty;
  const ConstValue& v = get(name);
  return v.is_str() ? v.as_str() : empty;
}

std::span<const LayerSchema> builtin_layers() {
  static const std::vector<LayerSchema> layers = make_layers();
  return layers;
}

const LayerSchema* find_builtin_layer(std::string_view name) {
  for (const auto& l : builtin_layers())
    if (l.name == name) return &l;
  return nullptr;
}

const BlockSchema& block_schema() {
  static const BlockSchema block{
      {{"in_channels", "out_channels", WidthDim::Channel}, {"in_features", "out_features", WidthDim::Last}},
      {"expand_ratio", "out_channels", "repeat", "stride"},
      "repeat",
      "stride",
  };
  return block;
}

}  // namespace triton

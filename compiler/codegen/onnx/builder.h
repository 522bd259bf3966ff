// The graph builder behind the ONNX backend (onnx_backend.h): the instantiated layers, the
// traced values and the `Builder` that turns the entry model into one ONNX graph. It has
// many members, so they are defined in three files, split by what they build:
//   onnx_backend.cpp       the run (its algorithm is described there), names, nodes and
//                          initializers, diagnostics, instantiation and the tracing of
//                          forward bodies
//   builtin_layers.cpp     the built-in layers: weights (ternary codes behind
//                          DequantizeLinear), folded batch norms, 8-bit activations,
//                          convolutions, norms, pooling, attention, embeddings
//   builtin_functions.cpp  the built-in functions and operators: argument binding,
//                          arithmetic and size arithmetic, matmul, reductions, reshapes,
//                          indexing
// Private to codegen/onnx/: nothing outside the backend includes it.
#pragma once

#include "codegen/onnx/onnx_backend.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "codegen/onnx/integer_lowering.h"
#include "diag/internal_error.h"
#include "ir/const_eval.h"
#include "passes/fusion_patterns.h"

namespace triton::codegen::ir_to_onnx {

using namespace ir;
using onnx::Attribute;
using onnx::DataType;
using onnx::InitSpec;
using Env = std::map<std::string, ConstValue>;

// ---- instantiated layers -------------------------------------------------------------------
struct Slot;

struct LayerInst {
  std::string path;
  std::string type_name;
  const LayerSchema* builtin = nullptr;
  AttrSet attrs;                                    // built-in: concrete, defaults filled in
  std::vector<std::unique_ptr<LayerInst>> children;  // Sequential
  const Module* user = nullptr;
  Env env;                                          // user block: its constants
  std::map<std::string, std::unique_ptr<Slot>> subs;  // user block: submodules by name
  SourceRange range;
};

// A submodule: the layers it runs in order (one for a single layer), absent when its
// condition is false.
struct Slot {
  bool present = true;
  bool fold_norms = false;  // the IR's Submodule::fold_norms
  std::vector<std::unique_ptr<LayerInst>> layers;
};

// A batch norm folded into the layer before it: output row c becomes row c * inv[c], and
// the bias b[c] * inv[c] + shift[c].
struct BatchNormFold {
  std::vector<float> inv, shift;
  std::string norm_path;  // names the folded layer's output range (`<norm>.output_amax`)

  void scale_rows(std::vector<float>& w) const {
    const size_t per_row = inv.empty() ? 0 : w.size() / inv.size();
    for (size_t i = 0; i < w.size() && per_row; ++i) w[i] *= inv[i / per_row];
  }
  // Ternary rows keep their codes: the scale takes |inv| and a negative inv flips the
  // row's codes, so DequantizeLinear's scales stay positive.
  void scale_ternary(onnx::TernaryWeight& t) const {
    const size_t per_row = t.scales.empty() ? 0 : t.codes.size() / t.scales.size();
    for (size_t c = 0; c < t.scales.size() && c < inv.size(); ++c) {
      t.scales[c] *= std::fabs(inv[c]);
      if (inv[c] < 0.0f)
        for (size_t i = c * per_row; i < (c + 1) * per_row; ++i) t.codes[i] = static_cast<int8_t>(-t.codes[i]);
    }
  }
  void fold_bias(std::vector<float>& b) const {
    for (size_t c = 0; c < b.size() && c < inv.size(); ++c) b[c] = b[c] * inv[c] + shift[c];
  }
};

// ---- traced values -------------------------------------------------------------------------
struct Val {
  enum class Kind { Unknown, Tensor, Const, DynInt, Tuple, Layer, None };
  Kind kind = Kind::Unknown;
  std::string name;        // Tensor, DynInt (an int64 tensor of shape [1])
  std::vector<Dim> dims;   // Tensor
  DataType type = DataType::Float;
  ConstValue c;            // Const
  std::vector<Val> elems;  // Tuple (tuples, lists, `x.shape`)
  const Slot* slot = nullptr;  // Layer
  Dim dim;                 // DynInt: what is known about it (a symbol)

  bool is_tensor() const { return kind == Kind::Tensor; }
  static Val tensor(std::string n, std::vector<Dim> d, DataType t = DataType::Float) {
    Val v;
    v.kind = Kind::Tensor;
    v.name = std::move(n);
    v.dims = std::move(d);
    v.type = t;
    return v;
  }
  static Val constant(ConstValue c) {
    Val v;
    v.kind = c.is_none() ? Kind::None : Kind::Const;
    v.c = std::move(c);
    return v;
  }
};

// Thrown to abandon tracing after an `onnx_unsupported` diagnostic (one per compile: the
// rest of the graph would depend on the value that could not be built).
struct Unsupported {};

inline int64_t normalize_axis(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

inline std::vector<int64_t> int_list(const ConstValue& v, size_t n) {
  std::vector<int64_t> out;
  if (v.is_int()) out.assign(n, v.as_int());
  else if (v.is_list())
    for (const auto& e : v.as_list()) out.push_back(e.is_int() ? e.as_int() : 0);
  return out;
}

inline Dim broadcast_dim(const Dim& a, const Dim& b) {
  if (a.is_known() && a.size == 1) return b;
  if (b.is_known() && b.size == 1) return a;
  if (a.is_known()) return a;
  if (b.is_known()) return b;
  return a.kind == Dim::Kind::Symbol ? a : b;
}

inline std::vector<Dim> broadcast(const std::vector<Dim>& a, const std::vector<Dim>& b) {
  std::vector<Dim> out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const Dim da = i < out.size() - a.size() ? Dim::known(1) : a[i - (out.size() - a.size())];
    const Dim db = i < out.size() - b.size() ? Dim::known(1) : b[i - (out.size() - b.size())];
    out[i] = broadcast_dim(da, db);
  }
  return out;
}

class Builder {
 public:
  Builder(const Program& program, DiagnosticEngine& diags, const OnnxOptions& options)
      : program_(program), diags_(diags), options_(options), weights_(options.weights, options.seed) {
    index_elab(program.root);
  }

  std::optional<onnx::Model> run(std::string* error);

 private:
  // ---- names, nodes, initializers ------------------------------------------------------------
  std::string unique(const std::string& hint);

  // Appends a node; returns its (first) output name. `scope` names the layer or function.
  std::string node(const std::string& op, std::vector<std::string> inputs, std::vector<Attribute> attrs,
                   const std::string& scope, std::string output = {});

  std::string initializer(onnx::Tensor t);

  // -O3: the calibrated range of an 8-bit layer's output (after its folded batch norm), when
  // the weights file has one, for the integer lowering.
  void record_output_range(const LayerInst& l, const BatchNormFold* fold, const std::string& value);

  std::string float_const(float v);
  std::string int64s_const(const std::vector<int64_t>& v);
  std::string scalar_int64(int64_t v);
  onnx::Dim graph_dim(const Dim& d);

  // ---- diagnostics ---------------------------------------------------------------------------
  [[noreturn]] void unsupported(SourceRange at, const std::string& what, const std::string& why);
  static std::string describe(const Val& v);

  // ---- instantiation -------------------------------------------------------------------------
  void index_elab(const ElabNode& n);

  // The checker accepted the program, so a constant that does not evaluate is our bug.
  static ConstValue must_eval(const Module& m, ExprId id, const Env& env);

  static ConstValue coerce(const ConstValue& v, const std::string& type);

  // A user block's environment and layers; `attrs` are evaluated in `parent_env` of
  // `owner` (the module that wrote the instance).
  void fill_user(LayerInst& inst, const std::vector<std::pair<std::string, ExprId>>& attrs, const Module& owner,
                 const Env& parent_env);

  std::unique_ptr<LayerInst> instantiate(const Instance& in, const Module& owner, const Env& env, const std::string& path);

  // ---- tracing -------------------------------------------------------------------------------
  struct Frame {
    const LayerInst& inst;
    const Function& f;
    std::vector<std::optional<Val>> vals;
    // `state` tensors assigned so far in this call: later reads see the new value. The
    // graph keeps no state between calls (an ONNX graph is a pure function), so an update
    // outside `if training` lasts for the rest of the call only.
    std::map<std::string, Val> states;
  };

  const Val& get(Frame& fr, ValueId id);
  Val run_user(const LayerInst& inst, const std::vector<Val>& args, const std::vector<std::string>& arg_names,
               SourceRange use);
  static bool truth(const Val& v, bool* known);

  // Runs a region; returns the yielded or returned values.
  std::optional<std::vector<Val>> region(Frame& fr, RegionId r, const std::vector<Val>& args);

  // A declared `param` tensor of the block: an initializer named by its state_dict key.
  Val tensor_ref(const LayerInst& inst, const std::string& name, SourceRange use);

  // Dimension i of a tensor: a constant when known, else Shape -> Slice at run time.
  Val dim_value(const Val& x, size_t i);

  // The one built-in layer behind submodule `name` of a fused op (the passes fuse only
  // plain `layer n: T { }` submodules).
  const LayerInst& single_layer(const LayerInst& inst, const std::string& name, SourceRange use);

  Val call_slot(const Slot& slot, std::vector<Val> args, const std::vector<std::string>& arg_names, SourceRange use);
  Val call_layer(const LayerInst& layer, const std::vector<Val>& args, const std::vector<std::string>& arg_names, SourceRange use);
  static std::string what(const LayerInst& l);

  // ---- built-in layers: builtin_layers.cpp ----------------------------------------------------
  static InitSpec fan_in_uniform(int64_t fan_in);

  // The weight of a Linear/Conv layer as an ONNX value: a float initializer, or codes +
  // scales behind DequantizeLinear for a ternary one.
  std::string layer_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape, int64_t fan_in,
                           bool ternary, const BatchNormFold* fold = nullptr);

  // Codes times per-channel scales (after folding a batch norm's scale into them) as an
  // ONNX value: float (`type` Float: scale * code, exact) or codes of `type` behind
  // DequantizeLinear.
  std::string coded_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape, onnx::TernaryWeight t,
                           DataType type, const BatchNormFold* fold);

  // The bias of a Linear/Conv layer; with a folded batch norm, `bias * inv + shift` (the
  // norm's shift alone when the layer has no bias of its own, `has_bias` false).
  std::string layer_bias(const std::string& key, int64_t n, int64_t fan_in, bool has_bias = true,
                         const BatchNormFold* fold = nullptr);

  // A batch norm after a layer (the IR's `call_fused ... norm=`), as the per-channel affine
  // y = x * inv + shift with inv = gamma / sqrt(running_var + eps) and
  // shift = beta - running_mean * inv, computed in double from the norm's tensors.
  BatchNormFold batch_norm_fold(const LayerInst& norm);

  // The IR's `call_fused`: the layer with its batch norm folded into its weight rows and
  // bias, then the activation as its own node (onnxruntime fuses Conv + Relu itself).
  Val fused_layer(const LayerInst& layer, const LayerInst* norm, const Val& x, SourceRange use);

  // A TTQ layer's weight as the float it computes with (triton_dsl.quant.ttq_weight):
  // positive where w > delta, -negative where w < -delta, 0 between, with
  // delta = threshold * mean |w| over the layer and the two learned scales read from the
  // weights file (`<layer>.ttq_positive`, `<layer>.ttq_negative`; without a file, both the
  // layer's TWN scale, as the PyTorch layer starts). Two scales per layer are not one scale
  // per channel, so the weight travels as float.
  std::vector<float> ttq_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape,
                                const InitSpec& init);

  static bool is_ternary_layer(const LayerInst& l);
  // Whether the layer's input is quantized to 8 bits: trained so (`activation_bits: 8`), or
  // calibrated after training (a ternary layer whose weights file holds `<path>.input_amax`:
  // float-activation layers have no such tensor, calibration adds it).
  bool has_8bit_input(const LayerInst& l) const;

  // 8-bit activations: x_hat = clamp(round(x / s), -127, 127) * s, s = max(amax, 1e-8) / 127
  // (triton_dsl.quant.fake_quantize_int8), written as the QDQ pair onnxruntime's int8
  // kernels are selected by: Max with -127 s (so QuantizeLinear's saturation never reaches
  // -128, which the layer's symmetric range excludes; 127 is int8's own top), QuantizeLinear
  // to int8 with zero point 0 (round half to even, like torch.round), DequantizeLinear.
  // Not a Clip: onnxruntime drops a Clip before QuantizeLinear as redundant with the
  // saturation, which turns -127 into -128 for inputs below -127.5 s.
  Val fake_quantize_input(const LayerInst& l, const Val& x);

  Val linear(const LayerInst& l, const std::string& prefix, const Val& x0, int64_t in, int64_t out, bool has_bias, bool ternary,
             SourceRange use, const BatchNormFold* fold = nullptr);
  Val conv(const LayerInst& l, const Val& x0, size_t spatial, SourceRange use, const BatchNormFold* fold = nullptr);
  Val batch_norm(const LayerInst& l, const Val& x);
  Val layer_norm_op(const std::string& scope, const Val& x, const std::vector<int64_t>& shape, double eps_d,
                    const std::string& weight_prefix);
  Val gelu(const std::string& scope, const Val& x, const std::string& approximate);
  Val activation(const std::string& kind, const std::string& scope, const Val& x);

  // Global average pooling to `out` x `out`: GlobalAveragePool for 1, else an AveragePool
  // whose window tiles the input exactly (what adaptive pooling does then).
  Val adaptive_pool(const std::string& scope, const Val& x, const ConstValue& size, SourceRange use, const std::string& what_text);

  Val pool(const std::string& op, const std::string& scope, const Val& x, const ConstValue& kernel_v, const ConstValue& stride_v,
           const ConstValue& padding_v, SourceRange use, const std::string& what_text);
  Val softmax(const std::string& op, const std::string& scope, const Val& x, int64_t dim);

  // torch.flatten(x, start, end) as a Reshape: dimensions before `start` copied (0), the
  // flattened run inferred (-1), those after it kept.
  Val flatten(const std::string& scope, const Val& x, int64_t start, int64_t end, SourceRange use, const std::string& what_text);

  Val transpose(const std::string& scope, const Val& x, std::vector<int64_t> perm);
  Val attention(const LayerInst& l, const Val& x, SourceRange use);
  Val ternary_activation(const LayerInst& l, const Val& x);

  // A lookup table: Gather of the weight's rows by integer indices of any shape; the
  // output has the indices' shape plus the embedding dimension.
  Val embedding(const LayerInst& l, const Val& x, SourceRange use);

  Val builtin_layer(const LayerInst& l, const Val& x, SourceRange use);

  // ---- built-in functions and operators: builtin_functions.cpp ----------------------------------
  // Binds call arguments to the schema's parameters (positional, then by name; defaults
  // for the rest).
  static std::vector<Val> bind(const FunctionSchema& f, const std::vector<Val>& args, const std::vector<std::string>& names);

  const Val& tensor_arg(const std::vector<Val>& a, size_t i, const FunctionSchema& f, SourceRange use);
  int64_t int_arg(const std::vector<Val>& a, size_t i, const FunctionSchema& f, SourceRange use);

  // A tensor operand of arithmetic: tensors as they are, numbers as float scalars.
  std::string operand(const Val& v, SourceRange use, const std::string& what_text);

  Val elementwise(const std::string& op, const Val& a, const Val& b, SourceRange use, const std::string& what_text,
                  DataType result = DataType::Float);
  Val binary(BinaryOp op, const Val& a, const Val& b, SourceRange use);

  // `b * 2` and the like, for sizes read from `x.shape` at run time: int64 arithmetic on
  // their [1] tensors (sizes are non-negative, so ONNX's truncating Div is floor division).
  std::optional<Val> size_arithmetic(BinaryOp op, const Val& a, const Val& b);

  Val matmul(const Val& a, const Val& b, SourceRange use);

  // A constant argument as a ConstValue: a constant as is, a tuple or list display of
  // constants (`[6, 6]` written in forward) as a list; none when a part is known only at
  // run time.
  static ConstValue const_value(const Val& v);

  std::vector<int64_t> dims_arg(const Val& v, size_t rank);
  Val reduce(const std::string& op, const std::string& scope, const Val& x, const Val& dim, bool keepdim);

  // The size a reshape's -1 stands for, where the rest of the shape tells it: the input's
  // known sizes and named symbols, less those the other entries give (`view(b, -1)` of a
  // `[batch, 4, 4]` tensor, `b` being `batch`, is `[batch, 16]`). Left unknown otherwise.
  static void infer_minus_one(const std::vector<Dim>& in, const std::vector<Val>& entries, std::vector<Dim>& dims);

  Val call_function(const FunctionSchema& f, const std::vector<Val>& raw, const std::vector<std::string>& names, SourceRange use);

  // `ternarize(w)` of a declared `param` weight: its value is known at compile time, so the
  // graph gets its codes and scales (weights.h) behind a DequantizeLinear, as a layer's.
  Val ternarize_param(const std::vector<Val>& a, SourceRange use);

  // x[...]: integers pick (Gather, the dimension disappears), slices with constant bounds cut
  // (Slice), `...` stands for the dimensions not named.
  Val index(Frame& fr, const Op& op);

  std::optional<std::string> int8_zero_point_;  // the shared zero point of 8-bit activations
  std::map<std::string, float> output_amax_;     // calibrated output ranges, by value (-O3)
  const Program& program_;
  DiagnosticEngine& diags_;
  const OnnxOptions& options_;
  int64_t opset_ = 17;
  onnx::WeightSource weights_;
  std::map<std::string, const ElabNode*> elab_;
  std::map<std::string, Val> params_;
  std::map<std::string, std::string> consts_;
  std::set<std::string> names_;
  onnx::Graph graph_;
};

}  // namespace triton::codegen::ir_to_onnx

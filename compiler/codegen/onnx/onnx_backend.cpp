// Implements the ONNX backend (onnx_backend.h). The IR keeps hyper-parameters as
// expressions and joins shapes over instantiations; ONNX needs one concrete graph. So the
// backend instantiates the entry model itself:
//   1. Instantiation: every layer instance gets its path (`layer1.0.conv1`, the PyTorch
//      state_dict prefix), a user block its constant environment (its `params` from the
//      instance's attributes, evaluated in the parent's environment, then its derived
//      constants), a built-in its concrete attributes from the IR's elaborated tree.
//   2. Tracing: the entry forward runs on symbolic values (a tensor is an ONNX value name
//      with a shape whose dimensions are known, or named like `batch`); a user layer's
//      forward is traced inline, so the graph is flat; `if`s and `is None` tests are
//      decided at compile time from constants and present layers.
//   3. Each built-in layer or function appends its ONNX nodes and initializers; ternary
//      weights enter as codes + scales behind a DequantizeLinear (weights.h).
// Anything else is reported as `onnx_unsupported` at the op, naming the layer.
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

namespace triton::codegen {

namespace {

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

int64_t normalize_axis(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

std::vector<int64_t> int_list(const ConstValue& v, size_t n) {
  std::vector<int64_t> out;
  if (v.is_int()) out.assign(n, v.as_int());
  else if (v.is_list())
    for (const auto& e : v.as_list()) out.push_back(e.is_int() ? e.as_int() : 0);
  return out;
}

Dim broadcast_dim(const Dim& a, const Dim& b) {
  if (a.is_known() && a.size == 1) return b;
  if (b.is_known() && b.size == 1) return a;
  if (a.is_known()) return a;
  if (b.is_known()) return b;
  return a.kind == Dim::Kind::Symbol ? a : b;
}

std::vector<Dim> broadcast(const std::vector<Dim>& a, const std::vector<Dim>& b) {
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

  std::optional<onnx::Model> run(std::string* error) {
    onnx::Model model;
    const bool int2 = options_.code_type == DataType::Int2, int4 = options_.code_type == DataType::Int4;
    model.opset = opset_ = int2 ? 25 : int4 ? 21 : 17;
    model.ir_version = int2 ? 13 : int4 ? 10 : 8;  // the IR version of the onnx release of each opset
    model.producer_version = options_.producer_version;
    model.doc_string = "compiled from " + program_.source_name + " by triton --backend onnx";
    const Module& entry = program_.entry_module();
    model.graph.name = entry.name;
    try {
      LayerInst root;
      root.type_name = entry.name;
      root.user = &entry;
      root.range = entry.range;
      Env parent;
      fill_user(root, {}, entry, parent);
      if (!entry.forward) internal_error("the entry model has no forward");
      std::vector<Val> args;
      for (size_t i = 0; i < entry.forward->arg_names.size(); ++i) {
        const std::string name = unique(entry.forward->arg_names[i]);
        std::vector<Dim> dims;
        if (i < program_.inputs.size()) dims = program_.inputs[i].shape.dims;
        onnx::ValueInfo info{name, DataType::Float, {}};
        for (const Dim& d : dims) info.dims.push_back(graph_dim(d));
        graph_.inputs.push_back(info);
        args.push_back(Val::tensor(name, dims));
      }
      Val out = run_user(root, args, {}, entry.range);
      std::vector<Val> outs = out.kind == Val::Kind::Tuple ? out.elems : std::vector<Val>{out};
      for (size_t i = 0; i < outs.size(); ++i) {
        const Val& o = outs[i];
        if (!o.is_tensor()) unsupported(entry.range, "the model's output", "it returns " + describe(o) + ", not a tensor");
        const std::string name = outs.size() == 1 ? "output" : "output_" + std::to_string(i);
        node("Identity", {o.name}, {}, "output", name);
        onnx::ValueInfo info{name, o.type, {}};
        for (const Dim& d : o.dims) info.dims.push_back(graph_dim(d));
        graph_.outputs.push_back(info);
      }
    } catch (const Unsupported&) {
      return std::nullopt;
    }
    if (weights_.failed()) {
      *error = weights_.error();
      return std::nullopt;
    }
    model.graph.nodes = std::move(graph_.nodes);
    model.graph.initializers = std::move(graph_.initializers);
    model.graph.inputs = std::move(graph_.inputs);
    model.graph.outputs = std::move(graph_.outputs);
    if (options_.integer_lowering) onnx::lower_to_integer(model, output_amax_);
    return model;
  }

 private:
  // ---- names, nodes, initializers ------------------------------------------------------------
  std::string unique(const std::string& hint) {
    std::string base = hint.empty() ? "v" : hint;
    std::string name = base;
    for (int n = 2; !names_.insert(name).second; ++n) name = base + "_" + std::to_string(n);
    return name;
  }

  // Appends a node; returns its (first) output name. `scope` names the layer or function.
  std::string node(const std::string& op, std::vector<std::string> inputs, std::vector<Attribute> attrs,
                   const std::string& scope, std::string output = {}) {
    onnx::Node n;
    n.op_type = op;
    n.name = unique(scope + "/" + op);
    n.inputs = std::move(inputs);
    n.attributes = std::move(attrs);
    n.outputs.push_back(output.empty() ? unique(scope + "/" + op + ":0") : output);
    graph_.nodes.push_back(std::move(n));
    return graph_.nodes.back().outputs[0];
  }

  std::string initializer(onnx::Tensor t) {
    t.name = unique(t.name);
    graph_.initializers.push_back(std::move(t));
    return graph_.initializers.back().name;
  }

  std::optional<std::string> int8_zero_point_;  // the shared zero point of 8-bit activations
  std::map<std::string, float> output_amax_;     // calibrated output ranges, by value (-O3)

  // -O3: the calibrated range of an 8-bit layer's output (after its folded batch norm), when
  // the weights file has one, for the integer lowering.
  void record_output_range(const LayerInst& l, const BatchNormFold* fold, const std::string& value) {
    if (!options_.integer_lowering || !options_.weights || !l.attrs.get("activation_bits").is_int() ||
        l.attrs.int_of("activation_bits") != 8)
      return;
    const auto it = options_.weights->tensors.find((fold ? fold->norm_path : l.path) + ".output_amax");
    if (it == options_.weights->tensors.end() || it->second.dtype != "F32" || it->second.element_count() != 1) return;
    output_amax_[value] = it->second.as_floats()[0];
  }

  std::string float_const(float v) {
    const std::string key = "f" + std::to_string(std::bit_cast<uint32_t>(v));
    if (auto it = consts_.find(key); it != consts_.end()) return it->second;
    return consts_[key] = initializer(onnx::Tensor::floats("const_" + std::to_string(consts_.size()), {}, {v}));
  }

  std::string int64s_const(const std::vector<int64_t>& v) {
    std::string key = "i";
    for (int64_t x : v) key += std::to_string(x) + ",";
    if (auto it = consts_.find(key); it != consts_.end()) return it->second;
    return consts_[key] = initializer(onnx::Tensor::int64s("const_" + std::to_string(consts_.size()),
                                                           {static_cast<int64_t>(v.size())}, v));
  }

  std::string scalar_int64(int64_t v) {
    const std::string key = "s" + std::to_string(v);
    if (auto it = consts_.find(key); it != consts_.end()) return it->second;
    return consts_[key] = initializer(onnx::Tensor::int64s("const_" + std::to_string(consts_.size()), {}, {v}));
  }

  onnx::Dim graph_dim(const Dim& d) {
    if (d.is_known()) return {d.size, {}};
    return {-1, d.kind == Dim::Kind::Symbol ? d.symbol : std::string()};
  }

  // ---- diagnostics ---------------------------------------------------------------------------
  [[noreturn]] void unsupported(SourceRange at, const std::string& what, const std::string& why) {
    diags_.report(DiagKind::onnx_unsupported, at, {what, why});
    throw Unsupported{};
  }

  static std::string describe(const Val& v) {
    switch (v.kind) {
      case Val::Kind::Tensor: return "a tensor";
      case Val::Kind::Const: return "the constant " + v.c.to_source();
      case Val::Kind::DynInt: return "a size known only at run time";
      case Val::Kind::Tuple: return "a tuple";
      case Val::Kind::Layer: return "a layer";
      case Val::Kind::None: return "None";
      case Val::Kind::Unknown: break;
    }
    return "an unknown value";
  }

  // ---- instantiation -------------------------------------------------------------------------
  void index_elab(const ElabNode& n) {
    elab_[n.path] = &n;
    for (const auto& c : n.children) index_elab(c);
  }

  // The checker accepted the program, so a constant that does not evaluate is our bug.
  static ConstValue must_eval(const Module& m, ExprId id, const Env& env) {
    auto r = evaluate_constant(m, id, env);
    if (!r.value) internal_error("ONNX backend: cannot evaluate a constant: " + (r.error.empty() ? "a name has no value" : r.error));
    return *r.value;
  }

  static ConstValue coerce(const ConstValue& v, const std::string& type) {
    if (type == "float" && v.is_int()) return ConstValue::of_float(static_cast<double>(v.as_int()));
    if (type == "int" && v.is_float()) {
      auto r = const_to_int(v);
      if (r.value) return *r.value;
    }
    return v;
  }

  // A user block's environment and layers; `attrs` are evaluated in `parent_env` of
  // `owner` (the module that wrote the instance).
  void fill_user(LayerInst& inst, const std::vector<std::pair<std::string, ExprId>>& attrs, const Module& owner,
                 const Env& parent_env) {
    const Module& m = *inst.user;
    for (const ConstantDecl& k : m.constants) {
      std::optional<ConstValue> v;
      if (k.is_parameter)
        for (const auto& [name, e] : attrs)
          if (name == k.name) v = must_eval(owner, e, parent_env);
      if (!v && k.value) v = must_eval(m, *k.value, inst.env);
      if (!v) internal_error("ONNX backend: `" + k.name + "` of `" + m.name + "` has no value");
      inst.env[k.name] = coerce(*v, k.type);
    }
    const std::string prefix = inst.path.empty() ? "" : inst.path + ".";
    for (const Submodule& sub : m.submodules) {
      auto slot = std::make_unique<Slot>();
      slot->fold_norms = sub.fold_norms;
      const std::string base = prefix + sub.name;
      switch (sub.form) {
        case SubmoduleForm::Single:
          slot->layers.push_back(instantiate(sub.instances[0], m, inst.env, base));
          break;
        case SubmoduleForm::Repeat: {
          const int64_t n = must_eval(m, *sub.count, inst.env).as_int();
          for (int64_t i = 0; i < n; ++i)
            slot->layers.push_back(instantiate(sub.instances[i == 0 ? 0 : 1], m, inst.env, base + "." + std::to_string(i)));
          break;
        }
        case SubmoduleForm::List:
        case SubmoduleForm::Conditional: {
          if (sub.condition) {
            const ConstValue c = must_eval(m, *sub.condition, inst.env);
            if (!(!const_unary(ConstUnaryOp::Not, c).value->as_bool())) {
              // A false condition takes the `else` layers where one was written.
              if (sub.has_else) {
                for (size_t i = 0; i < sub.else_instances.size(); ++i)
                  slot->layers.push_back(instantiate(sub.else_instances[i], m, inst.env, base + "." + std::to_string(i)));
              } else {
                slot->present = false;
              }
              break;
            }
          }
          for (size_t i = 0; i < sub.instances.size(); ++i)
            slot->layers.push_back(instantiate(sub.instances[i], m, inst.env, base + "." + std::to_string(i)));
          break;
        }
      }
      inst.subs[sub.name] = std::move(slot);
    }
  }

  std::unique_ptr<LayerInst> instantiate(const Instance& in, const Module& owner, const Env& env, const std::string& path) {
    auto inst = std::make_unique<LayerInst>();
    inst->path = path;
    inst->type_name = in.type_name;
    inst->range = in.range;
    if (in.user) {
      inst->user = &program_.module(*in.user);
      fill_user(*inst, in.attrs, owner, env);
      return inst;
    }
    inst->builtin = in.builtin;
    auto it = elab_.find(path);
    if (it == elab_.end() || (!it->second->attrs && !in.builtin->is_container))
      internal_error("ONNX backend: no elaborated layer at `" + path + "`");
    if (it->second->attrs) inst->attrs = *it->second->attrs;
    for (size_t i = 0; i < in.children.size(); ++i)
      inst->children.push_back(instantiate(in.children[i], owner, env, path + "." + std::to_string(i)));
    return inst;
  }

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

  const Val& get(Frame& fr, ValueId id) {
    auto& v = fr.vals[id.index];
    if (!v) internal_error("ONNX backend: value used before it was defined");
    return *v;
  }

  Val run_user(const LayerInst& inst, const std::vector<Val>& args, const std::vector<std::string>& arg_names,
               SourceRange use) {
    const Function& f = *inst.user->forward;
    std::vector<Val> bound(f.arg_names.size());
    size_t positional = 0;
    for (size_t i = 0; i < args.size(); ++i) {
      size_t slot = positional;
      if (i < arg_names.size() && !arg_names[i].empty()) {
        for (size_t k = 0; k < f.arg_names.size(); ++k)
          if (f.arg_names[k] == arg_names[i]) slot = k;
      } else {
        ++positional;
      }
      if (slot >= bound.size()) unsupported(use, "`" + inst.type_name + "`", "it is called with too many arguments");
      bound[slot] = args[i];
    }
    Frame fr{inst, f, std::vector<std::optional<Val>>(f.values.size())};
    auto r = region(fr, f.body, bound);
    if (!r || r->empty()) internal_error("ONNX backend: forward of `" + inst.type_name + "` returned nothing");
    return (*r)[0];
  }

  static bool truth(const Val& v, bool* known) {
    *known = true;
    if (v.kind == Val::Kind::None) return false;
    if (v.kind == Val::Kind::Layer) return v.slot->present;
    if (v.kind == Val::Kind::Const) return !const_unary(ConstUnaryOp::Not, v.c).value->as_bool();
    *known = false;
    return false;
  }

  // Runs a region; returns the yielded or returned values.
  std::optional<std::vector<Val>> region(Frame& fr, RegionId r, const std::vector<Val>& args) {
    for (OpId id : fr.f.region(r).ops) {
      const Op& op = fr.f.op(id);
      if (op.erased) continue;
      auto set = [&](Val v) { fr.vals[op.results[0].index] = std::move(v); };
      switch (op.kind) {
        case OpKind::Input: {
          const auto& a = attrs_of<InputAttrs>(op);
          set(a.index < args.size() ? args[a.index] : Val::constant(ConstValue::none()));
          break;
        }
        case OpKind::Constant: set(Val::constant(attrs_of<ConstantAttrs>(op).value)); break;
        case OpKind::ConstRef: {
          const auto& name = attrs_of<ConstRefAttrs>(op).name;
          auto it = fr.inst.env.find(name);
          if (it == fr.inst.env.end()) set(tensor_ref(fr.inst, name, op.range));
          else set(Val::constant(it->second));
          break;
        }
        case OpKind::TensorRef: {
          const std::string& name = attrs_of<TensorRefAttrs>(op).name;
          auto it = fr.states.find(name);
          set(it != fr.states.end() ? it->second : tensor_ref(fr.inst, name, op.range));
          break;
        }
        case OpKind::Training: set(Val::constant(ConstValue::of_bool(false))); break;  // inference graph
        case OpKind::AssignState: fr.states[attrs_of<AssignStateAttrs>(op).tensor] = get(fr, op.operands[0]); break;
        case OpKind::LayerRef: {
          Val v;
          v.kind = Val::Kind::Layer;
          auto it = fr.inst.subs.find(attrs_of<LayerRefAttrs>(op).submodule);
          if (it == fr.inst.subs.end() || !it->second->present) v = Val::constant(ConstValue::none());
          else v.slot = it->second.get();
          set(v);
          break;
        }
        case OpKind::CallLayer: {
          const auto& a = attrs_of<CallLayerAttrs>(op);
          std::vector<Val> call_args;
          for (ValueId o : op.operands) call_args.push_back(get(fr, o));
          auto it = fr.inst.subs.find(a.submodule);
          if (it == fr.inst.subs.end() || !it->second->present)
            unsupported(op.range, "layer `" + a.submodule + "`", "it is absent (None) under the default values");
          set(call_slot(*it->second, call_args, a.arg_names, op.range));
          break;
        }
        case OpKind::CallFused: {
          const auto& a = attrs_of<CallFusedAttrs>(op);
          const LayerInst& layer = single_layer(fr.inst, a.layer, op.range);
          const LayerInst* norm = a.norm.empty() ? nullptr : &single_layer(fr.inst, a.norm, op.range);
          const Val x = get(fr, op.operands[0]);
          if (!x.is_tensor()) unsupported(op.range, what(layer), "it takes one tensor, got " + describe(x));
          Val v = fused_layer(layer, norm, x, op.range);
          if (!a.activation.empty()) v = call_function(*find_builtin_function(a.activation), {v}, {""}, op.range);
          set(v);
          break;
        }
        case OpKind::CallFunction: {
          const auto& a = attrs_of<CallFunctionAttrs>(op);
          std::vector<Val> call_args;
          for (ValueId o : op.operands) call_args.push_back(get(fr, o));
          Val v = call_function(*a.function, call_args, a.arg_names, op.range);
          if (op.results.size() > 1) {
            for (size_t i = 0; i < op.results.size() && i < v.elems.size(); ++i) fr.vals[op.results[i].index] = v.elems[i];
          } else {
            set(v);
          }
          break;
        }
        case OpKind::Binary:
          set(binary(attrs_of<BinaryAttrs>(op).op, get(fr, op.operands[0]), get(fr, op.operands[1]), op.range));
          break;
        case OpKind::Unary: {
          const Val& x = get(fr, op.operands[0]);
          const UnaryKind k = attrs_of<UnaryAttrs>(op).op;
          if (x.kind == Val::Kind::Const) {
            auto folded = const_unary(k == UnaryKind::Neg ? ConstUnaryOp::Neg : k == UnaryKind::Plus ? ConstUnaryOp::Plus : ConstUnaryOp::Not, x.c);
            if (!folded.value) unsupported(op.range, "a unary operation", folded.error);
            set(Val::constant(*folded.value));
          } else if (x.is_tensor() && k == UnaryKind::Neg) {
            set(Val::tensor(node("Neg", {x.name}, {}, "neg"), x.dims, x.type));
          } else if (x.is_tensor() && k == UnaryKind::Plus) {
            set(x);
          } else if (k == UnaryKind::Not) {
            bool known = false;
            const bool t = truth(x, &known);
            if (!known) unsupported(op.range, "`not`", "its operand is " + describe(x) + ", known only at run time");
            set(Val::constant(ConstValue::of_bool(!t)));
          } else {
            unsupported(op.range, "a unary operation", "its operand is " + describe(x));
          }
          break;
        }
        case OpKind::IsNone: {
          const Val& x = get(fr, op.operands[0]);
          const bool none = x.kind == Val::Kind::None;
          set(Val::constant(ConstValue::of_bool(attrs_of<IsNoneAttrs>(op).negated ? !none : none)));
          break;
        }
        case OpKind::Member: {
          const Val& x = get(fr, op.operands[0]);
          const auto& member = attrs_of<MemberAttrs>(op).member;
          if (!x.is_tensor() || member != "shape") unsupported(op.range, "`." + member + "`", "only `tensor.shape` is supported");
          Val t;
          t.kind = Val::Kind::Tuple;
          for (size_t i = 0; i < x.dims.size(); ++i) t.elems.push_back(dim_value(x, i));
          set(t);
          break;
        }
        case OpKind::Index: set(index(fr, op)); break;
        case OpKind::MakeTuple:
        case OpKind::MakeList: {
          Val t;
          t.kind = Val::Kind::Tuple;
          for (ValueId o : op.operands) t.elems.push_back(get(fr, o));
          set(t);
          break;
        }
        case OpKind::TupleGet: {
          const Val& t = get(fr, op.operands[0]);
          const auto i = attrs_of<TupleGetAttrs>(op).index;
          if (t.kind != Val::Kind::Tuple || i >= t.elems.size())
            unsupported(op.range, "unpacking", "the value is " + describe(t));
          set(t.elems[i]);
          break;
        }
        case OpKind::Select: {
          bool known = false;
          const bool t = truth(get(fr, op.operands[0]), &known);
          if (!known) unsupported(op.range, "`a if c else b`", "the condition is known only at run time");
          set(get(fr, op.operands[t ? 1 : 2]));
          break;
        }
        case OpKind::If: {
          bool known = false;
          const bool t = truth(get(fr, op.operands[0]), &known);
          if (!known) unsupported(op.range, "`if`", "its condition depends on tensor values (data-dependent control flow)");
          auto ys = region(fr, op.regions[t ? 0 : 1], args);
          for (size_t i = 0; i < op.results.size(); ++i)
            fr.vals[op.results[i].index] = ys && i < ys->size() ? (*ys)[i] : Val::constant(ConstValue::none());
          break;
        }
        case OpKind::Yield:
        case OpKind::Return: {
          std::vector<Val> out;
          for (ValueId o : op.operands) out.push_back(get(fr, o));
          return out;
        }
      }
    }
    return std::nullopt;
  }

  // A declared `param` tensor of the block: an initializer named by its state_dict key.
  Val tensor_ref(const LayerInst& inst, const std::string& name, SourceRange use) {
    const TensorDecl* t = inst.user ? inst.user->find_tensor(name) : nullptr;
    if (!t) unsupported(use, "`" + name + "`", "it is not a constant or a `param` tensor");
    const std::string key = (inst.path.empty() ? "" : inst.path + ".") + name;
    if (auto it = params_.find(key); it != params_.end()) return it->second;
    if (t->condition && !(!const_unary(ConstUnaryOp::Not, must_eval(*inst.user, *t->condition, inst.env)).value->as_bool()))
      return params_[key] = Val::constant(ConstValue::none());
    std::vector<int64_t> shape;
    std::vector<Dim> dims;
    for (ExprId e : t->shape) {
      shape.push_back(must_eval(*inst.user, e, inst.env).as_int());
      dims.push_back(Dim::known(shape.back()));
    }
    auto option = [&](std::string_view o, double fallback) {
      for (const auto& [k, e] : t->options)
        if (k == o) {
          ConstValue v = must_eval(*inst.user, e, inst.env);
          if (v.is_number()) return v.as_number();
        }
      return fallback;
    };
    InitSpec init;
    const std::string& kind = t->init;
    const int64_t fan_in = shape.size() >= 2 ? [&] {
      int64_t f = 1;
      for (size_t i = 1; i < shape.size(); ++i) f *= shape[i];
      return f;
    }() : 1;
    const int64_t fan_out = shape.empty() ? 1 : shape[0] * (fan_in / std::max<int64_t>(1, shape.size() >= 2 ? shape[1] : 1));
    if (kind.empty() || kind == "zeros") init = {};
    else if (kind == "ones") init.kind = InitSpec::Kind::Ones;
    else if (kind == "constant") init = InitSpec::constant(option("value", 0.0));
    else if (kind == "normal") init = {InitSpec::Kind::Normal, option("mean", 0.0), option("std", 1.0)};
    else if (kind == "uniform") init = {InitSpec::Kind::Uniform, option("a", option("low", 0.0)), option("b", option("high", 1.0))};
    else if (kind == "trunc_normal") {
      const double mean = option("mean", 0.0), sd = option("std", 1.0);
      init = {InitSpec::Kind::TruncNormal, mean, sd, option("a", option("low", mean - 2 * sd)), option("b", option("high", mean + 2 * sd))};
    } else if (kind == "xavier_uniform" || kind == "xavier_normal") {
      const double gain = option("gain", 1.0), sd = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
      init = kind == "xavier_normal" ? InitSpec{InitSpec::Kind::Normal, 0.0, sd} : InitSpec::uniform(sd * std::sqrt(3.0));
    } else if (kind == "kaiming_uniform" || kind == "kaiming_normal") {
      const double slope = option("a", 0.0), sd = std::sqrt(2.0 / (1.0 + slope * slope)) / std::sqrt(static_cast<double>(fan_in));
      init = kind == "kaiming_normal" ? InitSpec{InitSpec::Kind::Normal, 0.0, sd} : InitSpec::uniform(sd * std::sqrt(3.0));
    } else {
      unsupported(t->range, "`param " + name + "`", "its init `" + kind + "` is not known to the ONNX backend");
    }
    const std::string init_name = initializer(onnx::Tensor::floats(key, shape, weights_.floats(key, shape, init)));
    return params_[key] = Val::tensor(init_name, dims);
  }

  // Dimension i of a tensor: a constant when known, else Shape -> Slice at run time.
  Val dim_value(const Val& x, size_t i) {
    if (x.dims[i].is_known()) return Val::constant(ConstValue::of_int(x.dims[i].size));
    const std::string shape = node("Shape", {x.name}, {}, "shape");
    Val v;
    v.kind = Val::Kind::DynInt;
    v.dim = x.dims[i];
    v.name = node("Slice", {shape, int64s_const({static_cast<int64_t>(i)}), int64s_const({static_cast<int64_t>(i) + 1})}, {}, "shape");
    return v;
  }

  // The one built-in layer behind submodule `name` of a fused op (the passes fuse only
  // plain `layer n: T { }` submodules).
  const LayerInst& single_layer(const LayerInst& inst, const std::string& name, SourceRange use) {
    auto it = inst.subs.find(name);
    if (it == inst.subs.end() || !it->second->present || it->second->layers.size() != 1 || !it->second->layers[0]->builtin)
      unsupported(use, "layer `" + name + "`", "a fused layer must be one built-in layer");
    return *it->second->layers[0];
  }

  Val call_slot(const Slot& slot, std::vector<Val> args, const std::vector<std::string>& arg_names, SourceRange use) {
    if (slot.layers.size() != 1 && args.size() != 1)
      unsupported(use, "a layer list", "it is called with " + std::to_string(args.size()) + " arguments");
    for (size_t i = 0; i < slot.layers.size(); ++i) {
      const LayerInst& layer = *slot.layers[i];
      const LayerInst* next = i + 1 < slot.layers.size() ? slot.layers[i + 1].get() : nullptr;
      if (slot.fold_norms && next && layer.builtin && next->builtin && args.size() == 1 && args[0].is_tensor() &&
          passes::fusion::norm_matches(layer.type_name, next->type_name, 0)) {
        args = {fused_layer(layer, next, args[0], use)};
        ++i;
        continue;
      }
      Val v = call_layer(layer, args, arg_names, use);
      args = {v};
    }
    return args[0];
  }

  Val call_layer(const LayerInst& layer, const std::vector<Val>& args, const std::vector<std::string>& arg_names, SourceRange use) {
    if (layer.user) return run_user(layer, args, arg_names, use);
    if (layer.builtin->is_container) {
      Val v = args.empty() ? Val() : args[0];
      for (const auto& c : layer.children) v = call_layer(*c, {v}, {}, use);
      return v;
    }
    if (args.size() != 1 || !args[0].is_tensor())
      unsupported(use, what(layer), "it takes one tensor, got " + (args.empty() ? std::string("nothing") : describe(args[0])));
    return builtin_layer(layer, args[0], use);
  }

  static std::string what(const LayerInst& l) { return "layer `" + l.path + "` (`" + l.type_name + "`)"; }

  // ---- built-in layers -----------------------------------------------------------------------
  static InitSpec fan_in_uniform(int64_t fan_in) { return InitSpec::uniform(1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1)))); }

  // The weight of a Linear/Conv layer as an ONNX value: a float initializer, or codes +
  // scales behind DequantizeLinear for a ternary one.
  std::string layer_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape, int64_t fan_in,
                           bool ternary, const BatchNormFold* fold = nullptr) {
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

  // Codes times per-channel scales (after folding a batch norm's scale into them) as an
  // ONNX value: float (`type` Float: scale * code, exact) or codes of `type` behind
  // DequantizeLinear.
  std::string coded_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape, onnx::TernaryWeight t,
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

  // The bias of a Linear/Conv layer; with a folded batch norm, `bias * inv + shift` (the
  // norm's shift alone when the layer has no bias of its own, `has_bias` false).
  std::string layer_bias(const std::string& key, int64_t n, int64_t fan_in, bool has_bias = true,
                         const BatchNormFold* fold = nullptr) {
    std::vector<float> b = has_bias ? weights_.floats(key, {n}, fan_in_uniform(fan_in)) : std::vector<float>(static_cast<size_t>(n), 0.0f);
    if (fold) fold->fold_bias(b);
    return initializer(onnx::Tensor::floats(key, {n}, std::move(b)));
  }

  // A batch norm after a layer (the IR's `call_fused ... norm=`), as the per-channel affine
  // y = x * inv + shift with inv = gamma / sqrt(running_var + eps) and
  // shift = beta - running_mean * inv, computed in double from the norm's tensors.
  BatchNormFold batch_norm_fold(const LayerInst& norm) {
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

  // The IR's `call_fused`: the layer with its batch norm folded into its weight rows and
  // bias, then the activation as its own node (onnxruntime fuses Conv + Relu itself).
  Val fused_layer(const LayerInst& layer, const LayerInst* norm, const Val& x, SourceRange use) {
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

  // A TTQ layer's weight as the float it computes with (triton_dsl.quant.ttq_weight):
  // positive where w > delta, -negative where w < -delta, 0 between, with
  // delta = threshold * mean |w| over the layer and the two learned scales read from the
  // weights file (`<layer>.ttq_positive`, `<layer>.ttq_negative`; without a file, both the
  // layer's TWN scale, as the PyTorch layer starts). Two scales per layer are not one scale
  // per channel, so the weight travels as float.
  std::vector<float> ttq_weight(const LayerInst& l, const std::string& key, const std::vector<int64_t>& shape,
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

  static bool is_ternary_layer(const LayerInst& l) {
    return l.type_name.rfind("Ternary", 0) == 0 && l.attrs.str_of("quantization") != "none";
  }

  // 8-bit activations: x_hat = clamp(round(x / s), -127, 127) * s, s = max(amax, 1e-8) / 127
  // (triton_dsl.quant.fake_quantize_int8), written as the QDQ pair onnxruntime's int8
  // kernels are selected by: Max with -127 s (so QuantizeLinear's saturation never reaches
  // -128, which the layer's symmetric range excludes; 127 is int8's own top), QuantizeLinear
  // to int8 with zero point 0 (round half to even, like torch.round), DequantizeLinear.
  // Not a Clip: onnxruntime drops a Clip before QuantizeLinear as redundant with the
  // saturation, which turns -127 into -128 for inputs below -127.5 s.
  Val fake_quantize_input(const LayerInst& l, const Val& x) {
    if (!l.attrs.get("activation_bits").is_int() || l.attrs.int_of("activation_bits") != 8) return x;
    const std::string key = l.path + ".input_amax";
    const float amax = weights_.floats(key, {}, {})[0];
    const float s = std::max(amax, 1e-8f) / 127.0f;
    const std::string scale = float_const(s);
    if (!int8_zero_point_) int8_zero_point_ = initializer(onnx::Tensor::codes("int8_zero_point", DataType::Int8, {}, {0}));
    const std::string clipped = node("Max", {x.name, float_const(-127.0f * s)}, {}, l.path);
    const std::string q = node("QuantizeLinear", {clipped, scale, *int8_zero_point_}, {}, l.path);
    return Val::tensor(node("DequantizeLinear", {q, scale, *int8_zero_point_}, {}, l.path), x.dims);
  }

  Val linear(const LayerInst& l, const std::string& prefix, const Val& x0, int64_t in, int64_t out, bool has_bias, bool ternary,
             SourceRange use, const BatchNormFold* fold = nullptr) {
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

  Val conv(const LayerInst& l, const Val& x0, size_t spatial, SourceRange use, const BatchNormFold* fold = nullptr) {
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

  Val batch_norm(const LayerInst& l, const Val& x) {
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

  Val layer_norm_op(const std::string& scope, const Val& x, const std::vector<int64_t>& shape, double eps_d,
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

  Val gelu(const std::string& scope, const Val& x, const std::string& approximate) {
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

  Val activation(const std::string& kind, const std::string& scope, const Val& x) {
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

  // Global average pooling to `out` x `out`: GlobalAveragePool for 1, else an AveragePool
  // whose window tiles the input exactly (what adaptive pooling does then).
  Val adaptive_pool(const std::string& scope, const Val& x, const ConstValue& size, SourceRange use, const std::string& what_text) {
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

  Val pool(const std::string& op, const std::string& scope, const Val& x, const ConstValue& kernel_v, const ConstValue& stride_v,
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

  Val softmax(const std::string& op, const std::string& scope, const Val& x, int64_t dim) {
    return Val::tensor(node(op, {x.name}, {Attribute::of_int("axis", normalize_axis(dim, x.dims.size()))}, scope), x.dims);
  }

  // torch.flatten(x, start, end) as a Reshape: dimensions before `start` copied (0), the
  // flattened run inferred (-1), those after it kept.
  Val flatten(const std::string& scope, const Val& x, int64_t start, int64_t end, SourceRange use, const std::string& what_text) {
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

  Val transpose(const std::string& scope, const Val& x, std::vector<int64_t> perm) {
    std::vector<Dim> dims;
    for (int64_t& p : perm) {
      p = normalize_axis(p, x.dims.size());
      dims.push_back(x.dims[static_cast<size_t>(p)]);
    }
    return Val::tensor(node("Transpose", {x.name}, {Attribute::of_ints("perm", perm)}, scope), dims);
  }

  Val attention(const LayerInst& l, const Val& x, SourceRange use) {
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

  Val ternary_activation(const LayerInst& l, const Val& x) {
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

  // A lookup table: Gather of the weight's rows by integer indices of any shape; the
  // output has the indices' shape plus the embedding dimension.
  Val embedding(const LayerInst& l, const Val& x, SourceRange use) {
    if (x.type != DataType::Int64 && x.type != DataType::Int32)
      unsupported(use, what(l), "its input is not an integer tensor of indices");
    const int64_t n = l.attrs.int_of("num_embeddings"), d = l.attrs.int_of("embedding_dim");
    const std::string key = l.path + ".weight";
    const std::string w = initializer(onnx::Tensor::floats(key, {n, d}, weights_.floats(key, {n, d}, {InitSpec::Kind::Normal, 0.0, 1.0})));
    std::vector<Dim> dims = x.dims;
    dims.push_back(Dim::known(d));
    return Val::tensor(node("Gather", {w, x.name}, {Attribute::of_int("axis", 0)}, l.path), dims);
  }

  Val builtin_layer(const LayerInst& l, const Val& x, SourceRange use) {
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

  // ---- built-in functions ----------------------------------------------------------------------
  // Binds call arguments to the schema's parameters (positional, then by name; defaults
  // for the rest).
  static std::vector<Val> bind(const FunctionSchema& f, const std::vector<Val>& args, const std::vector<std::string>& names) {
    std::vector<Val> out;
    std::vector<bool> given(f.params.size(), false);
    out.resize(f.params.size());
    size_t positional = 0;
    for (size_t i = 0; i < args.size(); ++i) {
      size_t slot = positional;
      if (i < names.size() && !names[i].empty()) {
        for (size_t k = 0; k < f.params.size(); ++k)
          if (f.params[k].name == names[i]) slot = k;
      } else {
        ++positional;
      }
      if (slot < out.size()) {
        out[slot] = args[i];
        given[slot] = true;
      }
    }
    for (size_t k = 0; k < f.params.size(); ++k)
      if (!given[k]) out[k] = Val::constant(f.params[k].default_value);
    return out;
  }

  const Val& tensor_arg(const std::vector<Val>& a, size_t i, const FunctionSchema& f, SourceRange use) {
    if (!a[i].is_tensor()) unsupported(use, "`" + std::string(f.name) + "`", "argument `" + std::string(f.params[i].name) + "` is " + describe(a[i]));
    return a[i];
  }
  int64_t int_arg(const std::vector<Val>& a, size_t i, const FunctionSchema& f, SourceRange use) {
    if (a[i].kind != Val::Kind::Const || !a[i].c.is_int())
      unsupported(use, "`" + std::string(f.name) + "`", "argument `" + std::string(f.params[i].name) + "` is " + describe(a[i]) + ", not a constant int");
    return a[i].c.as_int();
  }

  // A tensor operand of arithmetic: tensors as they are, numbers as float scalars.
  std::string operand(const Val& v, SourceRange use, const std::string& what_text) {
    if (v.is_tensor()) return v.name;
    if (v.kind == Val::Kind::Const && v.c.is_number()) return float_const(static_cast<float>(v.c.as_number()));
    if (v.kind == Val::Kind::Const && v.c.is_bool()) return float_const(v.c.as_bool() ? 1.0f : 0.0f);
    unsupported(use, what_text, "an operand is " + describe(v));
  }

  Val elementwise(const std::string& op, const Val& a, const Val& b, SourceRange use, const std::string& what_text,
                  DataType result = DataType::Float) {
    const std::vector<Dim> dims = broadcast(a.is_tensor() ? a.dims : std::vector<Dim>{}, b.is_tensor() ? b.dims : std::vector<Dim>{});
    const std::string scope = what_text.substr(1, what_text.size() - 2);  // `add` -> add
    return Val::tensor(node(op, {operand(a, use, what_text), operand(b, use, what_text)}, {}, scope), dims, result);
  }

  Val binary(BinaryOp op, const Val& a, const Val& b, SourceRange use) {
    if (a.kind == Val::Kind::Const && b.kind == Val::Kind::Const) {
      auto r = const_binary(op, a.c, b.c);
      if (!r.value) unsupported(use, "a constant operation", r.error);
      return Val::constant(*r.value);
    }
    if (op == BinaryOp::And || op == BinaryOp::Or) {
      bool known = false;
      const bool t = truth(a, &known);
      if (!known) unsupported(use, "`and`/`or`", "an operand is known only at run time");
      return (op == BinaryOp::And) == t ? b : a;
    }
    if (auto size = size_arithmetic(op, a, b)) return *size;
    if (!a.is_tensor() && !b.is_tensor())
      unsupported(use, "an arithmetic operation", "its operands are " + describe(a) + " and " + describe(b) + " (sizes known only at run time)");
    switch (op) {
      case BinaryOp::Add: return elementwise("Add", a, b, use, "`add`");
      case BinaryOp::Sub: return elementwise("Sub", a, b, use, "`sub`");
      case BinaryOp::Mul: return elementwise("Mul", a, b, use, "`mul`");
      case BinaryOp::Div: return elementwise("Div", a, b, use, "`div`");
      case BinaryOp::Pow: return elementwise("Pow", a, b, use, "`pow`");
      case BinaryOp::MatMul: return matmul(a, b, use);
      case BinaryOp::Lt: return elementwise("Less", a, b, use, "`lt`", DataType::Bool);
      case BinaryOp::Le: return elementwise("LessOrEqual", a, b, use, "`le`", DataType::Bool);
      case BinaryOp::Gt: return elementwise("Greater", a, b, use, "`gt`", DataType::Bool);
      case BinaryOp::Ge: return elementwise("GreaterOrEqual", a, b, use, "`ge`", DataType::Bool);
      case BinaryOp::Eq: return elementwise("Equal", a, b, use, "`eq`", DataType::Bool);
      case BinaryOp::Ne: {
        const Val eq = elementwise("Equal", a, b, use, "`ne`", DataType::Bool);
        return Val::tensor(node("Not", {eq.name}, {}, "ne"), eq.dims, DataType::Bool);
      }
      default: break;
    }
    unsupported(use, "the operator `" + std::string(spelling(op)) + "`", "it has no ONNX lowering for tensors");
  }

  // `b * 2` and the like, for sizes read from `x.shape` at run time: int64 arithmetic on
  // their [1] tensors (sizes are non-negative, so ONNX's truncating Div is floor division).
  std::optional<Val> size_arithmetic(BinaryOp op, const Val& a, const Val& b) {
    auto is_size = [](const Val& v) { return v.kind == Val::Kind::DynInt || (v.kind == Val::Kind::Const && v.c.is_int()); };
    if (!is_size(a) || !is_size(b) || (a.kind != Val::Kind::DynInt && b.kind != Val::Kind::DynInt)) return std::nullopt;
    const char* onnx_op = op == BinaryOp::Add ? "Add" : op == BinaryOp::Sub ? "Sub" : op == BinaryOp::Mul ? "Mul"
                        : (op == BinaryOp::Div || op == BinaryOp::FloorDiv) ? "Div" : nullptr;
    if (!onnx_op) return std::nullopt;
    auto as_tensor = [&](const Val& v) { return v.kind == Val::Kind::DynInt ? v.name : int64s_const({v.c.as_int()}); };
    Val out;
    out.kind = Val::Kind::DynInt;
    out.name = node(onnx_op, {as_tensor(a), as_tensor(b)}, {}, "size");
    return out;
  }

  Val matmul(const Val& a, const Val& b, SourceRange use) {
    if (!a.is_tensor() || !b.is_tensor() || a.dims.size() < 2 || b.dims.size() < 2)
      unsupported(use, "`matmul`", "its operands must be tensors of rank 2 or more");
    std::vector<Dim> batch = broadcast(std::vector<Dim>(a.dims.begin(), a.dims.end() - 2), std::vector<Dim>(b.dims.begin(), b.dims.end() - 2));
    batch.push_back(a.dims[a.dims.size() - 2]);
    batch.push_back(b.dims.back());
    return Val::tensor(node("MatMul", {a.name, b.name}, {}, "matmul"), batch);
  }

  // A constant argument as a ConstValue: a constant as is, a tuple or list display of
  // constants (`[6, 6]` written in forward) as a list; none when a part is known only at
  // run time.
  static ConstValue const_value(const Val& v) {
    if (v.kind == Val::Kind::Const) return v.c;
    if (v.kind != Val::Kind::Tuple) return ConstValue::none();
    ConstList items;
    for (const Val& e : v.elems) {
      if (e.kind != Val::Kind::Const) return ConstValue::none();
      items.push_back(e.c);
    }
    return ConstValue::of_list(std::move(items));
  }

  std::vector<int64_t> dims_arg(const Val& v, size_t rank) {
    std::vector<int64_t> out;
    if (v.kind == Val::Kind::Const && v.c.is_int()) out.push_back(normalize_axis(v.c.as_int(), rank));
    else if (v.kind == Val::Kind::Const && v.c.is_list())
      for (const auto& e : v.c.as_list()) out.push_back(normalize_axis(e.as_int(), rank));
    else if (v.kind == Val::Kind::Tuple)
      for (const auto& e : v.elems) out.push_back(e.kind == Val::Kind::Const && e.c.is_int() ? normalize_axis(e.c.as_int(), rank) : 0);
    else
      for (size_t i = 0; i < rank; ++i) out.push_back(static_cast<int64_t>(i));
    return out;
  }

  Val reduce(const std::string& op, const std::string& scope, const Val& x, const Val& dim, bool keepdim) {
    const std::vector<int64_t> axes = dims_arg(dim, x.dims.size());
    std::vector<Dim> dims;
    for (size_t i = 0; i < x.dims.size(); ++i) {
      const bool reduced = std::find(axes.begin(), axes.end(), static_cast<int64_t>(i)) != axes.end();
      if (!reduced) dims.push_back(x.dims[i]);
      else if (keepdim) dims.push_back(Dim::known(1));
    }
    std::vector<std::string> inputs = {x.name};
    std::vector<Attribute> attrs = {Attribute::of_int("keepdims", keepdim ? 1 : 0)};
    // `axes` became an input in opset 13 for ReduceSum and in opset 18 for the others.
    if (op == "ReduceSum" || opset_ >= 18) inputs.push_back(int64s_const(axes));
    else attrs.push_back(Attribute::of_ints("axes", axes));
    return Val::tensor(node(op, inputs, attrs, scope), dims);
  }

  // The size a reshape's -1 stands for, where the rest of the shape tells it: the input's
  // known sizes and named symbols, less those the other entries give (`view(b, -1)` of a
  // `[batch, 4, 4]` tensor, `b` being `batch`, is `[batch, 16]`). Left unknown otherwise.
  static void infer_minus_one(const std::vector<Dim>& in, const std::vector<Val>& entries, std::vector<Dim>& dims) {
    size_t hole = entries.size();
    int64_t in_known = 1, out_known = 1;
    std::multiset<std::string> symbols;
    for (const Dim& d : in) {
      if (d.is_known()) in_known *= d.size;
      else if (d.kind == Dim::Kind::Symbol) symbols.insert(d.symbol);
      else return;
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      const Val& e = entries[i];
      if (e.kind == Val::Kind::Const && e.c.is_int() && e.c.as_int() == -1) {
        if (hole != entries.size()) return;
        hole = i;
      } else if (e.kind == Val::Kind::Const && e.c.is_int()) {
        out_known *= e.c.as_int();
      } else if (e.kind == Val::Kind::DynInt && e.dim.kind == Dim::Kind::Symbol) {
        const auto it = symbols.find(e.dim.symbol);
        if (it == symbols.end()) return;
        symbols.erase(it);
      } else if (e.kind == Val::Kind::DynInt && e.dim.is_known()) {
        out_known *= e.dim.size;
      } else {
        return;
      }
    }
    if (hole == entries.size() || !symbols.empty() || out_known <= 0 || in_known % out_known != 0) return;
    dims[hole] = Dim::known(in_known / out_known);
  }

  Val call_function(const FunctionSchema& f, const std::vector<Val>& raw, const std::vector<std::string>& names, SourceRange use) {
    const std::vector<Val> a = bind(f, raw, names);
    const std::string n(f.name);
    const std::string what_text = "`" + n + "`";
    if (n == "relu" || n == "relu6" || n == "sigmoid" || n == "tanh" || n == "silu" || n == "hardswish" || n == "abs" ||
        n == "sqrt" || n == "exp" || n == "log" || n == "sign" || n == "round" || n == "stop_gradient")
      return activation(n, n, tensor_arg(a, 0, f, use));
    if (n == "dropout") return tensor_arg(a, 0, f, use);
    if (n == "leaky_relu") {
      const Val& x = tensor_arg(a, 0, f, use);
      return Val::tensor(node("LeakyRelu", {x.name}, {Attribute::of_float("alpha", static_cast<float>(a[1].c.as_number()))}, n), x.dims);
    }
    if (n == "gelu") return gelu(n, tensor_arg(a, 0, f, use), a[1].kind == Val::Kind::Const && a[1].c.is_str() ? a[1].c.as_str() : "none");
    if (n == "softmax") return softmax("Softmax", n, tensor_arg(a, 0, f, use), int_arg(a, 1, f, use));
    if (n == "log_softmax") return softmax("LogSoftmax", n, tensor_arg(a, 0, f, use), int_arg(a, 1, f, use));
    if (n == "flatten") return flatten(n, tensor_arg(a, 0, f, use), int_arg(a, 1, f, use), int_arg(a, 2, f, use), use, what_text);
    if (n == "transpose") {
      const Val& x = tensor_arg(a, 0, f, use);
      std::vector<int64_t> perm;
      for (size_t i = 0; i < x.dims.size(); ++i) perm.push_back(static_cast<int64_t>(i));
      const int64_t d0 = normalize_axis(int_arg(a, 1, f, use), x.dims.size()), d1 = normalize_axis(int_arg(a, 2, f, use), x.dims.size());
      std::swap(perm[static_cast<size_t>(d0)], perm[static_cast<size_t>(d1)]);
      return transpose(n, x, perm);
    }
    if (n == "permute") {
      const Val& x = tensor_arg(a, 0, f, use);
      return transpose(n, x, dims_arg(a[1], x.dims.size()));
    }
    if (n == "reshape") {
      const Val& x = tensor_arg(a, 0, f, use);
      // Entries may be constants or run-time sizes (`b` from `x.shape`): one Concat.
      std::vector<std::string> parts;
      std::vector<Dim> dims;
      const std::vector<Val> entries = a[1].kind == Val::Kind::Tuple ? a[1].elems : std::vector<Val>{};
      if (entries.empty()) unsupported(use, what_text, "its shape is " + describe(a[1]));
      std::vector<int64_t> known;
      bool all_known = true;
      for (const Val& e : entries) {
        if (e.kind == Val::Kind::Const && e.c.is_int()) {
          known.push_back(e.c.as_int());
          parts.push_back(int64s_const({e.c.as_int()}));
          dims.push_back(e.c.as_int() >= 0 ? Dim::known(e.c.as_int()) : Dim::unknown());
        } else if (e.kind == Val::Kind::DynInt) {
          all_known = false;
          parts.push_back(e.name);
          dims.push_back(e.dim);
        } else {
          unsupported(use, what_text, "a shape entry is " + describe(e));
        }
      }
      infer_minus_one(x.dims, entries, dims);
      const std::string shape = all_known ? int64s_const(known) : node("Concat", parts, {Attribute::of_int("axis", 0)}, n);
      return Val::tensor(node("Reshape", {x.name, shape}, {}, n), dims);
    }
    if (n == "squeeze" || n == "unsqueeze") {
      const Val& x = tensor_arg(a, 0, f, use);
      std::vector<Dim> dims = x.dims;
      std::vector<int64_t> axes;
      if (n == "unsqueeze") {
        const int64_t d = normalize_axis(int_arg(a, 1, f, use), x.dims.size() + 1);
        axes.push_back(d);
        dims.insert(dims.begin() + d, Dim::known(1));
      } else if (a[1].kind == Val::Kind::None) {
        dims.clear();
        for (size_t i = 0; i < x.dims.size(); ++i) {
          if (!x.dims[i].is_known()) unsupported(use, what_text, "a dimension is known only at run time");
          if (x.dims[i].size == 1) axes.push_back(static_cast<int64_t>(i));
          else dims.push_back(x.dims[i]);
        }
      } else {
        const int64_t d = normalize_axis(int_arg(a, 1, f, use), x.dims.size());
        if (!(x.dims[d].is_known() && x.dims[d].size == 1)) return x;  // torch keeps a dimension that is not 1
        axes.push_back(d);
        dims.erase(dims.begin() + d);
      }
      return Val::tensor(node(n == "squeeze" ? "Squeeze" : "Unsqueeze", {x.name, int64s_const(axes)}, {}, n), dims);
    }
    if (n == "cat" || n == "concatenate" || n == "stack") {
      if (a[0].kind != Val::Kind::Tuple || a[0].elems.empty()) unsupported(use, what_text, "its first argument is not a list of tensors");
      int64_t dim = int_arg(a, 1, f, use);
      const Val& first = a[0].elems[0];
      const size_t rank = first.dims.size() + (n == "stack" ? 1 : 0);
      dim = normalize_axis(dim, rank);
      std::vector<std::string> inputs;
      std::vector<Dim> dims = first.dims;
      int64_t total = 0;
      bool known = true;
      for (const Val& e : a[0].elems) {
        if (!e.is_tensor()) unsupported(use, what_text, "a list element is " + describe(e));
        std::string in = e.name;
        if (n == "stack") in = node("Unsqueeze", {e.name, int64s_const({dim})}, {}, n);
        inputs.push_back(in);
        if (n != "stack") {
          known = known && e.dims[dim].is_known();
          if (known) total += e.dims[dim].size;
        }
      }
      if (n == "stack") dims.insert(dims.begin() + dim, Dim::known(static_cast<int64_t>(inputs.size())));
      else dims[dim] = known ? Dim::known(total) : Dim::unknown();
      return Val::tensor(node("Concat", inputs, {Attribute::of_int("axis", dim)}, n), dims);
    }
    if (n == "expand" && a[1].kind == Val::Kind::Tuple) {
      // PyTorch's sizes (`expand(x, b, -1, -1)`): an Expand whose shape has 1 where a size is
      // -1, since ONNX broadcasting then keeps the input's dimension.
      const Val& t = tensor_arg(a, 0, f, use);
      const std::vector<Val>& entries = a[1].elems;
      if (entries.size() < t.dims.size()) unsupported(use, what_text, "it lists fewer sizes than its input has dimensions");
      const size_t lead = entries.size() - t.dims.size();
      std::vector<std::string> parts;
      std::vector<Dim> dims;
      for (size_t i = 0; i < entries.size(); ++i) {
        const Val& e = entries[i];
        if (e.kind == Val::Kind::Const && e.c.is_int()) {
          const int64_t k = e.c.as_int();
          if (k == -1 && i < lead) unsupported(use, what_text, "-1 is given for a new leading dimension");
          parts.push_back(int64s_const({k == -1 ? 1 : k}));
          dims.push_back(k == -1 ? t.dims[i - lead] : Dim::known(k));
        } else if (e.kind == Val::Kind::DynInt) {
          parts.push_back(e.name);
          dims.push_back(e.dim);
        } else {
          unsupported(use, what_text, "a size is " + describe(e));
        }
      }
      const std::string shape = node("Concat", parts, {Attribute::of_int("axis", 0)}, n);
      return Val::tensor(node("Expand", {t.name, shape}, {}, n), dims);
    }
    if (n == "repeat" || n == "expand") {
      // Tiles along the first dimension: repeats [n, 1, ..., 1].
      const Val& t = tensor_arg(a, 0, f, use);
      std::string count;
      Dim first = Dim::unknown();
      if (a[1].kind == Val::Kind::Const && a[1].c.is_int()) {
        count = int64s_const({a[1].c.as_int()});
        if (t.dims[0].is_known()) first = Dim::known(t.dims[0].size * a[1].c.as_int());
      } else if (a[1].kind == Val::Kind::DynInt) {
        count = a[1].name;
        if (t.dims[0].is_known() && t.dims[0].size == 1) first = a[1].dim;
      } else {
        unsupported(use, what_text, "its count is " + describe(a[1]));
      }
      std::string repeats = count;
      if (t.dims.size() > 1) repeats = node("Concat", {count, int64s_const(std::vector<int64_t>(t.dims.size() - 1, 1))}, {Attribute::of_int("axis", 0)}, n);
      std::vector<Dim> dims = t.dims;
      dims[0] = first;
      return Val::tensor(node("Tile", {t.name, repeats}, {}, n), dims);
    }
    if (n == "matmul") return matmul(a[0], a[1], use);
    if (n == "floor_div") return binary(BinaryOp::FloorDiv, a[0], a[1], use);
    if (n == "add") return binary(BinaryOp::Add, a[0], a[1], use);
    if (n == "subtract") return binary(BinaryOp::Sub, a[0], a[1], use);
    if (n == "multiply") return binary(BinaryOp::Mul, a[0], a[1], use);
    if (n == "divide") return binary(BinaryOp::Div, a[0], a[1], use);
    if (n == "pow") return binary(BinaryOp::Pow, a[0], a[1], use);
    if (n == "maximum") return elementwise("Max", a[0], a[1], use, what_text);
    if (n == "minimum") return elementwise("Min", a[0], a[1], use, what_text);
    if (n == "where") {
      const Val& c = tensor_arg(a, 0, f, use);
      std::vector<Dim> dims = broadcast(c.dims, broadcast(a[1].is_tensor() ? a[1].dims : std::vector<Dim>{}, a[2].is_tensor() ? a[2].dims : std::vector<Dim>{}));
      std::string cond = c.name;
      if (c.type != DataType::Bool) cond = node("Cast", {cond}, {Attribute::of_int("to", static_cast<int64_t>(DataType::Bool))}, n);
      return Val::tensor(node("Where", {cond, operand(a[1], use, what_text), operand(a[2], use, what_text)}, {}, n), dims);
    }
    if (n == "clamp") {
      const Val& x = tensor_arg(a, 0, f, use);
      const std::string lo = a[1].kind == Val::Kind::None ? std::string() : operand(a[1], use, what_text);
      const std::string hi = a[2].kind == Val::Kind::None ? std::string() : operand(a[2], use, what_text);
      return Val::tensor(node("Clip", {x.name, lo, hi}, {}, n), x.dims);
    }
    if (n == "mean" || n == "sum" || n == "max" || n == "min") {
      const Val& x = tensor_arg(a, 0, f, use);
      const bool keep = a[2].kind == Val::Kind::Const && a[2].c.is_bool() && a[2].c.as_bool();
      const std::string op = n == "mean" ? "ReduceMean" : n == "sum" ? "ReduceSum" : n == "max" ? "ReduceMax" : "ReduceMin";
      return reduce(op, n, x, a[1], keep);
    }
    if (n == "adaptive_avg_pool2d") {
      if (const_value(a[1]).is_none()) unsupported(use, what_text, "its size is " + describe(a[1]));
      return adaptive_pool(n, tensor_arg(a, 0, f, use), const_value(a[1]), use, what_text);
    }
    if (n == "avg_pool2d" || n == "max_pool2d")
      return pool(n == "avg_pool2d" ? "AveragePool" : "MaxPool", n, tensor_arg(a, 0, f, use), const_value(a[1]), const_value(a[2]), const_value(a[3]), use, what_text);
    if (n == "layer_norm") {
      const Val& x = tensor_arg(a, 0, f, use);
      const std::vector<int64_t> shape = int_list(const_value(a[1]), 1);
      bool trailing = !shape.empty() && shape.size() <= x.dims.size();
      for (size_t i = 0; trailing && i < shape.size(); ++i) {
        const Dim& d = x.dims[x.dims.size() - shape.size() + i];
        trailing = d.is_known() && d.size == shape[i];
      }
      if (!trailing) unsupported(use, what_text, "its normalized shape is not the input's trailing dimensions at compile time");
      return layer_norm_op(n, x, shape, a[2].c.as_number(), "");
    }
    if (n == "chunk") {
      const Val& x = tensor_arg(a, 0, f, use);
      const int64_t chunks = int_arg(a, 1, f, use), dim = normalize_axis(int_arg(a, 2, f, use), x.dims.size());
      if (!x.dims[dim].is_known() || chunks <= 0 || x.dims[dim].size % chunks)
        unsupported(use, what_text, "the dimension does not split into equal chunks at compile time");
      Val t;
      t.kind = Val::Kind::Tuple;
      const int64_t size = x.dims[dim].size / chunks;
      for (int64_t i = 0; i < chunks; ++i) {
        std::vector<Dim> dims = x.dims;
        dims[dim] = Dim::known(size);
        t.elems.push_back(Val::tensor(node("Slice", {x.name, int64s_const({i * size}), int64s_const({(i + 1) * size}), int64s_const({dim})}, {}, n), dims));
      }
      return t;
    }
    if (n == "argmax") {
      const Val& x = tensor_arg(a, 0, f, use);
      const bool keep = a[2].kind == Val::Kind::Const && a[2].c.is_bool() && a[2].c.as_bool();
      if (a[1].kind == Val::Kind::None) {  // over the flattened tensor
        const std::string flat = node("Reshape", {x.name, int64s_const({-1})}, {}, n);
        return Val::tensor(node("ArgMax", {flat}, {Attribute::of_int("axis", 0), Attribute::of_int("keepdims", 0)}, n), {},
                           DataType::Int64);
      }
      const int64_t dim = normalize_axis(int_arg(a, 1, f, use), x.dims.size());
      std::vector<Dim> dims = x.dims;
      if (keep) dims[static_cast<size_t>(dim)] = Dim::known(1);
      else dims.erase(dims.begin() + dim);
      return Val::tensor(node("ArgMax", {x.name}, {Attribute::of_int("axis", dim), Attribute::of_int("keepdims", keep ? 1 : 0)}, n),
                         dims, DataType::Int64);
    }
    if (n == "linear") {
      const Val& x = tensor_arg(a, 0, f, use);
      const Val& w = tensor_arg(a, 1, f, use);
      if (w.dims.size() != 2 || x.dims.empty()) unsupported(use, what_text, "its weight is not a matrix");
      std::vector<Dim> dims = x.dims;
      dims.back() = w.dims[0];
      const bool bias = a[2].is_tensor();
      if (x.dims.size() == 2) {
        std::vector<std::string> inputs = {x.name, w.name};
        if (bias) inputs.push_back(a[2].name);
        return Val::tensor(node("Gemm", inputs, {Attribute::of_int("transB", 1)}, n), dims);
      }
      std::string y = node("MatMul", {x.name, node("Transpose", {w.name}, {Attribute::of_ints("perm", {1, 0})}, n)}, {}, n);
      if (bias) y = node("Add", {y, a[2].name}, {}, n);
      return Val::tensor(y, dims);
    }
    if (n == "conv2d") {
      const Val& x = tensor_arg(a, 0, f, use);
      const Val& w = tensor_arg(a, 1, f, use);
      if (w.dims.size() != 4 || x.dims.size() != 4 || !w.dims[2].is_known() || !w.dims[3].is_known())
        unsupported(use, what_text, "its input and weight must be 4-d with a known kernel size");
      const std::vector<int64_t> kernel = {w.dims[2].size, w.dims[3].size}, stride = int_list(const_value(a[3]), 2),
                                 padding = int_list(const_value(a[4]), 2), dilation = int_list(const_value(a[5]), 2);
      std::vector<std::string> inputs = {x.name, w.name};
      if (a[2].is_tensor()) inputs.push_back(a[2].name);
      std::vector<Dim> dims = {x.dims[0], w.dims[0]};
      for (size_t i = 0; i < 2; ++i) {
        const Dim& d = x.dims[2 + i];
        dims.push_back(d.is_known() ? Dim::known((d.size + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1)
                                    : Dim::unknown());
      }
      return Val::tensor(node("Conv", inputs,
                              {Attribute::of_ints("dilations", dilation), Attribute::of_int("group", int_arg(a, 6, f, use)),
                               Attribute::of_ints("kernel_shape", kernel),
                               Attribute::of_ints("pads", {padding[0], padding[1], padding[0], padding[1]}),
                               Attribute::of_ints("strides", stride)},
                              n),
                         dims);
    }
    if (n == "ternarize") return ternarize_param(a, use);
    unsupported(use, what_text, "the ONNX backend has no lowering for this function yet");
  }

  // `ternarize(w)` of a declared `param` weight: its value is known at compile time, so the
  // graph gets its codes and scales (weights.h) behind a DequantizeLinear, as a layer's.
  Val ternarize_param(const std::vector<Val>& a, SourceRange use) {
    const Val& w = a[0];
    auto init = std::find_if(graph_.initializers.begin(), graph_.initializers.end(),
                             [&](const onnx::Tensor& t) { return w.is_tensor() && t.name == w.name && t.type == DataType::Float; });
    if (init == graph_.initializers.end() || w.dims.empty())
      unsupported(use, "`ternarize`", "its weight must be a declared `param` tensor (known at compile time)");
    std::vector<float> values(static_cast<size_t>(init->element_count()));
    for (size_t i = 0; i < values.size(); ++i) {
      uint32_t u = 0;
      for (int b = 0; b < 4; ++b) u |= static_cast<uint32_t>(static_cast<unsigned char>(init->raw[4 * i + b])) << (8 * b);
      values[i] = std::bit_cast<float>(u);
    }
    const double threshold = a[1].kind == Val::Kind::Const && a[1].c.is_number() ? a[1].c.as_number() : 0.7;
    const bool per_channel = !(a[2].kind == Val::Kind::Const && a[2].c.is_str() && a[2].c.as_str() == "per_layer");
    const std::vector<int64_t> shape = init->dims;
    const std::string key = init->name;
    const onnx::TernaryWeight t = onnx::ternarize(values, shape[0], threshold, per_channel);
    if (options_.code_type == DataType::Float) {
      std::vector<float> q(values.size());
      const size_t per_row = q.size() / t.scales.size();
      for (size_t i = 0; i < q.size(); ++i) q[i] = t.scales[i / per_row] * static_cast<float>(t.codes[i]);
      return Val::tensor(initializer(onnx::Tensor::floats(key + ".ternary", shape, q)), w.dims);
    }
    const std::string codes = initializer(onnx::Tensor::codes(key + ".codes", options_.code_type, shape, t.codes));
    const std::string scales = initializer(onnx::Tensor::floats(key + ".scales", {shape[0]}, t.scales));
    return Val::tensor(node("DequantizeLinear", {codes, scales}, {Attribute::of_int("axis", 0)}, "ternarize"), w.dims);
  }

  // x[...]: integers pick (Gather, the dimension disappears), slices with constant bounds cut
  // (Slice), `...` stands for the dimensions not named.
  Val index(Frame& fr, const Op& op) {
    const Val& x = get(fr, op.operands[0]);
    const auto& parts = attrs_of<IndexAttrs>(op).parts;
    if (x.kind == Val::Kind::Tuple) {
      if (parts.size() == 1 && parts[0].kind == IndexPart::Kind::Value) {
        const Val& i = get(fr, op.operands[1]);
        if (i.kind == Val::Kind::Const && i.c.is_int()) {
          int64_t k = i.c.as_int();
          if (k < 0) k += static_cast<int64_t>(x.elems.size());
          if (k >= 0 && k < static_cast<int64_t>(x.elems.size())) return x.elems[static_cast<size_t>(k)];
        }
      }
      unsupported(op.range, "indexing", "only a constant index into a tuple is supported");
    }
    if (!x.is_tensor()) unsupported(op.range, "indexing", "the indexed value is " + describe(x));
    size_t named = 0;
    for (const auto& p : parts) named += p.kind != IndexPart::Kind::Ellipsis;
    Val cur = x;
    size_t operand = 1, axis = 0;
    std::vector<std::pair<size_t, int64_t>> picks;  // (axis in `cur`, index), applied last to first
    for (const auto& p : parts) {
      if (p.kind == IndexPart::Kind::Ellipsis) {
        axis += x.dims.size() - named;
        continue;
      }
      if (axis >= cur.dims.size()) unsupported(op.range, "indexing", "too many indices for a tensor of rank " + std::to_string(x.dims.size()));
      auto constant = [&](const char* what_part) {
        const Val& v = get(fr, op.operands[operand++]);
        if (v.kind == Val::Kind::None) return std::optional<int64_t>();
        if (v.kind != Val::Kind::Const || !v.c.is_int())
          unsupported(op.range, "indexing", std::string("a ") + what_part + " is " + describe(v) + ", not a constant int");
        return std::optional<int64_t>(v.c.as_int());
      };
      if (p.kind == IndexPart::Kind::Value) {
        const auto k = constant("index");
        picks.emplace_back(axis, k.value_or(0));
        ++axis;
        continue;
      }
      const auto lo = p.has_lower ? constant("slice bound") : std::nullopt;
      const auto hi = p.has_upper ? constant("slice bound") : std::nullopt;
      const auto step = p.has_step ? constant("slice step") : std::nullopt;
      if (lo || hi || (step && *step != 1)) {
        const int64_t s = step.value_or(1);
        if (s <= 0) unsupported(op.range, "indexing", "a slice step must be positive");
        const int64_t begin = lo.value_or(0), end = hi.value_or(INT64_MAX);
        Dim& d = cur.dims[axis];
        Dim out = Dim::unknown();
        if (d.is_known()) {
          auto clampi = [&](int64_t v) { return std::clamp(v < 0 ? v + d.size : v, int64_t{0}, d.size); };
          const int64_t b = clampi(begin), e = clampi(end);
          out = Dim::known(e > b ? (e - b + s - 1) / s : 0);
        }
        std::vector<Dim> dims = cur.dims;
        dims[axis] = out;
        cur = Val::tensor(node("Slice", {cur.name, int64s_const({begin}), int64s_const({end}), int64s_const({static_cast<int64_t>(axis)}), int64s_const({s})}, {}, "slice"), dims);
      }
      ++axis;
    }
    for (auto it = picks.rbegin(); it != picks.rend(); ++it) {
      std::vector<Dim> dims = cur.dims;
      int64_t k = it->second;
      if (k < 0 && dims[it->first].is_known()) k += dims[it->first].size;
      dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(it->first));
      cur = Val::tensor(node("Gather", {cur.name, scalar_int64(k)}, {Attribute::of_int("axis", static_cast<int64_t>(it->first))}, "index"), dims);
    }
    return cur;
  }

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

}  // namespace

std::optional<onnx::Model> emit_onnx(const Program& program, DiagnosticEngine& diags, const OnnxOptions& options,
                                     std::string* error) {
  Builder builder(program, diags, options);
  return builder.run(error);
}

}  // namespace triton::codegen

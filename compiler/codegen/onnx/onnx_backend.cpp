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
// The `Builder` is declared in builder.h; this file holds steps 1 and 2 and the graph's
// names, nodes and initializers, builtin_layers.cpp and builtin_functions.cpp step 3.
#include "codegen/onnx/onnx_backend.h"

#include "codegen/onnx/builder.h"

namespace triton::codegen::ir_to_onnx {

std::optional<onnx::Model> Builder::run(std::string* error) {
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

// ---- names, nodes, initializers ------------------------------------------------------------
std::string Builder::unique(const std::string& hint) {
  std::string base = hint.empty() ? "v" : hint;
  std::string name = base;
  for (int n = 2; !names_.insert(name).second; ++n) name = base + "_" + std::to_string(n);
  return name;
}

std::string Builder::node(const std::string& op, std::vector<std::string> inputs, std::vector<Attribute> attrs,
                          const std::string& scope, std::string output) {
  onnx::Node n;
  n.op_type = op;
  n.name = unique(scope + "/" + op);
  n.inputs = std::move(inputs);
  n.attributes = std::move(attrs);
  n.outputs.push_back(output.empty() ? unique(scope + "/" + op + ":0") : output);
  graph_.nodes.push_back(std::move(n));
  return graph_.nodes.back().outputs[0];
}

std::string Builder::initializer(onnx::Tensor t) {
  t.name = unique(t.name);
  graph_.initializers.push_back(std::move(t));
  return graph_.initializers.back().name;
}

void Builder::record_output_range(const LayerInst& l, const BatchNormFold* fold, const std::string& value) {
  if (!options_.integer_lowering || !options_.weights || !has_8bit_input(l)) return;
  const auto it = options_.weights->tensors.find((fold ? fold->norm_path : l.path) + ".output_amax");
  if (it == options_.weights->tensors.end() || it->second.dtype != "F32" || it->second.element_count() != 1) return;
  output_amax_[value] = it->second.as_floats()[0];
}

std::string Builder::float_const(float v) {
  const std::string key = "f" + std::to_string(std::bit_cast<uint32_t>(v));
  if (auto it = consts_.find(key); it != consts_.end()) return it->second;
  return consts_[key] = initializer(onnx::Tensor::floats("const_" + std::to_string(consts_.size()), {}, {v}));
}

std::string Builder::int64s_const(const std::vector<int64_t>& v) {
  std::string key = "i";
  for (int64_t x : v) key += std::to_string(x) + ",";
  if (auto it = consts_.find(key); it != consts_.end()) return it->second;
  return consts_[key] = initializer(onnx::Tensor::int64s("const_" + std::to_string(consts_.size()),
                                                         {static_cast<int64_t>(v.size())}, v));
}

std::string Builder::scalar_int64(int64_t v) {
  const std::string key = "s" + std::to_string(v);
  if (auto it = consts_.find(key); it != consts_.end()) return it->second;
  return consts_[key] = initializer(onnx::Tensor::int64s("const_" + std::to_string(consts_.size()), {}, {v}));
}

onnx::Dim Builder::graph_dim(const Dim& d) {
  if (d.is_known()) return {d.size, {}};
  return {-1, d.kind == Dim::Kind::Symbol ? d.symbol : std::string()};
}

// ---- diagnostics ---------------------------------------------------------------------------
void Builder::unsupported(SourceRange at, const std::string& what, const std::string& why) {
  diags_.report(DiagKind::onnx_unsupported, at, {what, why});
  throw Unsupported{};
}

std::string Builder::describe(const Val& v) {
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
void Builder::index_elab(const ElabNode& n) {
  elab_[n.path] = &n;
  for (const auto& c : n.children) index_elab(c);
}

ConstValue Builder::must_eval(const Module& m, ExprId id, const Env& env) {
  auto r = evaluate_constant(m, id, env);
  if (!r.value) internal_error("ONNX backend: cannot evaluate a constant: " + (r.error.empty() ? "a name has no value" : r.error));
  return *r.value;
}

ConstValue Builder::coerce(const ConstValue& v, const std::string& type) {
  if (type == "float" && v.is_int()) return ConstValue::of_float(static_cast<double>(v.as_int()));
  if (type == "int" && v.is_float()) {
    auto r = const_to_int(v);
    if (r.value) return *r.value;
  }
  return v;
}

void Builder::fill_user(LayerInst& inst, const std::vector<std::pair<std::string, ExprId>>& attrs, const Module& owner,
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

std::unique_ptr<LayerInst> Builder::instantiate(const Instance& in, const Module& owner, const Env& env, const std::string& path) {
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
const Val& Builder::get(Frame& fr, ValueId id) {
  auto& v = fr.vals[id.index];
  if (!v) internal_error("ONNX backend: value used before it was defined");
  return *v;
}

Val Builder::run_user(const LayerInst& inst, const std::vector<Val>& args, const std::vector<std::string>& arg_names,
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

bool Builder::truth(const Val& v, bool* known) {
  *known = true;
  if (v.kind == Val::Kind::None) return false;
  if (v.kind == Val::Kind::Layer) return v.slot->present;
  if (v.kind == Val::Kind::Const) return !const_unary(ConstUnaryOp::Not, v.c).value->as_bool();
  *known = false;
  return false;
}

std::optional<std::vector<Val>> Builder::region(Frame& fr, RegionId r, const std::vector<Val>& args) {
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

Val Builder::tensor_ref(const LayerInst& inst, const std::string& name, SourceRange use) {
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

Val Builder::dim_value(const Val& x, size_t i) {
  if (x.dims[i].is_known()) return Val::constant(ConstValue::of_int(x.dims[i].size));
  const std::string shape = node("Shape", {x.name}, {}, "shape");
  Val v;
  v.kind = Val::Kind::DynInt;
  v.dim = x.dims[i];
  v.name = node("Slice", {shape, int64s_const({static_cast<int64_t>(i)}), int64s_const({static_cast<int64_t>(i) + 1})}, {}, "shape");
  return v;
}

const LayerInst& Builder::single_layer(const LayerInst& inst, const std::string& name, SourceRange use) {
  auto it = inst.subs.find(name);
  if (it == inst.subs.end() || !it->second->present || it->second->layers.size() != 1 || !it->second->layers[0]->builtin)
    unsupported(use, "layer `" + name + "`", "a fused layer must be one built-in layer");
  return *it->second->layers[0];
}

Val Builder::call_slot(const Slot& slot, std::vector<Val> args, const std::vector<std::string>& arg_names, SourceRange use) {
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

Val Builder::call_layer(const LayerInst& layer, const std::vector<Val>& args, const std::vector<std::string>& arg_names, SourceRange use) {
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

std::string Builder::what(const LayerInst& l) { return "layer `" + l.path + "` (`" + l.type_name + "`)"; }

}  // namespace triton::codegen::ir_to_onnx

namespace triton::codegen {

std::optional<onnx::Model> emit_onnx(const ir::Program& program, DiagnosticEngine& diags, const OnnxOptions& options,
                                     std::string* error) {
  ir_to_onnx::Builder builder(program, diags, options);
  return builder.run(error);
}

}  // namespace triton::codegen

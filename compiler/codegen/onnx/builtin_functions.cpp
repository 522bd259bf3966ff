// The ONNX builder's built-in functions and operators (builder.h): a call's arguments are
// bound to the function's schema, constants are folded at compile time (including size
// arithmetic on `x.shape`), and everything else becomes ONNX nodes; subscripts of tensors
// become Slice/Gather.
#include "codegen/onnx/builder.h"

namespace triton::codegen::ir_to_onnx {

std::vector<Val> Builder::bind(const FunctionSchema& f, const std::vector<Val>& args, const std::vector<std::string>& names) {
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

const Val& Builder::tensor_arg(const std::vector<Val>& a, size_t i, const FunctionSchema& f, SourceRange use) {
  if (!a[i].is_tensor()) unsupported(use, "`" + std::string(f.name) + "`", "argument `" + std::string(f.params[i].name) + "` is " + describe(a[i]));
  return a[i];
}

int64_t Builder::int_arg(const std::vector<Val>& a, size_t i, const FunctionSchema& f, SourceRange use) {
  if (a[i].kind != Val::Kind::Const || !a[i].c.is_int())
    unsupported(use, "`" + std::string(f.name) + "`", "argument `" + std::string(f.params[i].name) + "` is " + describe(a[i]) + ", not a constant int");
  return a[i].c.as_int();
}

std::string Builder::operand(const Val& v, SourceRange use, const std::string& what_text) {
  if (v.is_tensor()) return v.name;
  if (v.kind == Val::Kind::Const && v.c.is_number()) return float_const(static_cast<float>(v.c.as_number()));
  if (v.kind == Val::Kind::Const && v.c.is_bool()) return float_const(v.c.as_bool() ? 1.0f : 0.0f);
  unsupported(use, what_text, "an operand is " + describe(v));
}

Val Builder::elementwise(const std::string& op, const Val& a, const Val& b, SourceRange use, const std::string& what_text,
                         DataType result) {
  const std::vector<Dim> dims = broadcast(a.is_tensor() ? a.dims : std::vector<Dim>{}, b.is_tensor() ? b.dims : std::vector<Dim>{});
  const std::string scope = what_text.substr(1, what_text.size() - 2);  // `add` -> add
  return Val::tensor(node(op, {operand(a, use, what_text), operand(b, use, what_text)}, {}, scope), dims, result);
}

Val Builder::binary(BinaryOp op, const Val& a, const Val& b, SourceRange use) {
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

std::optional<Val> Builder::size_arithmetic(BinaryOp op, const Val& a, const Val& b) {
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

Val Builder::matmul(const Val& a, const Val& b, SourceRange use) {
  if (!a.is_tensor() || !b.is_tensor() || a.dims.size() < 2 || b.dims.size() < 2)
    unsupported(use, "`matmul`", "its operands must be tensors of rank 2 or more");
  std::vector<Dim> batch = broadcast(std::vector<Dim>(a.dims.begin(), a.dims.end() - 2), std::vector<Dim>(b.dims.begin(), b.dims.end() - 2));
  batch.push_back(a.dims[a.dims.size() - 2]);
  batch.push_back(b.dims.back());
  return Val::tensor(node("MatMul", {a.name, b.name}, {}, "matmul"), batch);
}

ConstValue Builder::const_value(const Val& v) {
  if (v.kind == Val::Kind::Const) return v.c;
  if (v.kind != Val::Kind::Tuple) return ConstValue::none();
  ConstList items;
  for (const Val& e : v.elems) {
    if (e.kind != Val::Kind::Const) return ConstValue::none();
    items.push_back(e.c);
  }
  return ConstValue::of_list(std::move(items));
}

std::vector<int64_t> Builder::dims_arg(const Val& v, size_t rank) {
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

Val Builder::reduce(const std::string& op, const std::string& scope, const Val& x, const Val& dim, bool keepdim) {
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

void Builder::infer_minus_one(const std::vector<Dim>& in, const std::vector<Val>& entries, std::vector<Dim>& dims) {
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

Val Builder::call_function(const FunctionSchema& f, const std::vector<Val>& raw, const std::vector<std::string>& names, SourceRange use) {
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

Val Builder::ternarize_param(const std::vector<Val>& a, SourceRange use) {
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

Val Builder::index(Frame& fr, const Op& op) {
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

}  // namespace triton::codegen::ir_to_onnx

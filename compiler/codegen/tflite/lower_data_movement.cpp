// The TFLite converter's lowerings of operators that move or select data (converter.h):
// Reshape, Transpose, Concat, Shape, Gather (and table lookups), Slice, Where, Expand, Tile
// and ArgMax. Constant inputs are folded at compile time.
#include "codegen/tflite/converter.h"

namespace triton::codegen::onnx_to_tflite {

namespace {

// x's data (a constant or quantized weight) under another shape and name, with none of x's
// stored layouts: what a reshape, transpose, gather, slice or tile of it at compile time
// starts from.
Value relabeled(const Value& x, Shape shape, std::string name) {
  Value v = x;
  v.views.clear();
  v.shape = std::move(shape);
  v.name = std::move(name);
  return v;
}

// The same with no elements yet (a constant of x's element type, to be filled).
Value emptied(const Value& x, Shape shape, std::string name) {
  Value v = relabeled(x, std::move(shape), std::move(name));
  v.ints.clear();
  v.floats.clear();
  return v;
}

}  // namespace

void Converter::lower_reshape(const onnx::Node& n) {
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
    if (x.kind == Value::Kind::Quantized && x.scales.size() != 1) {
      // The channel axis survives when the dimensions up to it are kept.
      if (static_cast<size_t>(x.axis) >= shape.size() ||
          !std::equal(x.shape.begin(), x.shape.begin() + x.axis + 1, shape.begin())) {
        fail("a reshape across the channels of quantized weights");
      }
    }
    return define(n.outputs[0], relabeled(x, shape, n.outputs[0]));
  }
  const int32_t t = tensor_in(x, {});
  define(n.outputs[0], runtime(reshape(t, shape, n.outputs[0]), shape, {}));
}

void Converter::lower_transpose(const onnx::Node& n) {
  Value& x = in(0);
  Perm p;
  for (int64_t d : ints_attribute(n, "perm")) p.push_back(static_cast<int>(d));
  if (p.empty()) {
    for (size_t i = x.shape.size(); i-- > 0;) p.push_back(static_cast<int>(i));
  }
  const Shape shape = permuted(x.shape, p);
  if (x.kind == Value::Kind::Constant) {
    Value v = relabeled(x, shape, n.outputs[0]);
    if (v.is_int) v.ints = permute_data(x.ints, x.shape, p);
    else v.floats = permute_data(x.floats, x.shape, p);
    return define(n.outputs[0], std::move(v));
  }
  if (x.kind == Value::Kind::Quantized) {
    Value v = relabeled(x, shape, n.outputs[0]);
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

void Converter::lower_concat(const onnx::Node& n) {
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

void Converter::lower_shape(const onnx::Node& n) {
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

void Converter::lower_table_lookup(const onnx::Node& n) {
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

void Converter::lower_gather(const onnx::Node& n) {
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
    Value v = emptied(x, shape, n.outputs[0]);
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

void Converter::lower_slice(const onnx::Node& n) {
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
    Value v = emptied(x, shape, n.outputs[0]);
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

void Converter::lower_where(const onnx::Node& n) {
  Value& condition = in(0);
  Value& a = in(1);
  Value& b = in(2);
  const Shape shape = broadcast(broadcast(condition.shape, a.shape), b.shape);
  const int32_t t = emit(BuiltinOperator::SelectV2, {tensor_in(condition, {}), tensor_in(a, {}), tensor_in(b, {})},
                         n.outputs[0], TensorType::Float32, shape);
  define(n.outputs[0], runtime(t, shape, {}));
}

void Converter::lower_expand(const onnx::Node& n) {
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

void Converter::lower_arg_max(const onnx::Node& n) {
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

Value Converter::tiled_constant(const Value& x, const Shape& repeats, const std::string& name) {
  Shape shape = x.shape;
  for (size_t i = 0; i < shape.size(); ++i) shape[i] *= repeats[i];
  Value v = emptied(x, shape, name);
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

void Converter::lower_tile(const onnx::Node& n) {
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

}  // namespace triton::codegen::onnx_to_tflite

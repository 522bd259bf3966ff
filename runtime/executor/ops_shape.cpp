// Data-movement ops: reshape, permute, concat, slice, expand, constant and embedding.
// Each validates the run-time shape against its attributes and reports a mismatch. The
// copies split over the pool by the floats they move (executor/split.h): small ones stay on
// the caller, a ViT's head split and merge do not.
#include <algorithm>
#include <cmath>

#include "executor/ops.h"
#include "executor/split.h"

namespace triton_rt {
namespace {

int norm_dim(std::int64_t d, int rank) { return static_cast<int>(d < 0 ? d + rank : d); }

// The target shape of a reshape of x (checked against x's size).
Status reshape_target(const OpDesc& op, std::int64_t batch, const Tensor& x,
                      std::vector<std::int64_t>& shape) {
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < op.ints.size(); ++i) {
    std::int64_t d = op.ints[i];
    if (d == 0) {
      if (i >= x.shape.size()) return Status::error("reshape: no input dimension to copy");
      d = x.shape[i];
    }
    if (d == kBatchDim) d = batch;
    if (d == -1) {
      if (infer >= 0) return Status::error("reshape: more than one -1");
      infer = static_cast<int>(i);
      d = 1;
    } else if (d < 0) {
      return Status::error("reshape: negative dimension");
    } else {
      if (d != 0 && known > x.numel() / d + 1) {
        return Status::error("cannot reshape " + shape_string(x.shape) + ": target too large");
      }
      known *= d;
    }
    shape.push_back(d);
  }
  if (infer >= 0 && known != 0) shape[infer] = x.numel() / known;
  if (Tensor::numel_of(shape) != x.numel()) {
    return Status::error("cannot reshape " + shape_string(x.shape) + " to " +
                         shape_string(shape));
  }
  return {};
}

Status reshape(const OpDesc& op, const OpContext& ctx, const Tensor& x, Tensor& out) {
  std::vector<std::int64_t> shape;
  if (Status st = reshape_target(op, ctx.batch, x, shape); !st.ok()) return st;
  out.shape = std::move(shape);
  out.data.resize(x.data.size());
  copy_split(ctx, x.data.data(), out.data.data(), x.numel());
  return {};
}

// Fills `out` (already shaped `shape`) in row-major order from `x` read with per-dimension
// element `strides`: the one gather behind permute (permuted strides) and expand (stride 0
// on broadcast dimensions).
void gather_strided(const OpContext& ctx, const Tensor& x, const std::vector<std::int64_t>& shape,
                    const std::vector<std::int64_t>& strides, Tensor& out) {
  const int rank = static_cast<int>(shape.size());
  const std::int64_t total = out.numel();
  if (rank == 0) {
    if (total == 1) out.data[0] = x.data[0];
    return;
  }
  // The innermost dimension is a run (a contiguous copy when its stride is 1, as in the
  // head split of attention), split over the pool by runs; within a chunk the outer
  // indices advance as an odometer from the chunk's first run.
  const std::int64_t inner = shape[rank - 1], step = strides[rank - 1];
  const std::int64_t runs = inner ? total / inner : 0;
  split(ctx, runs, 1, work_ns(ctx, Work::kMove, 2.0 * inner), [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> idx(rank, 0);
    for (std::int64_t d = rank - 2, r = begin; d >= 0; --d) {
      idx[d] = r % shape[d];
      r /= shape[d];
    }
    for (std::int64_t run = begin; run < end; ++run) {
      std::int64_t src = 0;
      for (int d = 0; d + 1 < rank; ++d) src += idx[d] * strides[d];
      float* dst = out.data.data() + run * inner;
      const float* from = x.data.data() + src;
      if (step == 1) {
        std::copy(from, from + inner, dst);
      } else {
        for (std::int64_t i = 0; i < inner; ++i) dst[i] = from[i * step];
      }
      for (int d = rank - 2; d >= 0; --d) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  });
}

Status permute(const OpDesc& op, const OpContext& ctx, const Tensor& x, Tensor& out) {  // same size as x
  const int rank = x.rank();
  if (static_cast<int>(op.ints.size()) != rank) {
    return Status::error("permute of rank " + std::to_string(op.ints.size()) + " applied to " +
                         shape_string(x.shape));
  }
  std::vector<int> perm(rank);
  std::vector<char> seen(rank, 0);
  for (int i = 0; i < rank; ++i) {
    perm[i] = norm_dim(op.ints[i], rank);
    if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]]) {
      return Status::error("permute: not a permutation");
    }
    seen[perm[i]] = 1;
  }
  std::vector<std::int64_t> in_strides(rank, 1), shape(rank), strides(rank);
  for (int i = rank - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * x.shape[i + 1];
  for (int i = 0; i < rank; ++i) {
    shape[i] = x.shape[perm[i]];
    strides[i] = in_strides[perm[i]];
  }
  out.shape = shape;
  out.data.resize(x.data.size());
  gather_strided(ctx, x, shape, strides, out);
  return {};
}

Status concat(const OpDesc& op, std::int64_t limit, const Inputs& in, Tensor& out) {
  const Tensor& first = *in[0];
  const int rank = first.rank();
  const int dim = norm_dim(op.ints[0], rank);
  if (dim < 0 || dim >= rank) return Status::error("concat: dim out of range");
  std::vector<std::int64_t> shape = first.shape;
  shape[dim] = 0;
  for (const Tensor* t : in) {
    bool fits = t->rank() == rank;
    for (int d = 0; fits && d < rank; ++d) fits = d == dim || t->shape[d] == first.shape[d];
    if (!fits) return Status::error("concat: shape " + shape_string(t->shape) + " does not fit");
    shape[dim] += t->shape[dim];
  }
  if (Status st = allocate_output(out, shape, limit); !st.ok()) return st;
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= shape[d];
  for (int d = dim + 1; d < rank; ++d) inner *= shape[d];
  float* y = out.data.data();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (const Tensor* t : in) {
      const std::int64_t chunk = t->shape[dim] * inner;
      std::copy(t->data.data() + o * chunk, t->data.data() + (o + 1) * chunk, y);
      y += chunk;
    }
  }
  return {};
}

Status slice(const OpDesc& op, const Tensor& x, Tensor& out) {
  const int dim = norm_dim(op.ints[0], x.rank());
  if (dim < 0 || dim >= x.rank()) return Status::error("slice: dim out of range");
  const std::int64_t size = x.shape[dim];
  const std::int64_t start = std::min<std::int64_t>(op.ints[1], size);
  const std::int64_t stop = std::min<std::int64_t>(op.ints[2], size);
  const std::int64_t step = op.ints[3];
  std::vector<std::int64_t> shape = x.shape;
  shape[dim] = stop > start ? (stop - start + step - 1) / step : 0;
  out = Tensor(shape);  // no larger than x
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= x.shape[d];
  for (int d = dim + 1; d < x.rank(); ++d) inner *= x.shape[d];
  float* y = out.data.data();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < shape[dim]; ++i) {
      const float* src = x.data.data() + (o * size + start + i * step) * inner;
      y = std::copy(src, src + inner, y);
    }
  }
  return {};
}

Status expand(const OpDesc& op, const OpContext& ctx, const Tensor& x, Tensor& out) {
  const std::int64_t batch = ctx.batch;
  const int rank = static_cast<int>(op.ints.size());
  if (rank < x.rank()) return Status::error("expand: fewer target dims than the input's");
  std::vector<std::int64_t> shape(rank), strides(rank, 0);
  std::int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int xi = i - (rank - x.rank());
    const std::int64_t have = xi >= 0 ? x.shape[xi] : 1;
    const std::int64_t want = op.ints[i] == -1 ? have : op.ints[i] == kBatchDim ? batch : op.ints[i];
    if (have != want && have != 1) {
      return Status::error("expand: cannot expand " + shape_string(x.shape));
    }
    if (want < 0) return Status::error("expand: negative target dimension");
    shape[i] = want;
    strides[i] = have == 1 ? 0 : stride;
    stride *= have;
  }
  if (Status st = allocate_output(out, shape, ctx.max_elements); !st.ok()) return st;
  gather_strided(ctx, x, shape, strides, out);
  return {};
}

}  // namespace

Status run_reshape_taking(const OpDesc& op, const OpContext& ctx, Tensor& x, Tensor& out) {
  std::vector<std::int64_t> shape;
  if (Status st = reshape_target(op, ctx.batch, x, shape); !st.ok()) return st;
  out.shape = std::move(shape);
  std::swap(out.data, x.data);
  apply_activation_split(ctx, op.act, out.data.data(), out.numel());
  return {};
}

Status run_shape_op(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  Status s;
  switch (op.kind) {
    case OpKind::kReshape:
      s = reshape(op, ctx, *in[0], out);
      break;
    case OpKind::kPermute:
      s = permute(op, ctx, *in[0], out);
      break;
    case OpKind::kConcat:
      s = concat(op, ctx.max_elements, in, out);
      break;
    case OpKind::kSlice:
      s = slice(op, *in[0], out);
      break;
    case OpKind::kExpand:
      s = expand(op, ctx, *in[0], out);
      break;
    case OpKind::kConstant: {
      const TensorData& t = *op.tensor(ctx.model.tensors, 0);
      out.shape = t.dims;
      out.data = t.values;
      break;
    }
    case OpKind::kEmbedding: {
      const TensorData& table = *op.tensor(ctx.model.tensors, 0);
      const Tensor& idx = *in[0];
      const std::int64_t rows = table.dims[0], width = table.dims[1];
      std::vector<std::int64_t> shape = idx.shape;
      shape.push_back(width);
      if (Status st = allocate_output(out, shape, ctx.max_elements); !st.ok()) return st;
      for (std::int64_t i = 0; i < idx.numel(); ++i) {
        const float v = idx.data[i];
        if (!(v >= 0.0f) || v >= static_cast<float>(rows) || v != std::floor(v)) {
          return Status::error("embedding index " + std::to_string(v) + " is out of range [0, " +
                               std::to_string(rows) + ")");
        }
        const auto r = static_cast<std::int64_t>(v);
        std::copy(table.values.data() + r * width, table.values.data() + (r + 1) * width,
                  out.data.data() + i * width);
      }
      break;
    }
    default:
      return Status::error(std::string("internal: not a shape op: ") + op_name(op.kind));
  }
  if (s.ok()) apply_activation_split(ctx, op.act, out.data.data(), out.numel());
  return s;
}

}  // namespace triton_rt

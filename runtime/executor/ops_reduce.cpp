// Ops that reduce over windows or axes: max/avg/adaptive-avg pooling, mean, softmax,
// log-softmax and layer norm. Accumulation is in float32 like PyTorch's CPU kernels, except
// softmax and layer norm statistics, which use double sums to stay within the parity
// tolerance on long rows. Pooling splits over channel planes, softmax and layer norm over
// rows (executor/split.h); a split never cuts a sum, so results do not depend on threads.
#include <algorithm>
#include <cmath>
#include <limits>

#include "executor/ops.h"
#include "executor/split.h"
#include "kernels/row_math.h"

namespace triton_rt {
namespace {

int norm_dim(std::int64_t d, int rank) { return static_cast<int>(d < 0 ? d + rank : d); }

Status pool(const OpDesc& op, const OpContext& ctx, const Tensor& x, Tensor& out) {
  if (x.rank() != 4) return Status::error("pooling expects [N, C, H, W], got " + shape_string(x.shape));
  const auto& a = op.ints;
  const std::int64_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], ph = a[4], pw = a[5];
  const std::int64_t h = x.shape[2], w = x.shape[3];
  if (h + 2 * ph < kh || w + 2 * pw < kw) return Status::error("pooling window exceeds the input");
  const std::int64_t oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
  const bool is_max = op.kind == OpKind::kMaxPool2d;
  const bool include_pad = !is_max && a[6] != 0;
  const std::vector<std::int64_t> shape = {x.shape[0], x.shape[1], oh, ow};
  if (Status st = allocate_output(out, shape, ctx.max_elements); !st.ok()) return st;
  const std::int64_t planes = x.shape[0] * x.shape[1];
  split(ctx, planes, 1, work_ns(ctx, Work::kMove, static_cast<double>(oh) * ow * (kh * kw + 1)),
        [&](std::int64_t plane_begin, std::int64_t plane_end) {
    for (std::int64_t pl = plane_begin; pl < plane_end; ++pl) {
      const float* src = x.data.data() + pl * h * w;
      float* dst = out.data.data() + pl * oh * ow;
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          const std::int64_t y0 = oy * sh - ph, x0 = ox * sw - pw;
          const std::int64_t y1 = std::min(y0 + kh, h), x1 = std::min(x0 + kw, w);
          const std::int64_t ys = std::max<std::int64_t>(y0, 0), xs = std::max<std::int64_t>(x0, 0);
          float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
          for (std::int64_t yy = ys; yy < y1; ++yy) {
            for (std::int64_t xx = xs; xx < x1; ++xx) {
              const float v = src[yy * w + xx];
              acc = is_max ? std::max(acc, v) : acc + v;
            }
          }
          if (!is_max) {
            const std::int64_t count =
                include_pad ? (std::min(y0 + kh, h + ph) - y0) * (std::min(x0 + kw, w + pw) - x0)
                            : (y1 - ys) * (x1 - xs);
            acc /= static_cast<float>(count);
          }
          dst[oy * ow + ox] = acc;
        }
      }
    }
  });
  return {};
}

Status adaptive_avg(const OpDesc& op, const OpContext& ctx, const Tensor& x, Tensor& out) {
  if (x.rank() != 4) return Status::error("adaptive pooling expects [N, C, H, W], got " + shape_string(x.shape));
  const std::int64_t oh = op.ints[0], ow = op.ints[1], h = x.shape[2], w = x.shape[3];
  const std::vector<std::int64_t> shape = {x.shape[0], x.shape[1], oh, ow};
  if (Status st = allocate_output(out, shape, ctx.max_elements); !st.ok()) return st;
  const std::int64_t planes = x.shape[0] * x.shape[1];
  split(ctx, planes, 1, work_ns(ctx, Work::kMove, 4.0 * h * w + 2.0 * oh * ow),
        [&](std::int64_t plane_begin, std::int64_t plane_end) {
    for (std::int64_t pl = plane_begin; pl < plane_end; ++pl) {
      const float* src = x.data.data() + pl * h * w;
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        const std::int64_t y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh;
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          const std::int64_t x0 = ox * w / ow, x1 = ((ox + 1) * w + ow - 1) / ow;
          float acc = 0.0f;
          for (std::int64_t yy = y0; yy < y1; ++yy) {
            for (std::int64_t xx = x0; xx < x1; ++xx) acc += src[yy * w + xx];
          }
          out.data[(pl * oh + oy) * ow + ox] = acc / static_cast<float>((y1 - y0) * (x1 - x0));
        }
      }
    }
  });
  return {};
}

Status mean(const OpDesc& op, const Tensor& x, Tensor& out) {
  const bool keep = op.ints[0] != 0;
  std::vector<char> reduced(x.rank(), 0);
  for (std::size_t i = 1; i < op.ints.size(); ++i) {
    const int d = norm_dim(op.ints[i], x.rank());
    if (d < 0 || d >= x.rank()) return Status::error("mean: dim out of range for " + shape_string(x.shape));
    reduced[d] = 1;
  }
  std::vector<std::int64_t> shape, kept_shape;
  std::int64_t count = 1;
  for (int d = 0; d < x.rank(); ++d) {
    if (reduced[d]) {
      count *= x.shape[d];
      if (keep) shape.push_back(1);
      kept_shape.push_back(1);
    } else {
      shape.push_back(x.shape[d]);
      kept_shape.push_back(x.shape[d]);
    }
  }
  out.shape = shape;
  out.data.assign(Tensor::numel_of(shape), 0.0f);  // no larger than the input
  std::vector<std::int64_t> out_strides(x.rank(), 0);
  std::int64_t stride = 1;
  for (int d = x.rank() - 1; d >= 0; --d) {
    out_strides[d] = reduced[d] ? 0 : stride;
    stride *= kept_shape[d];
  }
  std::vector<double> acc(out.numel(), 0.0);
  std::vector<std::int64_t> idx(x.rank(), 0);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    std::int64_t o = 0;
    for (int d = 0; d < x.rank(); ++d) o += idx[d] * out_strides[d];
    acc[o] += x.data[i];
    for (int d = x.rank() - 1; d >= 0; --d) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
  for (std::int64_t i = 0; i < out.numel(); ++i) out.data[i] = static_cast<float>(acc[i] / count);
  return {};
}

Status softmax(const OpDesc& op, const OpContext& ctx, const Tensor& x, Tensor& out, bool log) {
  const int dim = norm_dim(op.ints[0], x.rank());
  if (dim < 0 || dim >= x.rank()) return Status::error("softmax: dim out of range");
  std::int64_t outer = 1, inner = 1;
  const std::int64_t n = x.shape[dim];
  for (int d = 0; d < dim; ++d) outer *= x.shape[d];
  for (int d = dim + 1; d < x.rank(); ++d) inner *= x.shape[d];
  out.shape = x.shape;
  out.data.resize(x.data.size());
  // One line of n elements per (outer, inner) index: copied in, then max, exp and scale. A
  // contiguous softmax line runs the vectorized row kernel: about six float moves an element.
  const double line_ns = inner == 1 && !log
      ? work_ns(ctx, Work::kMove, 6.0 * static_cast<double>(n))
      : static_cast<double>(n) * (work_ns(ctx, Work::kMath, 1) + work_ns(ctx, Work::kMove, 5));
  // Lines next to each other in `inner` share cache lines: they stay in one chunk.
  const std::int64_t grain = inner > 1 ? kFloatsPerLine : 1;
  const kernels::RowMathKernels& row = kernels::row_math_kernels(ctx.kernels.isa);
  split(ctx, outer * inner, grain, line_ns, [&](std::int64_t line_begin, std::int64_t line_end) {
    for (std::int64_t line = line_begin; line < line_end; ++line) {
      const std::int64_t o = line / inner, i = line % inner;
      float* p = out.data.data() + o * n * inner + i;
      const float* src = x.data.data() + o * n * inner + i;
      if (inner == 1 && !log && n > 0) {  // a contiguous row: the ISA's row kernel
        std::copy(src, src + n, p);
        row.softmax(p, n);
        continue;
      }
      for (std::int64_t j = 0; j < n; ++j) p[j * inner] = src[j * inner];
      float mx = -std::numeric_limits<float>::infinity();
      for (std::int64_t j = 0; j < n; ++j) mx = std::max(mx, p[j * inner]);
      double sum = 0.0;
      if (log) {
        for (std::int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(p[j * inner] - mx));
        const double log_sum = std::log(sum);
        for (std::int64_t j = 0; j < n; ++j) {
          p[j * inner] = static_cast<float>(static_cast<double>(p[j * inner] - mx) - log_sum);
        }
      } else {
        // One float exp per element, kept in place, summed in double (attention rows are
        // hundreds long; the exp dominated this op when it ran twice in double).
        for (std::int64_t j = 0; j < n; ++j) {
          const float e = std::exp(p[j * inner] - mx);
          p[j * inner] = e;
          sum += e;
        }
        const auto scale = static_cast<float>(1.0 / sum);
        for (std::int64_t j = 0; j < n; ++j) p[j * inner] *= scale;
      }
    }
  });
  return {};
}

Status layer_norm(const OpDesc& op, const OpContext& ctx, const Tensor& x, Tensor& out) {
  const int nr = op.ints[0];
  if (nr > x.rank()) return Status::error("layer norm over more dims than " + shape_string(x.shape));
  std::int64_t m = 1;
  for (int d = x.rank() - nr; d < x.rank(); ++d) m *= x.shape[d];
  const TensorData* weight = op.tensor(ctx.model.tensors, 0);
  const TensorData* bias = op.tensor(ctx.model.tensors, 1);
  if ((weight && weight->numel() != m) || (bias && bias->numel() != m)) {
    return Status::error("layer norm affine size does not match " + shape_string(x.shape));
  }
  const float eps = op.floats[0];
  out.shape = x.shape;
  out.data.resize(x.data.size());
  const std::int64_t rows = m ? x.numel() / m : 0;
  // Three vectorized passes (kernels/row_math.h), statistics in double: about six float moves
  // an element.
  const double row_ns = work_ns(ctx, Work::kMove, 6.0 * static_cast<double>(m));
  const kernels::RowMathKernels& kernel = kernels::row_math_kernels(ctx.kernels.isa);
  const float* w = weight ? weight->values.data() : nullptr;
  const float* b = bias ? bias->values.data() : nullptr;
  if (m == 0) return {};
  split(ctx, rows, 1, row_ns, [&](std::int64_t row_begin, std::int64_t row_end) {
    for (std::int64_t r = row_begin; r < row_end; ++r) {
      kernel.layer_norm(x.data.data() + r * m, m, eps, w, b, out.data.data() + r * m);
    }
  });
  return {};
}

}  // namespace

Status run_reduce_op(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  Status s;
  switch (op.kind) {
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d:
      s = pool(op, ctx, *in[0], out);
      break;
    case OpKind::kAdaptiveAvgPool2d:
      s = adaptive_avg(op, ctx, *in[0], out);
      break;
    case OpKind::kMean:
      s = mean(op, *in[0], out);
      break;
    case OpKind::kSoftmax:
    case OpKind::kLogSoftmax:
      s = softmax(op, ctx, *in[0], out, op.kind == OpKind::kLogSoftmax);
      break;
    case OpKind::kLayerNorm:
      s = layer_norm(op, ctx, *in[0], out);
      break;
    default:
      return Status::error(std::string("internal: not a reduce op: ") + op_name(op.kind));
  }
  if (s.ok()) apply_activation_split(ctx, op.act, out.data.data(), out.numel());
  return s;
}

}  // namespace triton_rt

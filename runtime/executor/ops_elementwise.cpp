// Elementwise ops: activations (also applied as fused epilogues), broadcasting binary ops,
// per-channel and scalar affine maps, and the ternary activation quantizer. Each op splits
// its elements (or rows, or channel planes) over the pool by cost (executor/split.h): a
// residual add of a batch-1 feature map runs on the caller, one of a batch of 32 does not.
#include <algorithm>
#include <cmath>

#include "executor/ops.h"
#include "executor/split.h"
#include "kernels/gelu_rows.h"

namespace triton_rt {

kernels::Clamp clamp_of(Activation act) {
  if (act == Activation::kRelu) return kernels::Clamp::kRelu;
  if (act == Activation::kRelu6) return kernels::Clamp::kRelu6;
  return kernels::Clamp::kNone;
}

void apply_activation(Activation act, float* d, std::int64_t n) {
  switch (act) {
    case Activation::kNone:
      return;
    case Activation::kRelu:
      for (std::int64_t i = 0; i < n; ++i) d[i] = d[i] > 0.0f ? d[i] : 0.0f;
      return;
    case Activation::kRelu6:
      for (std::int64_t i = 0; i < n; ++i) d[i] = std::min(6.0f, std::max(0.0f, d[i]));
      return;
    case Activation::kGelu:
      kernels::gelu_inplace(d, n);
      return;
    case Activation::kGeluTanh:
      for (std::int64_t i = 0; i < n; ++i) {
        const float v = d[i];
        d[i] = 0.5f * v * (1.0f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
      }
      return;
    case Activation::kSilu:
      for (std::int64_t i = 0; i < n; ++i) d[i] = d[i] / (1.0f + std::exp(-d[i]));
      return;
    case Activation::kSigmoid:
      for (std::int64_t i = 0; i < n; ++i) d[i] = 1.0f / (1.0f + std::exp(-d[i]));
      return;
    case Activation::kTanh:
      for (std::int64_t i = 0; i < n; ++i) d[i] = std::tanh(d[i]);
      return;
  }
}

namespace {

float combine(OpKind kind, float a, float b) {
  switch (kind) {
    case OpKind::kAdd:
      return a + b;
    case OpKind::kSub:
      return a - b;
    case OpKind::kMul:
      return a * b;
    default:
      return a / b;
  }
}

}  // namespace

Status run_binary(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  const int rank = std::max(a.rank(), b.rank());
  std::vector<std::int64_t> shape(rank), sa(rank, 0), sb(rank, 0);
  std::int64_t stride_a = 1, stride_b = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
    const std::int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      return Status::error(std::string(op_name(op.kind)) + ": shapes " + shape_string(a.shape) +
                           " and " + shape_string(b.shape) + " do not broadcast");
    }
    shape[i] = std::max(da, db);
    sa[i] = da == 1 ? 0 : stride_a;
    sb[i] = db == 1 ? 0 : stride_b;
    stride_a *= da;
    stride_b *= db;
  }
  if (Status st = allocate_output(out, shape, ctx.max_elements); !st.ok()) return st;
  float* y = out.data.data();
  const std::int64_t n = out.numel();
  const double element_ns = work_ns(ctx, Work::kMove, 3) + activation_ns(ctx, op.act);
  if (a.shape == b.shape) {
    // One loop per kind, so the compiler vectorizes it (a residual add is on the hot path).
    const float* pa = a.data.data();
    const float* pb = b.data.data();
    split(ctx, n, kFloatsPerLine, element_ns, [&](std::int64_t begin, std::int64_t end) {
      switch (op.kind) {
        case OpKind::kAdd:
          for (std::int64_t i = begin; i < end; ++i) y[i] = pa[i] + pb[i];
          break;
        case OpKind::kSub:
          for (std::int64_t i = begin; i < end; ++i) y[i] = pa[i] - pb[i];
          break;
        case OpKind::kMul:
          for (std::int64_t i = begin; i < end; ++i) y[i] = pa[i] * pb[i];
          break;
        default:
          for (std::int64_t i = begin; i < end; ++i) y[i] = combine(op.kind, pa[i], pb[i]);
      }
      apply_activation(op.act, y + begin, end - begin);
    });
    return {};
  }
  // Innermost dimension in a tight loop, split over the rows it makes; within a chunk the
  // outer indices advance as an odometer from the chunk's first row.
  const std::int64_t inner = rank ? shape[rank - 1] : 1;
  const std::int64_t ia = rank ? sa[rank - 1] : 0, ib = rank ? sb[rank - 1] : 0;
  const std::int64_t rows = inner ? n / inner : 0;
  split(ctx, rows, 1, element_ns * inner, [&](std::int64_t row_begin, std::int64_t row_end) {
    std::vector<std::int64_t> idx(rank, 0);
    for (std::int64_t d = rank - 2, r = row_begin; d >= 0; --d) {
      idx[d] = r % shape[d];
      r /= shape[d];
    }
    for (std::int64_t row = row_begin; row < row_end; ++row) {
      std::int64_t oa = 0, ob = 0;
      for (int d = 0; d + 1 < rank; ++d) {
        oa += idx[d] * sa[d];
        ob += idx[d] * sb[d];
      }
      float* yr = y + row * inner;
      for (std::int64_t j = 0; j < inner; ++j) {
        yr[j] = combine(op.kind, a.data[oa + j * ia], b.data[ob + j * ib]);
      }
      apply_activation(op.act, yr, inner);
      for (int d = rank - 2; d >= 0; --d) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  });
  return {};
}

Status run_unary(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  const Tensor& x = *in[0];
  const std::int64_t n = x.numel();
  out.shape = x.shape;
  out.data.resize(static_cast<std::size_t>(n));
  const float* s = x.data.data();
  float* d = out.data.data();
  // Every kind reads x and writes out once (then the fused activation, in place).
  double element_ns = work_ns(ctx, Work::kMove, 2) + activation_ns(ctx, op.act);
  switch (op.kind) {
    case OpKind::kActivation: {
      const auto act = static_cast<Activation>(op.ints[0]);
      element_ns += activation_ns(ctx, act);
      split(ctx, n, kFloatsPerLine, element_ns, [&](std::int64_t b, std::int64_t e) {
        std::copy(s + b, s + e, d + b);
        apply_activation(act, d + b, e - b);
        apply_activation(op.act, d + b, e - b);
      });
      return {};
    }
    case OpKind::kScalarAffine: {
      const float a = op.floats[0], c = op.floats[1];
      split(ctx, n, kFloatsPerLine, element_ns, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) d[i] = a * s[i] + c;
        apply_activation(op.act, d + b, e - b);
      });
      return {};
    }
    case OpKind::kChannelAffine: {
      const TensorData& scale = *op.tensor(ctx.model.tensors, 0);
      const TensorData& shift = *op.tensor(ctx.model.tensors, 1);
      const std::int64_t c = scale.dims[0];
      if (x.rank() < 2 || x.shape[1] != c) {
        return Status::error("channel affine over " + std::to_string(c) + " channels got " +
                             shape_string(x.shape));
      }
      // Planes of `inner` elements share a channel: one multiply-add per element, no
      // division.
      const std::int64_t planes = x.shape[0] * c;
      const std::int64_t inner = planes ? n / planes : 0;
      split(ctx, planes, 1, element_ns * inner, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t plane = b; plane < e; ++plane) {
          const float sc = scale.values[plane % c], sh = shift.values[plane % c];
          const float* sp = s + plane * inner;
          float* dp = d + plane * inner;
          for (std::int64_t i = 0; i < inner; ++i) dp[i] = sp[i] * sc + sh;
          apply_activation(op.act, dp, inner);
        }
      });
      return {};
    }
    case OpKind::kTernaryActivation: {
      // sign: clip * (x >= 0 ? 1 : -1); ternary: clip * sign(x) where |x| > threshold * clip.
      const float clip = op.floats[0];
      const bool sign = op.ints[0] == 0;
      const float cut = sign ? 0.0f : op.floats[1] * clip;
      split(ctx, n, kFloatsPerLine, element_ns, [&](std::int64_t b, std::int64_t e) {
        if (sign) {
          for (std::int64_t i = b; i < e; ++i) d[i] = s[i] >= 0.0f ? clip : -clip;
        } else {
          for (std::int64_t i = b; i < e; ++i) {
            const float v = s[i];
            d[i] = std::fabs(v) > cut ? (v > 0.0f ? clip : -clip) : 0.0f;
          }
        }
        apply_activation(op.act, d + b, e - b);
      });
      return {};
    }
    default:
      return Status::error(std::string("internal: not a unary op: ") + op_name(op.kind));
  }
}

}  // namespace triton_rt

// Elementwise ops: activations (also applied as fused epilogues), broadcasting binary ops,
// per-channel and scalar affine maps, and the ternary activation quantizer.
#include <algorithm>
#include <cmath>

#include "executor/ops.h"
#include "kernels/gelu.h"

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
      for (std::int64_t i = 0; i < n; ++i) d[i] = kernels::gelu_erf(d[i]);
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
  if (Status st = allocate(out, shape, ctx.max_elements); !st.ok()) return st;
  float* y = out.data.data();
  const std::int64_t n = out.numel();
  if (a.shape == b.shape) {
    // One loop per kind, so the compiler vectorizes it (a residual add is on the hot path).
    const float* pa = a.data.data();
    const float* pb = b.data.data();
    switch (op.kind) {
      case OpKind::kAdd:
        for (std::int64_t i = 0; i < n; ++i) y[i] = pa[i] + pb[i];
        break;
      case OpKind::kSub:
        for (std::int64_t i = 0; i < n; ++i) y[i] = pa[i] - pb[i];
        break;
      case OpKind::kMul:
        for (std::int64_t i = 0; i < n; ++i) y[i] = pa[i] * pb[i];
        break;
      default:
        for (std::int64_t i = 0; i < n; ++i) y[i] = combine(op.kind, pa[i], pb[i]);
    }
  } else {
    // Innermost dimension in a tight loop; outer indices walked with an odometer.
    const std::int64_t inner = rank ? shape[rank - 1] : 1;
    const std::int64_t ia = rank ? sa[rank - 1] : 0, ib = rank ? sb[rank - 1] : 0;
    std::vector<std::int64_t> idx(rank, 0);
    for (std::int64_t base = 0; base < n; base += inner) {
      std::int64_t oa = 0, ob = 0;
      for (int d = 0; d + 1 < rank; ++d) {
        oa += idx[d] * sa[d];
        ob += idx[d] * sb[d];
      }
      for (std::int64_t j = 0; j < inner; ++j) {
        y[base + j] = combine(op.kind, a.data[oa + j * ia], b.data[ob + j * ib]);
      }
      for (int d = rank - 2; d >= 0; --d) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  }
  apply_activation(op.act, y, n);
  return {};
}

Status run_unary(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  const Tensor& x = *in[0];
  out = x;
  float* d = out.data.data();
  const std::int64_t n = out.numel();
  switch (op.kind) {
    case OpKind::kActivation:
      apply_activation(static_cast<Activation>(op.ints[0]), d, n);
      break;
    case OpKind::kScalarAffine: {
      const float a = op.floats[0], b = op.floats[1];
      for (std::int64_t i = 0; i < n; ++i) d[i] = a * d[i] + b;
      break;
    }
    case OpKind::kChannelAffine: {
      const TensorData& scale = *op.tensor(ctx.model.tensors, 0);
      const TensorData& shift = *op.tensor(ctx.model.tensors, 1);
      const std::int64_t c = scale.dims[0];
      if (x.rank() < 2 || x.shape[1] != c) {
        return Status::error("channel affine over " + std::to_string(c) + " channels got " +
                             shape_string(x.shape));
      }
      const std::int64_t inner = n / (x.shape[0] * c);
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t ch = i / inner % c;
        d[i] = d[i] * scale.values[ch] + shift.values[ch];
      }
      break;
    }
    case OpKind::kTernaryActivation: {
      // sign: clip * (x >= 0 ? 1 : -1); ternary: clip * sign(x) where |x| > threshold * clip.
      const float clip = op.floats[0];
      if (op.ints[0] == 0) {
        for (std::int64_t i = 0; i < n; ++i) d[i] = d[i] >= 0.0f ? clip : -clip;
      } else {
        const float cut = op.floats[1] * clip;
        for (std::int64_t i = 0; i < n; ++i) {
          const float v = d[i];
          d[i] = std::fabs(v) > cut ? (v > 0.0f ? clip : -clip) : 0.0f;
        }
      }
      break;
    }
    default:
      return Status::error(std::string("internal: not a unary op: ") + op_name(op.kind));
  }
  apply_activation(op.act, d, n);
  return {};
}

}  // namespace triton_rt

// Linear and conv2d layers with 8-bit activations: the ops whose record carries an
// activation scale (a layer trained with `activation_bits: 8`, docs/packed-format.md).
//
// The input is quantized once with the stored scale (the int8 kernels' `quantize`, which
// matches PyTorch bit for bit), multiplied by the ternary codes in int32 (exact), and each
// accumulator becomes y = acc * (s_in * scale[o]) + bias, followed by the fused activation.
// A linear layer runs the GEMV per row for small batches and the GEMM over [rows, K]
// otherwise; a convolution quantizes the whole input, builds int8 im2col lines (one per
// output pixel, K contiguous values) per image and group, and runs the GEMM over them.
// Layers with float weights (quantization "none") only fake-quantize their input
// (x_hat = q * s) and then take the float path.
#include <algorithm>

#include "executor/ops.h"
#include "kernels/ternary_int8.h"

namespace triton_rt {
namespace {

constexpr std::int64_t kGemvMaxRows = 4;   // batch rows below which the GEMV runs per row
// Weights x columns below which no threads wake: waking the pool costs about 10 us, about
// 1M int8 products on VNNI (the MLP's 784x256 layer at batch 1 is 0.2M).
constexpr std::int64_t kInlineWork = 1 << 20;

// Quantizes `n` values (in parallel when there are many).
void quantize(const OpContext& ctx, const float* x, std::int64_t n, float scale, std::int8_t* q) {
  if (n < kInlineWork || ctx.pool.size() == 1) {
    ctx.int8_kernels->quantize(x, n, scale, q);
    return;
  }
  ctx.pool.parallel_for(n, 4096, [&](std::int64_t b, std::int64_t e) {
    ctx.int8_kernels->quantize(x + b, e - b, scale, q + b);
  });
}

// The float path on x_hat = q * s, for a layer whose weights are not ternary.
Status run_fake_quantized(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  const Tensor& x = *in[0];
  const float scale = op.floats[0];
  std::vector<std::int8_t> q(x.data.size());
  quantize(ctx, x.data.data(), x.numel(), scale, q.data());
  Tensor dequantized(x.shape);
  for (std::size_t i = 0; i < q.size(); ++i) dequantized.data[i] = static_cast<float>(q[i]) * scale;
  OpDesc float_op = op;
  float_op.floats.clear();
  const Inputs float_in{&dequantized};
  return op.kind == OpKind::kLinear ? run_linear(float_op, ctx, float_in, out)
                                    : run_conv2d(float_op, ctx, float_in, out);
}

// y[o] = acc[o] * (s_in * scale[o]) + bias[o] for o in [begin, end), then the activation.
void finish_row(const kernels::PreparedTernaryInt8& w, float input_scale, const TensorData* bias,
                Activation act, const std::int32_t* acc, std::int64_t acc_stride, float* y,
                std::int64_t begin, std::int64_t end) {
  for (std::int64_t o = begin; o < end; ++o) {
    y[o] = static_cast<float>(acc[o * acc_stride]) * (input_scale * w.scales[o]) +
           (bias ? bias->values[o] : 0.0f);
  }
  apply_activation(act, y + begin, end - begin);
}

}  // namespace

bool has_activation_scale(const OpDesc& op) {
  return (op.kind == OpKind::kLinear || op.kind == OpKind::kConv2d) && op.floats.size() == 1;
}

Status run_linear_int8(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  if (ctx.ternary_int8 == nullptr) return run_fake_quantized(op, ctx, in, out);
  const kernels::PreparedTernaryInt8& w = *ctx.ternary_int8;
  const TensorData* bias = op.tensor(ctx.model.tensors, 1);
  const Tensor& x = *in[0];
  const std::int64_t k = w.cols, o_count = w.rows, ld = w.padded_cols;
  std::int64_t rows = 0;
  if (Status st = allocate_linear_output(x, k, o_count, ctx, out, rows); !st.ok()) return st;
  const float scale = op.floats[0];
  // [rows, ld] quantized rows; the padding past k stays 0.
  std::vector<std::int8_t> xq(static_cast<std::size_t>(rows * ld), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    ctx.int8_kernels->quantize(x.data.data() + r * k, k, scale, xq.data() + r * ld);
  }
  float* y = out.data.data();
  const bool inline_only = ctx.pool.size() == 1 || o_count * ld * rows < kInlineWork;
  if (rows < kGemvMaxRows) {
    std::vector<std::int32_t> acc(static_cast<std::size_t>(o_count));
    for (std::int64_t r = 0; r < rows; ++r) {
      auto rows_fn = [&](std::int64_t b, std::int64_t e) {
        ctx.int8_kernels->gemv(w, xq.data() + r * ld, acc.data(), b, e);
        finish_row(w, scale, bias, op.act, acc.data(), 1, y + r * o_count, b, e);
      };
      if (inline_only) {
        rows_fn(0, o_count);
      } else {
        ctx.pool.parallel_for(o_count, 64, rows_fn);
      }
    }
    return {};
  }
  // acc is [rows, o_count], like y: output channel o of batch row j at j * o_count + o.
  std::vector<std::int32_t> acc(static_cast<std::size_t>(rows * o_count));
  auto channels = [&](std::int64_t b, std::int64_t e) {
    ctx.int8_kernels->gemm(w, xq.data(), rows, acc.data(), 1, o_count, b, e);
    for (std::int64_t j = 0; j < rows; ++j) {
      finish_row(w, scale, bias, op.act, acc.data() + j * o_count, 1, y + j * o_count, b, e);
    }
  };
  if (inline_only) {
    channels(0, o_count);
  } else {
    ctx.pool.parallel_for(o_count, 8, channels);
  }
  return {};
}

Status run_conv2d_int8(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  if (ctx.ternary_int8 == nullptr) return run_fake_quantized(op, ctx, in, out);
  const kernels::PreparedTernaryInt8& w = *ctx.ternary_int8;
  const TensorData* bias = op.tensor(ctx.model.tensors, 1);
  const Tensor& x = *in[0];
  const auto& a = op.ints;
  if (x.rank() != 4) return Status::error("conv2d expects [N, C, H, W], got " + shape_string(x.shape));
  const std::int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const std::int64_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], ph = a[4], pw = a[5], dh = a[6],
                     dw = a[7], groups = a[8];
  const std::int64_t o = w.rows, k = w.cols, ld = w.padded_cols;
  if (c % groups != 0 || k != c / groups * kh * kw) {
    return Status::error("conv2d weight does not fit input " + shape_string(x.shape));
  }
  if (h + 2 * ph < dh * (kh - 1) + 1 || wd + 2 * pw < dw * (kw - 1) + 1) {
    return Status::error("conv2d input " + shape_string(x.shape) + " is smaller than the kernel");
  }
  const std::int64_t cg = c / groups, og = o / groups;
  const std::int64_t oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
  const std::int64_t ow = (wd + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  const std::int64_t p = oh * ow;
  if (Status st = allocate(out, {n, o, oh, ow}, ctx.max_elements); !st.ok()) return st;
  const float scale = op.floats[0];
  std::vector<std::int8_t> xq(x.data.size());
  quantize(ctx, x.data.data(), x.numel(), scale, xq.data());
  // One line of K int8 values per output pixel (padding positions are 0 = quantized 0.0).
  std::vector<std::int8_t> lines(static_cast<std::size_t>(p * ld), 0);
  std::vector<std::int32_t> acc(static_cast<std::size_t>(o * p));  // [o, p]
  const bool inline_only = ctx.pool.size() == 1 || og * ld * p < kInlineWork;
  auto split = [&](std::int64_t count, std::int64_t grain, const auto& fn) {
    if (inline_only) {
      fn(std::int64_t{0}, count);
    } else {
      ctx.pool.parallel_for(count, grain, fn);
    }
  };
  for (std::int64_t image = 0; image < n; ++image) {
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int8_t* planes = xq.data() + (image * c + g * cg) * h * wd;
      split(p, 16, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t pos = b; pos < e; ++pos) {
          const std::int64_t oy = pos / ow, ox = pos % ow;
          std::int8_t* line = lines.data() + pos * ld;
          for (std::int64_t ci = 0; ci < cg; ++ci) {
            const std::int8_t* plane = planes + ci * h * wd;
            for (std::int64_t i = 0; i < kh; ++i) {
              const std::int64_t iy = oy * sh - ph + i * dh;
              for (std::int64_t j = 0; j < kw; ++j) {
                const std::int64_t ix = ox * sw - pw + j * dw;
                *line++ = (iy >= 0 && iy < h && ix >= 0 && ix < wd) ? plane[iy * wd + ix] : 0;
              }
            }
          }
        }
      });
      const std::int64_t first = g * og;
      float* yg = out.data.data() + (image * o + first) * p;
      split(og, 2, [&](std::int64_t b, std::int64_t e) {
        ctx.int8_kernels->gemm(w, lines.data(), p, acc.data(), p, 1, first + b, first + e);
        for (std::int64_t r = b; r < e; ++r) {
          float* row = yg + r * p;
          const float factor = scale * w.scales[first + r];
          const float shift = bias ? bias->values[first + r] : 0.0f;
          const std::int32_t* ar = acc.data() + (first + r) * p;
          for (std::int64_t i = 0; i < p; ++i) row[i] = static_cast<float>(ar[i]) * factor + shift;
          apply_activation(op.act, row, p);
        }
      });
    }
  }
  return {};
}

}  // namespace triton_rt

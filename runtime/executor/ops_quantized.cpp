// Linear and conv2d layers with 8-bit activations: the ops whose record carries an
// activation scale (a layer trained with `activation_bits: 8`, docs/packed-format.md).
//
// The input is quantized once with the stored scale (the int8 kernels' `quantize`, which
// matches PyTorch bit for bit) into an 8-bit image (kernels/ternary_int8.h: pixel-major
// bytes q + 128 with a border of quantized zeros as wide as the padding), and the kernels
// run the convolution directly on it, writing y = acc * (s_in * scale[o]) + bias with the
// fused ReLU/ReLU6/GELU straight into the NCHW (or row-major) float output. A linear layer is a
// 1x1 convolution over its rows; depthwise convolutions run their own kernel. Other
// activations run on the float output afterwards. Layers with float weights (quantization
// "none") only fake-quantize their input (x_hat = q * s) and then take the float path.
//
// 8-bit handoffs (Int8Handoff, planned at load): where the only reader of an op's output is
// another 8-bit op, the write-back quantizes y with the reader's scale straight into the
// reader's 8-bit images (Tensor::q8), and the reader skips its own quantization; the values
// are the same as through float, without the float round trip.
//
// Threads: the work is cut into (output-channel tiles x position ranges) so batch 1 uses
// the threads; how many follows the estimated cost (split.h: the pool gives each thread at
// least min_thread_work_ns), and batches at least as large as that give each thread whole
// images. Outputs written pixel-major (8-bit images, and linear layers' token rows) are cut
// by positions where there are enough of them, else into channel ranges of whole 64-byte
// lines: tasks of 8 or 16 channels of the same pixels wrote into one cache line from two
// cores, which made MobileNetV2's 8-bit expansion and depthwise layers slower at 2 threads
// than at 1.
#include <algorithm>
#include <cstring>

#include "executor/ops.h"
#include "executor/split.h"
#include "kernels/ternary_int8.h"

namespace triton_rt {
namespace {

using kernels::Int8ImageLayout;
using kernels::Int8Output;

// The fewest positions a task takes (whole 6-position tiles).
constexpr std::int64_t kMinTaskPositions = 24;

// The float path on x_hat = q * s, for a layer whose weights are not ternary.
Status run_fake_quantized(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  const Tensor& x = *in[0];
  const float scale = op.floats[0];
  std::vector<std::uint8_t> q(x.data.size());
  ctx.int8_kernels->quantize(x.data.data(), x.numel(), scale, q.data());
  Tensor dequantized(x.shape);
  for (std::size_t i = 0; i < q.size(); ++i) {
    dequantized.data[i] = static_cast<float>(static_cast<int>(q[i]) - 128) * scale;
  }
  OpDesc float_op = op;
  float_op.floats.clear();
  const Inputs float_in{&dequantized};
  return op.kind == OpKind::kLinear ? run_linear(float_op, ctx, float_in, out)
                                    : run_conv2d(float_op, ctx, float_in, out);
}

// The fused activation of `act` (ReLU, ReLU6, GELU); others are applied afterwards.
Int8Output output_for(Activation act, std::int64_t channels) {
  Int8Output out;
  out.channels = channels;
  if (act == Activation::kRelu || act == Activation::kRelu6) {
    out.clamp = true;
    out.lo = 0.0f;
    if (act == Activation::kRelu6) out.hi = 6.0f;
  }
  out.gelu = act == Activation::kGelu;
  return out;
}

// Sizes `out` as `shape` with 8-bit images of `image_bytes` each (plus slack) instead of
// float data: the output of an op with an 8-bit handoff (Int8Handoff).
Status allocate_q8(const OpContext& ctx, Tensor& out, std::vector<std::int64_t> shape,
                   std::int64_t images, std::int64_t image_bytes, std::int64_t pitch) {
  // The same limit as float results, on the elements and on the bytes.
  const std::int64_t elements = Tensor::numel_of(shape);
  if (elements < 0 || elements > ctx.max_elements || image_bytes < 0 ||
      image_bytes > ctx.max_elements / std::max<std::int64_t>(1, images)) {
    return Status::error("result shape " + shape_string(shape) + " exceeds the limit of " +
                         std::to_string(ctx.max_elements) + " elements");
  }
  out.shape = std::move(shape);
  out.data.clear();
  out.q8 = ctx.scratch->take_bytes(images * image_bytes + kernels::int8_image_slack(pitch));
  return {};
}

// The residual to add to `out` (OpContext::residual), or null where there is none or it
// does not have out's shape (the Add then runs as usual).
const float* residual_for(const OpContext& ctx, const Tensor& out) {
  if (ctx.residual == nullptr || ctx.int8_output != nullptr || ctx.residual->shape != out.shape ||
      static_cast<std::int64_t>(ctx.residual->data.size()) != out.numel()) {
    return nullptr;
  }
  *ctx.residual_applied = true;
  return ctx.residual->data.data();
}

// The folded Add's activation as the write-back's residual clamp (plan_residual_adds folds
// only Adds whose activation is none, ReLU or ReLU6).
void set_residual_clamp(Activation act, Int8Output& out) {
  out.residual_clamp = act == Activation::kRelu || act == Activation::kRelu6;
  if (out.residual_clamp) {
    out.residual_lo = 0.0f;
    if (act == Activation::kRelu6) out.residual_hi = 6.0f;
  }
}

void finish_activation(Activation act, Tensor& out) {
  if (!int8_fuses(act)) apply_activation(act, out.data.data(), out.numel());
}

// The estimated single-thread time of `macs` products and `outputs` write-backs (split.h).
double int8_cost(const OpContext& ctx, double macs, double outputs) {
  return work_ns(ctx, Work::kInt8Mac, macs) + work_ns(ctx, Work::kInt8Output, outputs);
}

// How a pixel-major output (8-bit image, token rows) may be cut: `line_blocks` blocks fill a
// 64-byte line of a pixel, and `positions_first` says whether positions alone are split
// where they are many. Only for small weights: every position task reads all of them, so
// ViT-B/16's 1.8 MB linear layers, streamed once per task, ran 7% slower at 2 threads than
// cut by channels (whose tasks each read their own rows once); what little false sharing
// whole lines leave is nothing next to 768 products per output.
struct PixelMajor {
  std::int64_t line_blocks = 0;  // 0: channel-major output, cut anywhere
  bool positions_first = false;
};
constexpr std::size_t kPositionsFirstWeightBytes = std::size_t{256} << 10;

PixelMajor pixel_major(std::int64_t block_channels, std::int64_t channel_bytes,
                       std::size_t weight_bytes) {
  return {std::max<std::int64_t>(1, 64 / (block_channels * channel_bytes)),
          weight_bytes <= kPositionsFirstWeightBytes};
}

// Calls fn(block_begin, block_end, pos_begin, pos_end) over blocks [0, blocks) x positions
// [0, positions), estimated at cost_ns: on the calling thread when `inline_only` or the cost
// pays for one thread only, else as tasks of `block_grain` blocks and whole tiles of
// positions, enough for the threads the cost pays for. For a pixel-major output (`pixel`),
// positions alone are split where they make two tasks per thread (if positions_first), and
// channel ranges are whole lines otherwise.
template <class Fn>
void split_tiles(const OpContext& ctx, bool inline_only, std::int64_t blocks,
                 std::int64_t block_grain, std::int64_t positions, double cost_ns,
                 PixelMajor pixel, const Fn& fn) {
  const std::int64_t threads = inline_only ? 1 : ctx.pool.threads_for(cost_ns);
  if (threads <= 1) {
    fn(std::int64_t{0}, blocks, std::int64_t{0}, positions);
    return;
  }
  const std::int64_t want = 4 * threads;
  const std::int64_t most = std::max<std::int64_t>(1, positions / kMinTaskPositions);
  std::int64_t least_grain = 1;
  if (pixel.line_blocks > 0) {
    least_grain = pixel.positions_first && most >= 2 * threads ? blocks
                                                               : std::min(blocks, pixel.line_blocks);
    block_grain = std::max(block_grain, least_grain);
  }
  // Layers with few positions (the last stages of a CNN at batch 1) split their output
  // channels finer than a register tile when whole tiles leave threads idle: a narrower
  // tile is less efficient, an idle thread more so.
  while (block_grain > least_grain && (blocks + block_grain - 1) / block_grain * most < threads) {
    block_grain = std::max(least_grain, (block_grain + 1) / 2);
  }
  const std::int64_t block_tasks = (blocks + block_grain - 1) / block_grain;
  const std::int64_t position_tasks = std::clamp<std::int64_t>((want + block_tasks - 1) / block_tasks, 1, most);
  const std::int64_t per = kernels::round_up((positions + position_tasks - 1) / position_tasks, 6);
  const std::int64_t position_count = (positions + per - 1) / per;
  ctx.pool.parallel_for_cost(block_tasks * position_count, 1, cost_ns,
                             [&](std::int64_t b, std::int64_t e, int) {
                               for (std::int64_t t = b; t < e; ++t) {
                                 const std::int64_t bt = t / position_count, pt = t % position_count;
                                 fn(bt * block_grain, std::min(blocks, (bt + 1) * block_grain),
                                    pt * per, std::min(positions, (pt + 1) * per));
                               }
                             });
}

}  // namespace

bool int8_fuses(Activation act) {
  return act == Activation::kNone || act == Activation::kRelu || act == Activation::kRelu6 ||
         act == Activation::kGelu;
}

bool int8_takes_residual(const OpDesc& op, Activation add_act) {
  return (op.kind == OpKind::kLinear || op.kind == OpKind::kConv2d) &&
         (add_act == Activation::kNone || add_act == Activation::kRelu || add_act == Activation::kRelu6);
}

bool has_activation_scale(const OpDesc& op) {
  return (op.kind == OpKind::kLinear || op.kind == OpKind::kConv2d) && op.floats.size() == 1;
}

Status run_linear_int8(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  if (ctx.int8_conv == nullptr) return run_fake_quantized(op, ctx, in, out);
  const kernels::Int8ConvWeights& w = *ctx.int8_conv;
  const kernels::Int8KernelSet& set = *ctx.int8_kernels;
  const Tensor& x = *in[0];
  const std::int64_t k = w.group_in, o_count = w.out_channels, pitch = w.group_in_padded;
  // x.shape is the logical shape also when the values arrive as 8-bit rows (x.q8).
  if (x.rank() < 1 || x.dim(-1) != k) {
    return Status::error("linear expects inputs [..., " + std::to_string(k) + "], got " +
                         shape_string(x.shape));
  }
  const std::int64_t rows = x.numel() / k;
  std::vector<std::int64_t> shape = x.shape;
  shape.back() = o_count;
  if (ctx.int8_output != nullptr) {
    if (Status st = allocate_q8(ctx, out, shape, 1, rows * ctx.int8_output->pitch, ctx.int8_output->pitch); !st.ok()) return st;
  } else if (Status st = allocate(out, shape, ctx.max_elements); !st.ok()) {
    return st;
  }
  const float scale = op.floats[0];
  // The rows as a 1 x rows image without border; the bytes past k are quantized zeros (or,
  // handed over from the previous layer, anything: their codes are 0).
  const std::uint8_t* image = nullptr;
  if (ctx.int8_input) {
    if (static_cast<std::int64_t>(x.q8.size()) < rows * pitch) {
      return Status::error("internal error: linear expects its input as 8-bit rows");
    }
    image = x.q8.data();
  } else {
    std::uint8_t* rows_q = ctx.scratch->bytes_at_least(ScratchUse::kInt8Image,
                                                       rows * pitch + kernels::int8_image_slack(pitch));
    split(ctx, rows, 1, work_ns(ctx, Work::kMove, static_cast<double>(k)),
          [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t r = b; r < e; ++r) {
              set.quantize(x.data.data() + r * k, k, scale, rows_q + r * pitch);
              std::memset(rows_q + r * pitch + k, kernels::kInt8Zero, static_cast<std::size_t>(pitch - k));
            }
          });
    image = rows_q;
  }
  const std::int64_t tap = 0;
  kernels::Int8ConvJob job;
  job.weights = &w;
  job.origin = image;
  job.padded_width = rows;
  job.pitch = pitch;
  job.tap_offsets = &tap;
  job.out_w = rows;
  job.out = output_for(op.act, o_count);
  if (ctx.int8_output != nullptr) {
    job.out.q = out.q8.data();
    job.out.q_scale = ctx.int8_output->scale;
    job.out.q_layout.height = 1;
    job.out.q_layout.width = rows;
    job.out.q_layout.pitch = ctx.int8_output->pitch;
  } else {
    job.out.y = out.data.data();
    job.out.channel_stride = 1;
    job.out.position_stride = o_count;
  }
  const double cost = int8_cost(ctx, static_cast<double>(rows) * o_count * k,
                                static_cast<double>(rows) * o_count);
  job.out.residual = residual_for(ctx, out);
  set_residual_clamp(ctx.residual_act, job.out);
  // Token rows: 8-bit bytes or float32 values, channels contiguous.
  const PixelMajor pixel = pixel_major(w.lanes, job.out.q != nullptr ? 1 : 4, w.codes.size());
  split_tiles(ctx, false, w.sub_blocks(), set.tile_blocks, rows, cost, pixel,
              [&](std::int64_t b0, std::int64_t b1, std::int64_t p0, std::int64_t p1) {
                set.conv(job, b0, b1, p0, p1);
              });
  if (ctx.int8_output == nullptr) finish_activation(op.act, out);
  return {};
}

Status run_conv2d_int8(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  if (ctx.int8_conv == nullptr && ctx.int8_depthwise == nullptr) {
    return run_fake_quantized(op, ctx, in, out);
  }
  const kernels::Int8KernelSet& set = *ctx.int8_kernels;
  const Tensor& x = *in[0];
  const auto& a = op.ints;
  if (x.rank() != 4) return Status::error("conv2d expects [N, C, H, W], got " + shape_string(x.shape));
  const std::int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const std::int64_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], ph = a[4], pw = a[5], dh = a[6],
                     dw = a[7], groups = a[8];
  const bool depthwise = ctx.int8_depthwise != nullptr;
  const std::int64_t o = depthwise ? ctx.int8_depthwise->channels : ctx.int8_conv->out_channels;
  const std::int64_t k = depthwise ? kh * kw : ctx.int8_conv->group_in * kh * kw;
  if (c % groups != 0 || k != c / groups * kh * kw || (depthwise && c != o)) {
    return Status::error("conv2d weight does not fit input " + shape_string(x.shape));
  }
  if (h + 2 * ph < dh * (kh - 1) + 1 || wd + 2 * pw < dw * (kw - 1) + 1) {
    return Status::error("conv2d input " + shape_string(x.shape) + " is smaller than the kernel");
  }
  const std::int64_t cg = c / groups;
  const std::int64_t oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
  const std::int64_t ow = (wd + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  const std::int64_t p = oh * ow;
  const float scale = op.floats[0];

  Int8ImageLayout layout;
  layout.height = h, layout.width = wd, layout.pad_h = ph, layout.pad_w = pw;
  const std::int64_t group_pitch = depthwise ? 1 : ctx.int8_conv->group_in_padded;
  layout.pitch = depthwise ? kernels::round_up(c, kernels::kInt8StepBytes) : groups * group_pitch;
  // Padded images are bounded like results (the padding comes from the file); every tap
  // offset then lies inside the image.
  if (!layout.fits(ctx.max_elements)) {
    return Status::error("conv2d input " + shape_string(x.shape) + " padded by " +
                         std::to_string(ph) + "x" + std::to_string(pw) + " exceeds the limit of " +
                         std::to_string(ctx.max_elements) + " elements");
  }
  std::vector<std::int64_t> taps;
  for (std::int64_t i = 0; i < kh; ++i) {
    for (std::int64_t j = 0; j < kw; ++j) taps.push_back((i * dh * layout.padded_width() + j * dw) * layout.pitch);
  }
  if (ctx.int8_input && static_cast<std::int64_t>(x.q8.size()) < n * layout.bytes()) {
    return Status::error("internal error: conv2d expects its input as 8-bit images");
  }
  // With a handoff, the output is the next layer's 8-bit images, else float NCHW.
  Int8ImageLayout next;
  if (ctx.int8_output != nullptr) {
    next.height = oh, next.width = ow, next.pitch = ctx.int8_output->pitch;
    next.pad_h = ctx.int8_output->pad_h, next.pad_w = ctx.int8_output->pad_w;
    if (!next.fits(ctx.max_elements)) {
      return Status::error("conv2d result [" + std::to_string(n) + ", " + std::to_string(o) + ", " +
                           std::to_string(oh) + ", " + std::to_string(ow) + "] padded for the next layer exceeds the limit of " +
                           std::to_string(ctx.max_elements) + " elements");
    }
    if (Status st = allocate_q8(ctx, out, {n, o, oh, ow}, n, next.bytes(), next.pitch); !st.ok()) return st;
  } else if (Status st = allocate(out, {n, o, oh, ow}, ctx.max_elements); !st.ok()) {
    return st;
  }
  const float* residual = depthwise ? nullptr : residual_for(ctx, out);
  // One image's estimated time: the products and write-backs, and its quantization (a
  // float read, a division and a byte through a transpose: about three moves).
  const double image_cost =
      int8_cost(ctx, static_cast<double>(p) * o * k, static_cast<double>(p) * o) +
      (ctx.int8_input ? 0.0 : work_ns(ctx, Work::kMove, 3.0 * static_cast<double>(c) * h * wd));
  // Images side by side when there are at least as many as the threads their cost pays for,
  // else one at a time with the work of each split over the threads.
  const int image_threads = ctx.pool.threads_for(image_cost * static_cast<double>(n));
  const bool per_image = image_threads > 1 && n >= image_threads;
  auto run_image = [&](std::int64_t image_index, bool inline_only, int worker) {
    const std::uint8_t* image = nullptr;
    if (ctx.int8_input) {
      image = x.q8.data() + image_index * layout.bytes();
    } else {
      std::uint8_t* quantized = ctx.scratch->bytes_at_least(
          ScratchUse::kInt8Image, layout.bytes() + kernels::int8_image_slack(layout.pitch), worker);
      std::uint8_t* rows = ctx.scratch->bytes_at_least(ScratchUse::kInt8Rows, c * wd, worker);
      kernels::quantize_image(set, x.data.data() + image_index * c * h * wd, c,
                              depthwise ? c : cg, group_pitch, layout, scale, quantized, rows);
      image = quantized;
    }
    float* y = nullptr;
    std::uint8_t* q = nullptr;
    if (ctx.int8_output != nullptr) {
      q = out.q8.data() + image_index * next.bytes();
      kernels::fill_image_border(next, q);
    } else {
      y = out.data.data() + image_index * o * p;
    }
    // The destination of output channel `first` (of the group's).
    auto destination = [&](kernels::Int8Output& dst, std::int64_t first) {
      if (q != nullptr) {
        dst.q = q + first;
        dst.q_scale = ctx.int8_output->scale;
        dst.q_layout = next;
      } else {
        dst.y = y + first * p;
        dst.channel_stride = p;
        dst.position_stride = 1;
      }
    };
    if (depthwise) {
      kernels::Int8DepthwiseJob job;
      job.weights = ctx.int8_depthwise;
      job.origin = image;
      job.padded_width = layout.padded_width();
      job.pitch = layout.pitch;
      job.stride_h = sh, job.stride_w = sw;
      job.tap_offsets = taps.data();
      job.out_w = ow;
      job.out = output_for(op.act, o);
      destination(job.out, 0);
      const std::int64_t step = set.depthwise_step;
      const std::int64_t padded = ctx.int8_depthwise->padded;
      const std::int64_t chunks = (padded + step - 1) / step;
      const double cost = work_ns(ctx, Work::kInt8Tap, static_cast<double>(p) * o * k) +
                          work_ns(ctx, Work::kInt8Output, static_cast<double>(p) * o);
      split_tiles(ctx, inline_only, chunks, 1, p, cost,
                  q != nullptr ? pixel_major(step, 1, ctx.int8_depthwise->pair_codes.size()) : PixelMajor{},
            [&](std::int64_t b0, std::int64_t b1, std::int64_t p0, std::int64_t p1) {
              set.depthwise(job, b0 * step, std::min(padded, b1 * step), p0, p1);
            });
      return;
    }
    const kernels::Int8ConvWeights& w = *ctx.int8_conv;
    for (std::int64_t g = 0; g < groups; ++g) {
      kernels::Int8ConvJob job;
      job.weights = &w;
      job.group = g;
      job.origin = image + g * group_pitch;
      job.padded_width = layout.padded_width();
      job.pitch = layout.pitch;
      job.stride_h = sh, job.stride_w = sw;
      job.tap_offsets = taps.data();
      job.out_w = ow;
      job.out = output_for(op.act, w.group_out);
      destination(job.out, g * w.group_out);
      const double cost = int8_cost(ctx, static_cast<double>(p) * w.group_out * k,
                                    static_cast<double>(p) * w.group_out);
      if (residual != nullptr) {
        job.out.residual = residual + (image_index * o + g * w.group_out) * p;
        set_residual_clamp(ctx.residual_act, job.out);
      }
      split_tiles(ctx, inline_only, w.sub_blocks(), set.tile_blocks, p, cost,
                  q != nullptr ? pixel_major(w.lanes, 1, w.codes.size()) : PixelMajor{},
            [&](std::int64_t b0, std::int64_t b1, std::int64_t p0, std::int64_t p1) {
              set.conv(job, b0, b1, p0, p1);
            });
    }
  };
  if (per_image) {
    ctx.pool.parallel_for_cost(n, 1, image_cost * static_cast<double>(n),
                               [&](std::int64_t b, std::int64_t e, int worker) {
                                 for (std::int64_t i = b; i < e; ++i) run_image(i, true, worker);
                               });
  } else {
    for (std::int64_t i = 0; i < n; ++i) run_image(i, false, 0);
  }
  if (ctx.int8_output == nullptr) finish_activation(op.act, out);
  return {};
}

}  // namespace triton_rt

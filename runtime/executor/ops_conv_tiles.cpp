// Conv2d on AMX tiles: the executor side of kernels/ternary_tiles.h. For each image it
// packs the input into bf16 slices (parallel over channel pairs), then runs the tile
// kernel over (32 output channels x 32 positions) units (parallel over units, so a batch-1
// layer splits over output-channel blocks and position blocks at once). Batches at least as
// large as the thread pool run whole images per thread instead. Each loop uses the threads
// its work pays for (executor/split.h).
#include <algorithm>

#include "executor/ops.h"
#include "executor/split.h"

namespace triton_rt {

void run_conv2d_tiles(const OpDesc& op, const OpContext& ctx, const float* x, std::int64_t batch,
                      const kernels::TileConvGeometry& g, float* out) {
  using kernels::Clamp;
  const TensorData* bias_tensor = op.tensor(ctx.model.tensors, 1);
  const float* bias = bias_tensor != nullptr ? bias_tensor->values.data() : nullptr;
  const Clamp clamp = clamp_of(op.act);
  const std::int64_t in_size = g.channels * g.height * g.width;
  const std::int64_t out_size = g.out_channels * g.out_h * g.out_w;
  const std::int64_t units = g.out_blocks() * g.position_blocks();
  const kernels::TileConvWeights& w = *ctx.tiles;
  RunScratch& scratch = *ctx.scratch;
  // Estimated costs: a channel pair gathers one word per position of each phase plane (its
  // three slices computed in registers); a unit is 32 x 32 outputs of padded channels x taps
  // products each.
  const double pair_ns = work_ns(ctx, Work::kGather, static_cast<double>(g.phases * g.plane));
  const double products = static_cast<double>(w.channels_padded * w.kernel_h * w.kernel_w);
  const double unit_ns = work_ns(ctx, Work::kTileConv, 32.0 * 32.0 * products);
  // `worker` owns `packed` and, when `whole`, runs the image alone on its own scratch.
  auto run_image = [&](std::int64_t n, std::uint32_t* packed, bool whole, int worker) {
    const float* image = x + n * in_size;
    float* y = out + n * out_size;
    if (whole) {
      kernels::tile_conv_pack(image, g, packed, 0, g.pairs(),
                              scratch.floats(ScratchUse::kTilePadded, worker));
      kernels::tile_conv_run(w, g, packed, bias, clamp, y, 0, units);
    } else {
      split_workers(ctx, g.pairs(), 1, pair_ns, [&](std::int64_t b, std::int64_t e, int wk) {
        kernels::tile_conv_pack(image, g, packed, b, e, scratch.floats(ScratchUse::kTilePadded, wk));
      });
      split(ctx, units, 1, unit_ns, [&](std::int64_t b, std::int64_t e) {
        kernels::tile_conv_run(w, g, packed, bias, clamp, y, b, e);
      });
    }
  };
  // Packed buffers come from the run's scratch, kept across convolutions (a fresh buffer per
  // convolution costs page faults); the packer writes every word the kernel reads.
  if (batch >= ctx.pool.size() && ctx.pool.size() > 1) {
    const double image_ns = g.pairs() * pair_ns + units * unit_ns;
    split_workers(ctx, batch, 1, image_ns, [&](std::int64_t b, std::int64_t e, int worker) {
      std::uint32_t* packed = scratch.words_at_least(g.packed_words(), worker);
      for (std::int64_t n = b; n < e; ++n) run_image(n, packed, true, worker);
    });
  } else {
    std::uint32_t* packed = scratch.words_at_least(g.packed_words());
    for (std::int64_t n = 0; n < batch; ++n) run_image(n, packed, ctx.pool.size() == 1, 0);
  }
  if (clamp == Clamp::kNone) apply_activation_split(ctx, op.act, out, batch * out_size);
}

}  // namespace triton_rt

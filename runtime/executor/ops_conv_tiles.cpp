// Conv2d on AMX tiles: the executor side of kernels/ternary_tiles.h. For each image it
// packs the input into bf16 slices (parallel over channel pairs), then runs the tile
// kernel over (32 output channels x 32 positions) units (parallel over units). Batches at
// least as large as the thread pool run whole images per thread instead.
#include <algorithm>

#include "executor/ops.h"

namespace triton_rt {

void run_conv2d_tiles(const OpDesc& op, const OpContext& ctx, const Tensor& x,
                      const kernels::TileConvGeometry& g, Tensor& out) {
  using kernels::Clamp;
  const TensorData* bias_tensor = op.tensor(ctx.model.tensors, 1);
  const float* bias = bias_tensor != nullptr ? bias_tensor->values.data() : nullptr;
  const Clamp clamp = clamp_of(op.act);
  const std::int64_t batch = x.shape[0];
  const std::int64_t in_size = g.channels * g.height * g.width;
  const std::int64_t out_size = g.out_channels * g.out_h * g.out_w;
  const std::int64_t units = g.out_blocks() * g.position_blocks();
  const kernels::TileConvWeights& w = *ctx.tiles;
  RunScratch& scratch = *ctx.scratch;
  // `worker` owns `packed` and, when `whole`, runs the image alone on its own scratch.
  auto run_image = [&](std::int64_t n, std::uint32_t* packed, bool whole, int worker) {
    const float* image = x.data.data() + n * in_size;
    float* y = out.data.data() + n * out_size;
    if (whole) {
      kernels::tile_conv_pack(image, g, packed, 0, g.pairs(),
                              scratch.floats(ScratchUse::kTilePadded, worker));
      kernels::tile_conv_run(w, g, packed, bias, clamp, y, 0, units);
    } else {
      ctx.pool.parallel_for_workers(g.pairs(), 4, [&](std::int64_t b, std::int64_t e, int wk) {
        kernels::tile_conv_pack(image, g, packed, b, e, scratch.floats(ScratchUse::kTilePadded, wk));
      });
      ctx.pool.parallel_for(units, 1, [&](std::int64_t b, std::int64_t e) {
        kernels::tile_conv_run(w, g, packed, bias, clamp, y, b, e);
      });
    }
  };
  // Packed buffers come from the run's scratch, kept across convolutions (a fresh buffer per
  // convolution costs page faults); the packer writes every word the kernel reads.
  if (batch >= ctx.pool.size() && ctx.pool.size() > 1) {
    ctx.pool.parallel_for_workers(batch, 1, [&](std::int64_t b, std::int64_t e, int worker) {
      std::uint32_t* packed = scratch.words_at_least(g.packed_words(), worker);
      for (std::int64_t n = b; n < e; ++n) run_image(n, packed, true, worker);
    });
  } else {
    std::uint32_t* packed = scratch.words_at_least(g.packed_words());
    for (std::int64_t n = 0; n < batch; ++n) run_image(n, packed, ctx.pool.size() == 1, 0);
  }
  if (clamp == Clamp::kNone && op.act != Activation::kNone) {
    apply_activation(op.act, out.data.data(), out.numel());
  }
}

}  // namespace triton_rt

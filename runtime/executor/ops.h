// The op implementations the executor calls, one function per op kind (or family).
//
// Each takes the op record, its input tensors and the context (thread pool, selected
// kernels, the op's prepared ternary weights, the run's scratch) and fills `out`, shape included. Shape
// errors found at run time (an input that does not fit the graph) come back as a Status.
#pragma once

#include <vector>

#include "executor/scratch.h"
#include "executor/tensor.h"
#include "format/model.h"
#include "format/status.h"
#include "kernels/ternary.h"
#include "kernels/ternary_int8.h"
#include "kernels/ternary_tiles.h"
#include "kernels/thread_pool.h"

namespace triton_rt {

// An 8-bit handoff: an op with 8-bit activations writes its output as the 8-bit images
// (Tensor::q8) that its only reader, another such op, reads: quantized with the reader's
// scale into the reader's layout (kernels/ternary_int8.h). Planned at load (engine.cpp).
struct Int8Handoff {
  float scale = 1.0f;                 // the reader's input scale
  std::int64_t pad_h = 0, pad_w = 0;  // the reader's padding (0 for a linear layer)
  std::int64_t pitch = 0;             // the reader's bytes per pixel (per row: linear)
};

struct OpContext {
  const Model& model;
  ThreadPool& pool;
  const kernels::KernelSet& kernels;
  const kernels::PreparedTernary* ternary;  // the op's weights when they are ternary
  const kernels::TileConvWeights* tiles;    // their AMX tiles (amx level only), where they fit
  std::int64_t batch;                       // dim 0 of the graph's first input
  std::int64_t max_elements;                // largest tensor an op may produce
  // Ops with an activation scale (8-bit activations): their ternary weights in the int8
  // kernels' layout (a convolution or linear layer, or a depthwise convolution; both null for
  // float weights), and the int8 kernels.
  const kernels::Int8ConvWeights* int8_conv = nullptr;
  const kernels::Int8DepthwiseWeights* int8_depthwise = nullptr;
  const kernels::Int8KernelSet* int8_kernels = nullptr;
  // This run's scratch buffers (never another run's; see scratch.h).
  RunScratch* scratch = nullptr;
  // Set when this op writes its output as 8-bit images for the next op (Int8Handoff), and
  // when its input arrives that way.
  const Int8Handoff* int8_output = nullptr;
  bool int8_input = false;
  // Set when this op's output goes only to an Add that the executor folds into it
  // (ResidualAdd, planned at load): the Add's other input, added to each region of the
  // output as soon as the kernels wrote it (while it is cached), then the Add's activation.
  // The op sets *residual_applied when it did so; where the shapes differ at run time it
  // leaves the residual alone and the Add runs as usual.
  const Tensor* residual = nullptr;
  Activation residual_act = Activation::kNone;
  bool* residual_applied = nullptr;
};

// A residual Add folded into the op that produces one of its inputs (engine.cpp:
// plan_residual_adds): `add` is the Add's op index, `residual` its other input's value.
struct ResidualAdd {
  std::size_t add = 0;
  std::uint32_t residual = 0;
};

using Inputs = std::vector<const Tensor*>;

// ops_dense.cpp
// Checks a linear layer's input [..., k] and sizes its output [..., o_count]; `rows` is the
// product of the leading dimensions.
Status allocate_linear_output(const Tensor& x, std::int64_t k, std::int64_t o_count,
                              const OpContext& ctx, Tensor& out, std::int64_t& rows);
Status run_linear(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);
Status run_conv2d(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);
Status run_matmul(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);

// ops_conv_tiles.cpp: a ternary conv2d whose weights have AMX tiles (ctx.tiles) over
// `batch` CHW images at `x`, writing `batch` CHW outputs at `out`.
void run_conv2d_tiles(const OpDesc& op, const OpContext& ctx, const float* x, std::int64_t batch,
                      const kernels::TileConvGeometry& g, float* out);

// ops_quantized.cpp: linear and conv2d whose record carries an activation scale
bool has_activation_scale(const OpDesc& op);
// Whether the 8-bit kernels apply `act` in their write-back (so an 8-bit handoff may follow).
bool int8_fuses(Activation act);
Status run_linear_int8(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);
Status run_conv2d_int8(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);
// Whether this 8-bit op can take the residual of an Add with activation `add_act`
// (OpContext::residual): a linear or conv2d, and an Add whose ReLU or ReLU6 the write-back
// can clamp.
bool int8_takes_residual(const OpDesc& op, Activation add_act);

// ops_elementwise.cpp
void apply_activation(Activation act, float* data, std::int64_t n);
// The clamp a kernel can fuse for `act` (kNone for activations applied afterwards).
kernels::Clamp clamp_of(Activation act);
Status run_binary(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);
Status run_unary(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);

// ops_shape.cpp: reshape, permute, concat, slice, expand, constant, embedding
// In reshape and expand targets: the batch size (dim 0 of the graph's first input).
inline constexpr std::int64_t kBatchDim = -2;
Status run_shape_op(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);
// A reshape whose input `x` dies with this op: x's buffer becomes the output's (swapped with
// out's, which x then frees), where run_shape_op copies it.
Status run_reshape_taking(const OpDesc& op, const OpContext& ctx, Tensor& x, Tensor& out);

// ops_reduce.cpp: pooling, mean, softmax, log_softmax, layer_norm
Status run_reduce_op(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out);

}  // namespace triton_rt

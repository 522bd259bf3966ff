// The executor: loads a `.tpk` model, prepares its ternary weights for the selected kernels
// once, and runs the op graph on float32 inputs. This is the library API under the Python
// module (`triton_dsl._native`) and `triton run`.
//
// Threading: an Engine is safe to share. Loaded weights are read-only; each run() takes its
// own scratch (executor/scratch.h) and value storage, and the engine's thread pool serves one
// run's parallel ops at a time while a concurrent run's ops run on that run's calling thread
// (kernels/thread_pool.h). Results do not depend on which thread ran what.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "executor/ops.h"
#include "executor/scratch.h"
#include "executor/tensor.h"
#include "format/model.h"
#include "format/status.h"
#include "kernels/ternary.h"
#include "kernels/ternary_int8.h"
#include "kernels/ternary_tiles.h"
#include "kernels/thread_pool.h"

namespace triton_rt {

struct EngineOptions {
  // 0: hardware_threads(); more than that is capped to it (EngineInfo says so); negative
  // values are rejected by from_file/from_bytes.
  int threads = 0;
  // The largest tensor (in elements) an op may produce; bigger results are run errors.
  std::int64_t max_tensor_elements = std::int64_t{1} << 30;
  // The least estimated single-thread work (ns) a parallel loop gives each thread it uses
  // (ThreadPool::parallel_for_cost); 0 splits every loop over every thread as finely as it
  // goes, which tests use to run each op's split path on small tensors. Negative values are
  // rejected.
  double min_thread_work_ns = kMinThreadWorkNs;
};

struct EngineInfo {
  std::uint32_t format_version = 0;
  bool base3 = false;
  std::uint64_t file_bytes = 0;
  std::size_t ops = 0;
  std::size_t values = 0;
  std::size_t tensors = 0;
  std::int64_t ternary_weights = 0;
  std::int64_t ternary_nonzeros = 0;
  std::int64_t float_values = 0;
  int threads = 1;            // the pool's threads (the caller included)
  int requested_threads = 0;  // EngineOptions::threads as given
  bool threads_capped = false;  // the request exceeded the hardware threads
  std::string isa;
  std::string gemv_kernel;
  std::string gemm_kernel;
  std::string conv_kernel;       // ungrouped ternary convolutions (where the shape allows)
  std::string depthwise_kernel;
  std::string float_gemm_kernel;  // float layers and MatMul
  std::string int8_conv_kernel;  // layers with 8-bit activations (linear, conv2d)
  std::string int8_depthwise_kernel;
  std::size_t int8_handoffs = 0;  // 8-bit ops that hand their output to the next in 8 bits
  std::size_t residual_adds = 0;  // residual Adds folded into the 8-bit op before them
  std::int64_t batch_chunk = 0;   // batch entries per pass through the graph (0: all)
  std::vector<std::vector<std::int64_t>> input_shapes;   // as traced
  std::vector<std::vector<std::int64_t>> output_shapes;  // as traced
  std::vector<std::string> op_kinds;
};

class Engine {
 public:
  static Expected<std::unique_ptr<Engine>> from_file(const std::string& path,
                                                     const EngineOptions& options = {});
  static Expected<std::unique_ptr<Engine>> from_bytes(std::span<const std::uint8_t> bytes,
                                                      const EngineOptions& options = {});
  static std::unique_ptr<Engine> from_model(Model model, const EngineOptions& options = {});

  // Runs the graph; one tensor per graph input, returns one per graph output. With
  // `op_ms`, also records each op's wall time in milliseconds (for profiling). May be called
  // from several threads at once.
  Expected<std::vector<Tensor>> run(const std::vector<Tensor>& inputs,
                                    std::vector<double>* op_ms = nullptr) const;
  // The same, taking the inputs over: their buffers become the run's own, so an op that is
  // an input's last use may take it instead of copying (a flatten of the image, say).
  Expected<std::vector<Tensor>> run(std::vector<Tensor>&& inputs,
                                    std::vector<double>* op_ms = nullptr) const;

  // Whether `options` are acceptable (a one-line reason when not).
  static Status check_options(const EngineOptions& options);

  EngineInfo info() const;
  const Model& model() const { return model_; }
  std::size_t input_count() const { return model_.inputs.size(); }

 private:
  Engine(Model model, const EngineOptions& options);
  // run()'s body; `owned` is `inputs` itself when the caller handed them over.
  // `chunks`: whether a large batch may go through in passes (batch_chunk_).
  Expected<std::vector<Tensor>> run_graph(const std::vector<Tensor>& inputs, std::vector<Tensor>* owned,
                                          std::vector<double>* op_ms, bool chunks) const;
  // Prepares the weights of op i, which has 8-bit activations and ternary weights.
  void prepare_int8(std::size_t i);
  // Finds the values one 8-bit op writes for exactly one other (Int8Handoff).
  void plan_int8_handoffs();
  // Finds the Adds to fold into the 8-bit op that produces one of their inputs (ResidualAdd).
  void plan_residual_adds();
  // Sets batch_chunk_ (see there).
  void plan_batch_chunks();
  // run_graph over batch_chunk_ entries at a time, the outputs put back together.
  Expected<std::vector<Tensor>> run_chunked(const std::vector<Tensor>& inputs, std::int64_t batch,
                                            std::vector<double>* op_ms) const;

  Model model_;
  std::vector<std::unique_ptr<kernels::PreparedTernary>> prepared_;  // per op, or null
  std::vector<std::unique_ptr<kernels::TileConvWeights>> tiles_;     // per op, or null
  // Per op with 8-bit activations and ternary weights (those have no `prepared_` entry):
  // convolution/linear weights, or depthwise weights.
  std::vector<std::unique_ptr<kernels::Int8ConvWeights>> int8_conv_;
  std::vector<std::unique_ptr<kernels::Int8DepthwiseWeights>> int8_depthwise_;
  // Per op: the 8-bit handoff of its output to its reader, if any, and whether its input
  // arrives as one (plan_int8_handoffs).
  std::vector<std::unique_ptr<Int8Handoff>> int8_output_;
  std::vector<char> int8_input_;
  // Per op: the Add folded into it, if any; and for such an Add, the input value its
  // producer writes (the Add takes it over, see run_graph), else -1.
  std::vector<std::unique_ptr<ResidualAdd>> residual_add_;
  std::vector<std::int64_t> folded_input_;
  // Batch entries per pass through the graph when a run gets more (0: the whole batch at
  // once). Convolutional graphs with 8-bit layers run a batch as passes of one entry per
  // thread, so each image's activations stay in the core's cache from layer to layer
  // instead of the whole batch's going through memory between layers (the layers already
  // loop over images, so their weights are read as often either way); only graphs whose
  // every op treats batch entries independently (plan_batch_chunks) qualify.
  std::int64_t batch_chunk_ = 0;
  const kernels::KernelSet* kernels_;
  const kernels::Int8KernelSet* int8_kernels_;
  // Mutable: running uses the pool and the scratch contexts, both safe under concurrent use,
  // without changing what the engine computes.
  mutable ThreadPool pool_;
  mutable ScratchPool scratch_;
  // The smallest batch whose run split an op over the pool's threads: a run of at least this
  // batch wakes the pool's sleeping workers as it starts (ThreadPool::wake_sleepers), so
  // they spin by the time its first large op splits. A run between other work (a server's
  // requests, a benchmark's other runtimes) otherwise finds them asleep for every run.
  mutable std::atomic<std::int64_t> split_batch_{std::numeric_limits<std::int64_t>::max()};
  int requested_threads_;
  std::int64_t max_elements_;
};

}  // namespace triton_rt

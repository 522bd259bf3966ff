// The executor: loads a `.tpk` model, prepares its ternary weights for the selected kernels
// once, and runs the op graph on float32 inputs. This is the library API under the Python
// module (`triton_dsl._native`) and `triton run`.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "executor/tensor.h"
#include "format/model.h"
#include "format/status.h"
#include "kernels/ternary.h"
#include "kernels/ternary_int8.h"
#include "kernels/ternary_tiles.h"
#include "kernels/thread_pool.h"

namespace triton_rt {

struct EngineOptions {
  int threads = 0;  // 0: hardware concurrency
  // The largest tensor (in elements) an op may produce; bigger results are run errors.
  std::int64_t max_tensor_elements = std::int64_t{1} << 30;
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
  int threads = 1;
  std::string isa;
  std::string gemv_kernel;
  std::string gemm_kernel;
  std::string conv_kernel;       // ungrouped ternary convolutions (where the shape allows)
  std::string depthwise_kernel;
  std::string float_gemm_kernel;  // float layers and MatMul
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
  // `op_ms`, also records each op's wall time in milliseconds (for profiling).
  Expected<std::vector<Tensor>> run(const std::vector<Tensor>& inputs,
                                    std::vector<double>* op_ms = nullptr);

  EngineInfo info() const;
  const Model& model() const { return model_; }
  std::size_t input_count() const { return model_.inputs.size(); }

 private:
  Engine(Model model, const EngineOptions& options);

  Model model_;
  std::vector<std::unique_ptr<kernels::PreparedTernary>> prepared_;  // per op, or null
  std::vector<std::unique_ptr<kernels::TileConvWeights>> tiles_;     // per op, or null
  // Per op with 8-bit activations and ternary weights (those have no `prepared_` entry).
  std::vector<std::unique_ptr<kernels::PreparedTernaryInt8>> prepared_int8_;
  const kernels::KernelSet* kernels_;
  const kernels::Int8KernelSet* int8_kernels_;
  ThreadPool pool_;
  std::int64_t max_elements_;
};

}  // namespace triton_rt

// Engine: weight preparation at load and the op-by-op interpreter loop (see engine.h).
// Values are freed after their last use, so peak memory follows the widest cut of the
// graph rather than its total size.
#include "executor/engine.h"

#include <algorithm>
#include <chrono>

#include "executor/ops.h"
#include "kernels/depthwise.h"
#include "kernels/float_gemm.h"

namespace triton_rt {

// Built with std::to_string, not a stream: a stream formats through the process's locale
// facets, and in a Python process where another extension loaded a different libstdc++
// (a PyTorch wheel's) the stream inserter this module carries read that library's locale
// and crashed (a wrong-shape input on the 16-core Xeon, Python 3.12).
std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

Status allocate(Tensor& out, std::vector<std::int64_t> shape, std::int64_t limit) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0 || (d != 0 && n > limit / d)) {
      return Status::error("result shape " + shape_string(shape) + " exceeds the limit of " +
                           std::to_string(limit) + " elements");
    }
    n *= d;
  }
  if (n > limit) return Status::error("result shape " + shape_string(shape) + " is too large");
  out.shape = std::move(shape);
  out.data.assign(n, 0.0f);
  return {};
}

Status allocate_output(Tensor& out, std::vector<std::int64_t> shape, std::int64_t limit) {
  const std::int64_t n = Tensor::numel_of(shape);
  if (n < 0 || n > limit) return allocate(out, std::move(shape), limit);  // its error
  out.shape = std::move(shape);
  out.data.resize(static_cast<std::size_t>(n));  // writes only past the buffer's old size
  return {};
}

namespace {

// A value's element count as traced, with a leading batch dimension scaled to `batch`;
// 0 when unknown or implausible (no buffer is reused for it then).
std::int64_t expected_elements(const ValueDesc& v, std::int64_t batch) {
  constexpr std::int64_t kLimit = std::int64_t{1} << 40;
  std::int64_t n = 1;
  for (std::size_t d = 0; d < v.dims.size(); ++d) {
    const std::int64_t dim = d == 0 && v.batch_leading ? batch : v.dims[d];
    if (dim < 1 || n > kLimit / dim) return 0;
    n *= dim;
  }
  return n;
}

// The AMX tiles of a ternary linear or conv2d op, or null when its shape does not fit them.
// Linear layers run on tiles as a 1x1 convolution over their rows (ops_dense.cpp); a
// convolution's layout (taps or unrolled) follows its traced sizes, the only ones it runs.
std::unique_ptr<kernels::TileConvWeights> tiles_for(const Model& model, const OpDesc& op,
                                                    const kernels::PreparedTernary& w) {
  if (op.kind == OpKind::kLinear) {
    if (w.cols < 16) return nullptr;
    return std::make_unique<kernels::TileConvWeights>(kernels::prepare_tile_conv(w, 1, 1, false));
  }
  const auto& a = op.ints;  // kh, kw, sh, sw, ph, pw, dh, dw, groups
  const std::int64_t taps = std::int64_t{a[0]} * a[1];
  if (!kernels::tile_conv_fits(w.cols / taps, taps, a[8], a[2], a[3], a[6], a[7])) return nullptr;
  const auto& in_dims = model.values[op.inputs[0]].dims;
  const auto& out_dims = model.values[op.output].dims;
  constexpr std::int64_t kMaxSide = std::int64_t{1} << 20;  // keeps the geometry in range
  auto side_ok = [&](std::int64_t d) { return d >= 1 && d <= kMaxSide; };
  bool unrolled = false;
  if (in_dims.size() == 4 && out_dims.size() == 4 && side_ok(in_dims[2]) && side_ok(in_dims[3]) &&
      side_ok(out_dims[2]) && side_ok(out_dims[3])) {
    kernels::TileConvGeometry g;
    g.channels = in_dims[1], g.height = in_dims[2], g.width = in_dims[3];
    g.out_channels = out_dims[1], g.out_h = out_dims[2], g.out_w = out_dims[3];
    g.kernel_h = a[0], g.kernel_w = a[1], g.stride = a[2], g.pad_h = a[4], g.pad_w = a[5];
    unrolled = kernels::tile_conv_unrolls(g);
  }
  return std::make_unique<kernels::TileConvWeights>(
      kernels::prepare_tile_conv(w, a[0], a[1], unrolled));
}

}  // namespace

Engine::Engine(Model model, const EngineOptions& options)
    : model_(std::move(model)),
      kernels_(&kernels::kernel_set(kernels::selected_isa())),
      int8_kernels_(&kernels::selected_int8_kernels()),
      pool_(options.threads <= 0 ? hardware_threads() : std::min(options.threads, hardware_threads()),
            options.min_thread_work_ns),
      scratch_(pool_.size()),
      requested_threads_(options.threads),
      max_elements_(options.max_tensor_elements) {
  prepared_.resize(model_.ops.size());
  int8_conv_.resize(model_.ops.size());
  int8_depthwise_.resize(model_.ops.size());
  tiles_.resize(model_.ops.size());
  for (std::size_t i = 0; i < model_.ops.size(); ++i) {
    const OpDesc& op = model_.ops[i];
    if (op.kind != OpKind::kLinear && op.kind != OpKind::kConv2d) continue;
    const TensorData* w = op.tensor(model_.tensors, 0);
    if (w != nullptr && w->is_ternary() && has_activation_scale(op)) {
      prepare_int8(i);
    } else if (w != nullptr && w->is_ternary()) {
      prepared_[i] = std::make_unique<kernels::PreparedTernary>(kernels::prepare_ternary(w->ternary));
      if (kernels_->tile_conv) tiles_[i] = tiles_for(model_, op, *prepared_[i]);
      // Only convolutions that the AMX tiles do not take read the decoded form.
      if (op.kind == OpKind::kConv2d && kernels_->gemm_oc != nullptr && tiles_[i] == nullptr &&
          prepared_[i]->cols <= kernels::kDecodedMaxCols) {
        kernels::decode_ternary(*prepared_[i]);
      }
    }
  }
  plan_int8_handoffs();
  plan_residual_adds();
  plan_batch_chunks();
}

void Engine::plan_int8_handoffs() {
  const std::size_t n = model_.ops.size();
  int8_output_.resize(n);
  int8_input_.assign(n, 0);
  std::vector<int> readers(model_.values.size(), 0);
  std::vector<std::size_t> reader_of(model_.values.size(), n);
  for (std::size_t j = 0; j < n; ++j) {
    for (std::uint32_t v : model_.ops[j].inputs) {
      ++readers[v];
      reader_of[v] = j;
    }
  }
  for (std::uint32_t v : model_.outputs) readers[v] += 2;  // graph outputs stay float
  auto is_int8 = [&](std::size_t i) { return int8_conv_[i] != nullptr || int8_depthwise_[i] != nullptr; };
  for (std::size_t i = 0; i < n; ++i) {
    const OpDesc& op = model_.ops[i];
    // Activations the write-back does not fuse run on float outputs.
    if (!is_int8(i) || !int8_fuses(op.act)) continue;
    if (readers[op.output] != 1) continue;
    const std::size_t j = reader_of[op.output];
    const OpDesc& next = model_.ops[j];
    if (!is_int8(j) || next.kind != op.kind || next.inputs[0] != op.output) continue;
    auto h = std::make_unique<Int8Handoff>();
    h->scale = next.floats[0];
    if (next.kind == OpKind::kConv2d) {
      h->pad_h = next.ints[4];
      h->pad_w = next.ints[5];
      h->pitch = int8_depthwise_[j] != nullptr
                     ? kernels::round_up(int8_depthwise_[j]->channels, kernels::kInt8StepBytes)
                     : int8_conv_[j]->groups * int8_conv_[j]->group_in_padded;
    } else {
      h->pitch = int8_conv_[j]->group_in_padded;
    }
    int8_output_[i] = std::move(h);
    int8_input_[j] = 1;
  }
}

void Engine::plan_residual_adds() {
  const std::size_t n = model_.ops.size();
  residual_add_.resize(n);
  folded_input_.assign(n, -1);
  std::vector<int> readers(model_.values.size(), 0);
  std::vector<std::size_t> producer(model_.values.size(), n);  // n: a graph input
  for (std::size_t j = 0; j < n; ++j) {
    for (std::uint32_t v : model_.ops[j].inputs) ++readers[v];
    producer[model_.ops[j].output] = j;
  }
  for (std::uint32_t v : model_.outputs) readers[v] += 2;  // graph outputs stay as they are
  for (std::size_t j = 0; j < n; ++j) {
    const OpDesc& add = model_.ops[j];
    if (add.kind != OpKind::kAdd || add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) continue;
    // The later of the two producers that qualifies: the other input must exist by then.
    std::size_t best = n;
    std::uint32_t residual = 0;
    for (int side = 0; side < 2; ++side) {
      const std::uint32_t v = add.inputs[side], other = add.inputs[1 - side];
      const std::size_t i = producer[v];
      if (i == n || readers[v] != 1 || int8_output_[i] != nullptr || int8_conv_[i] == nullptr) continue;
      const OpDesc& op = model_.ops[i];
      // The kernels apply the op's own activation before the residual is added.
      if (!int8_takes_residual(op, add.act) || !int8_fuses(op.act)) continue;
      const std::size_t before = producer[other];
      if (before != n && before >= i) continue;
      if (best == n || i > best) {
        best = i;
        residual = other;
      }
    }
    if (best == n || residual_add_[best] != nullptr) continue;
    auto fold = std::make_unique<ResidualAdd>();
    fold->add = j;
    fold->residual = residual;
    residual_add_[best] = std::move(fold);
    folded_input_[j] = model_.ops[best].output;
  }
}

void Engine::plan_batch_chunks() {
  batch_chunk_ = 0;
  bool int8_conv = false;
  auto batched = [&](std::uint32_t v) { return model_.values[v].batch_leading; };
  for (std::uint32_t v : model_.inputs) {
    if (!batched(v)) return;
  }
  for (std::uint32_t v : model_.outputs) {
    if (!batched(v)) return;
  }
  for (std::size_t i = 0; i < model_.ops.size(); ++i) {
    const OpDesc& op = model_.ops[i];
    switch (op.kind) {
      // Per entry by construction: their batch dimension passes through untouched.
      case OpKind::kConv2d:
        int8_conv = int8_conv || int8_conv_[i] != nullptr || int8_depthwise_[i] != nullptr;
        [[fallthrough]];
      case OpKind::kLinear:
      case OpKind::kActivation:
      case OpKind::kScalarAffine:
      case OpKind::kChannelAffine:
      case OpKind::kTernaryActivation:
      case OpKind::kMaxPool2d:
      case OpKind::kAvgPool2d:
      case OpKind::kAdaptiveAvgPool2d:
        if (!batched(op.inputs[0]) || !batched(op.output)) return;
        break;
      case OpKind::kAdd:
      case OpKind::kSub:
      case OpKind::kMul:
      case OpKind::kDiv: {
        // Entry by entry when each input has the batch or is the same for every entry
        // (fewer dimensions, or a leading 1, as traced).
        if (!batched(op.output)) return;
        for (std::uint32_t v : op.inputs) {
          const ValueDesc& d = model_.values[v];
          const std::size_t out_rank = model_.values[op.output].dims.size();
          if (!d.batch_leading && d.dims.size() == out_rank && (d.dims.empty() || d.dims[0] != 1)) return;
        }
        break;
      }
      case OpKind::kReshape: {
        const ValueDesc& in = model_.values[op.inputs[0]];
        const ValueDesc& out = model_.values[op.output];
        // A flatten that keeps the batch dimension as it is, and names it as the batch (or
        // copies or infers it), not as the traced number.
        const std::int32_t first = op.ints[0];
        if (!in.batch_leading || !out.batch_leading || in.dims.empty() || out.dims.empty() ||
            in.dims[0] != out.dims[0] || (first != kBatchDim && first != 0 && first != -1)) {
          return;
        }
        break;
      }
      default:
        return;  // an op that may mix or move the batch dimension
    }
  }
  if (int8_conv) batch_chunk_ = pool_.size();
}

Expected<std::vector<Tensor>> Engine::run_chunked(const std::vector<Tensor>& inputs,
                                                  std::int64_t batch,
                                                  std::vector<double>* op_ms) const {
  std::vector<Tensor> outputs;
  std::vector<double> chunk_ms;
  for (std::int64_t start = 0; start < batch; start += batch_chunk_) {
    const std::int64_t n = std::min(batch_chunk_, batch - start);
    std::vector<Tensor> part;
    for (const Tensor& t : inputs) {
      std::vector<std::int64_t> shape = t.shape;
      shape[0] = n;
      Tensor slice(shape);
      const std::int64_t entry = t.numel() / batch;
      std::copy_n(t.data.begin() + start * entry, n * entry, slice.data.begin());
      part.push_back(std::move(slice));
    }
    chunk_ms.clear();
    auto got = run_graph(part, &part, op_ms != nullptr ? &chunk_ms : nullptr, false);
    if (!got.ok()) return got;
    std::vector<Tensor>& outs = got.value();
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const Tensor& o = outs[i];
      if (o.rank() < 1 || o.shape[0] != n) {
        return Status::error("internal error: output " + std::to_string(i) + " of a batch chunk has shape " +
                             shape_string(o.shape));
      }
      if (start == 0) {
        std::vector<std::int64_t> shape = o.shape;
        shape[0] = batch;
        outputs.emplace_back(shape);
      } else if (outputs[i].numel() / batch != o.numel() / n) {
        return Status::error("internal error: batch chunks of output " + std::to_string(i) +
                             " differ in shape");
      }
      const std::int64_t entry = o.numel() / n;
      std::copy_n(o.data.begin(), n * entry, outputs[i].data.begin() + start * entry);
    }
    if (op_ms != nullptr) {
      if (op_ms->empty()) op_ms->assign(chunk_ms.size(), 0.0);
      for (std::size_t i = 0; i < chunk_ms.size() && i < op_ms->size(); ++i) (*op_ms)[i] += chunk_ms[i];
    }
  }
  return outputs;
}

void Engine::prepare_int8(std::size_t i) {
  const OpDesc& op = model_.ops[i];
  const TernaryMatrix& m = op.tensor(model_.tensors, 0)->ternary;
  const TensorData* bias = op.tensor(model_.tensors, 1);
  const float* bias_values = bias != nullptr ? bias->values.data() : nullptr;
  const float scale = op.floats[0];
  if (op.kind == OpKind::kLinear) {
    int8_conv_[i] = std::make_unique<kernels::Int8ConvWeights>(
        kernels::prepare_int8_conv(m, 1, 1, scale, bias_values, int8_kernels_->lanes,
                                   kernels::int8_channel_align(*int8_kernels_, m.cols)));
    return;
  }
  const auto& a = op.ints;  // kh, kw, sh, sw, ph, pw, dh, dw, groups
  const std::int64_t taps = std::int64_t{a[0]} * a[1], groups = a[8];
  if (m.cols == taps && m.rows == groups) {  // one input channel per output channel
    int8_depthwise_[i] = std::make_unique<kernels::Int8DepthwiseWeights>(
        kernels::prepare_int8_depthwise(m, scale, bias_values));
  } else {
    int8_conv_[i] = std::make_unique<kernels::Int8ConvWeights>(
        kernels::prepare_int8_conv(m, groups, taps, scale, bias_values, int8_kernels_->lanes,
                                   kernels::int8_channel_align(*int8_kernels_, m.cols / taps)));
  }
}

std::unique_ptr<Engine> Engine::from_model(Model model, const EngineOptions& options) {
  return std::unique_ptr<Engine>(new Engine(std::move(model), options));
}

Status Engine::check_options(const EngineOptions& options) {
  if (options.threads < 0) {
    return Status::error("thread count must be 0 (all " + std::to_string(hardware_threads()) +
                         " hardware threads) or positive, got " + std::to_string(options.threads));
  }
  if (options.max_tensor_elements < 1) return Status::error("the tensor size limit must be positive");
  if (!(options.min_thread_work_ns >= 0)) {
    return Status::error("the least work per thread must be 0 or positive nanoseconds");
  }
  return {};
}

Expected<std::unique_ptr<Engine>> Engine::from_bytes(std::span<const std::uint8_t> bytes,
                                                     const EngineOptions& options) {
  if (Status s = check_options(options); !s.ok()) return s;
  auto model = parse_model(bytes);
  if (!model.ok()) return model.status();
  return from_model(std::move(model.value()), options);
}

Expected<std::unique_ptr<Engine>> Engine::from_file(const std::string& path,
                                                    const EngineOptions& options) {
  if (Status s = check_options(options); !s.ok()) return s;
  auto model = load_model_file(path);
  if (!model.ok()) return model.status();
  return from_model(std::move(model.value()), options);
}

namespace {

// Holds one run's scratch context and returns it to the engine's pool on every exit path.
class ScratchLease {
 public:
  explicit ScratchLease(ScratchPool& pool) : pool_(pool), scratch_(pool.take()) {}
  ~ScratchLease() { pool_.give_back(std::move(scratch_)); }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  RunScratch* get() const { return scratch_.get(); }

 private:
  ScratchPool& pool_;
  std::unique_ptr<RunScratch> scratch_;
};

}  // namespace

Expected<std::vector<Tensor>> Engine::run(const std::vector<Tensor>& inputs,
                                          std::vector<double>* op_ms) const {
  return run_graph(inputs, nullptr, op_ms, true);
}

Expected<std::vector<Tensor>> Engine::run(std::vector<Tensor>&& inputs,
                                          std::vector<double>* op_ms) const {
  return run_graph(inputs, &inputs, op_ms, true);
}

Expected<std::vector<Tensor>> Engine::run_graph(const std::vector<Tensor>& inputs,
                                                std::vector<Tensor>* owned,
                                                std::vector<double>* op_ms, bool chunks) const {
  if (inputs.size() != model_.inputs.size()) {
    return Status::error("the model takes " + std::to_string(model_.inputs.size()) +
                         " inputs, got " + std::to_string(inputs.size()));
  }
  const std::size_t nv = model_.values.size();
  std::vector<Tensor> values(nv);
  std::vector<int> uses(nv, 0);
  for (const OpDesc& op : model_.ops) {
    for (std::uint32_t v : op.inputs) ++uses[v];
  }
  for (std::uint32_t v : model_.outputs) ++uses[v];
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const ValueDesc& want = model_.values[model_.inputs[i]];
    bool fits = t.shape.size() == want.dims.size() && t.numel() == static_cast<std::int64_t>(t.data.size());
    for (std::size_t d = 1; fits && d < t.shape.size(); ++d) fits = t.shape[d] == want.dims[d];
    if (!fits) {
      return Status::error("input " + std::to_string(i) + " has shape " + shape_string(t.shape) +
                           ", the model expects " + shape_string(want.dims) +
                           " (any batch size)");
    }
  }
  const std::int64_t batch = inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
  if (chunks && batch_chunk_ > 0 && batch > batch_chunk_) {
    bool same_batch = true;  // (the check above saw the other dimensions)
    for (const Tensor& t : inputs) same_batch = same_batch && !t.shape.empty() && t.shape[0] == batch;
    if (same_batch) return run_chunked(inputs, batch, op_ms);
  }
  if (batch >= split_batch_.load(std::memory_order_relaxed)) pool_.wake_sleepers();
  const std::uint64_t jobs_before = pool_.jobs_run();
  // Graph inputs are read where the caller keeps them (no copy), or, handed over (`owned`),
  // become values of the run, which a reshape may then take instead of copying.
  std::vector<const Tensor*> caller(nv, nullptr);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::uint32_t v = model_.inputs[i];
    if (owned != nullptr && caller[v] == nullptr && values[v].data.empty()) {
      values[v] = std::move((*owned)[i]);
    } else {
      caller[v] = &inputs[i];
    }
  }
  Inputs in;
  // Per op: whether it is a folded Add whose producer applied it (ResidualAdd); that Add
  // then takes the producer's output as its own.
  std::vector<char> add_done(model_.ops.size(), 0);
  const ScratchLease scratch(scratch_);
  // Dead values' buffers, kept in the run's context across runs (warm pages).
  SpareBuffers& spare = scratch.get()->spare();
  for (std::size_t i = 0; i < model_.ops.size(); ++i) {
    const OpDesc& op = model_.ops[i];
    in.clear();
    for (std::uint32_t v : op.inputs) in.push_back(caller[v] != nullptr ? caller[v] : &values[v]);
    const ResidualAdd* fold = residual_add_[i].get();
    bool residual_applied = false;
    const OpContext ctx{model_, pool_, *kernels_, prepared_[i].get(), tiles_[i].get(), batch,
                        max_elements_, int8_conv_[i].get(), int8_depthwise_[i].get(),
                        int8_kernels_, scratch.get(), int8_output_[i].get(),
                        int8_input_[i] != 0,
                        fold == nullptr ? nullptr
                        : caller[fold->residual] != nullptr ? caller[fold->residual]
                                                            : &values[fold->residual],
                        fold == nullptr ? Activation::kNone : model_.ops[fold->add].act,
                        fold == nullptr ? nullptr : &residual_applied};
    Tensor& out = values[op.output];
    if (ctx.int8_output == nullptr && add_done[i] == 0) {
      out.data = spare.take(expected_elements(model_.values[op.output], batch));
    }
    const auto started = std::chrono::steady_clock::now();
    Status s;
    const std::uint32_t first = op.inputs.empty() ? 0 : op.inputs[0];
    if (add_done[i] != 0) {
      // The producer already wrote act(a + b) (ResidualAdd): its output becomes this one.
      out = std::move(values[static_cast<std::size_t>(folded_input_[i])]);
    } else switch (op.kind) {
      case OpKind::kLinear:
        s = run_linear(op, ctx, in, out);
        break;
      case OpKind::kConv2d:
        s = run_conv2d(op, ctx, in, out);
        break;
      case OpKind::kMatMul:
        s = run_matmul(op, ctx, in, out);
        break;
      case OpKind::kAdd:
      case OpKind::kSub:
      case OpKind::kMul:
      case OpKind::kDiv:
        s = run_binary(op, ctx, in, out);
        break;
      case OpKind::kActivation:
      case OpKind::kScalarAffine:
      case OpKind::kChannelAffine:
      case OpKind::kTernaryActivation:
        s = run_unary(op, ctx, in, out);
        break;
      case OpKind::kReshape:
        // This op is the last use of a value the run owns (not a caller's input, not held
        // in 8 bits): it takes the data instead of copying it.
        if (uses[first] == 1 && caller[first] == nullptr && values[first].q8.empty()) {
          s = run_reshape_taking(op, ctx, values[first], out);
          break;
        }
        s = run_shape_op(op, ctx, in, out);
        break;
      case OpKind::kPermute:
      case OpKind::kConcat:
      case OpKind::kSlice:
      case OpKind::kExpand:
      case OpKind::kConstant:
      case OpKind::kEmbedding:
        s = run_shape_op(op, ctx, in, out);
        break;
      case OpKind::kMaxPool2d:
      case OpKind::kAvgPool2d:
      case OpKind::kAdaptiveAvgPool2d:
      case OpKind::kMean:
      case OpKind::kSoftmax:
      case OpKind::kLogSoftmax:
      case OpKind::kLayerNorm:
        s = run_reduce_op(op, ctx, in, out);
        break;
    }
    if (!s.ok()) {
      return Status::error("op " + std::to_string(i) + " (" + op_name(op.kind) + "): " + s.message());
    }
    if (residual_applied) add_done[fold->add] = 1;
    if (op_ms != nullptr) {
      op_ms->push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count());
    }
    for (std::uint32_t v : op.inputs) {
      if (--uses[v] == 0) {
        spare.keep(std::move(values[v].data));
        scratch.get()->keep_bytes(std::move(values[v].q8));
        values[v] = Tensor();
      }
    }
  }
  // (Another run's jobs may be counted too: then this only wakes workers once too often.)
  if (pool_.jobs_run() != jobs_before && batch < split_batch_.load(std::memory_order_relaxed)) {
    split_batch_.store(batch, std::memory_order_relaxed);
  }
  std::vector<Tensor> outputs;
  for (std::uint32_t v : model_.outputs) {
    // The last use of a value that is an output once may give its buffer away.
    if (caller[v] != nullptr) {
      outputs.push_back(*caller[v]);
    } else if (--uses[v] == 0) {
      outputs.push_back(std::move(values[v]));
    } else {
      outputs.push_back(values[v]);
    }
  }
  return outputs;
}

EngineInfo Engine::info() const {
  EngineInfo info;
  info.format_version = model_.version;
  info.base3 = (model_.flags & format::kFlagBase3) != 0;
  info.file_bytes = model_.file_size;
  info.ops = model_.ops.size();
  info.values = model_.values.size();
  info.tensors = model_.tensors.size();
  for (const TensorData& t : model_.tensors) {
    if (t.is_ternary()) {
      info.ternary_weights += t.ternary.rows * t.ternary.cols;
    } else {
      info.float_values += t.numel();
    }
  }
  for (const auto& p : prepared_) {
    if (p) info.ternary_nonzeros += p->nonzeros();
  }
  for (const auto& p : int8_conv_) {
    if (p) {
      for (std::int8_t code : p->codes) info.ternary_nonzeros += code != 0;
    }
  }
  for (const auto& p : int8_depthwise_) {
    if (p) {
      for (std::int16_t code : p->codes) info.ternary_nonzeros += code != 0;
    }
  }
  info.threads = pool_.size();
  info.requested_threads = requested_threads_;
  info.threads_capped = requested_threads_ > hardware_threads();
  info.isa = kernels::isa_name(kernels_->isa);
  info.gemv_kernel = kernels_->gemv_name;
  info.gemm_kernel = kernels_->gemm_name;
  info.conv_kernel = kernels_->tile_conv              ? kernels::kTileConvName
                     : kernels_->gemm_oc != nullptr ? kernels_->gemm_oc_name
                                                    : kernels_->gemm_name;
  info.depthwise_kernel = kernels::depthwise_kernel(kernels_->isa).name;
  info.float_gemm_kernel = kernels::float_gemm_kernel(kernels_->isa).name;
  info.int8_conv_kernel = int8_kernels_->conv_name;
  info.int8_depthwise_kernel = int8_kernels_->depthwise_name;
  for (const auto& h : int8_output_) info.int8_handoffs += h != nullptr;
  for (const auto& r : residual_add_) info.residual_adds += r != nullptr;
  info.batch_chunk = batch_chunk_;
  for (std::uint32_t v : model_.inputs) info.input_shapes.push_back(model_.values[v].dims);
  for (std::uint32_t v : model_.outputs) info.output_shapes.push_back(model_.values[v].dims);
  for (const OpDesc& op : model_.ops) info.op_kinds.emplace_back(op_name(op.kind));
  return info;
}

}  // namespace triton_rt

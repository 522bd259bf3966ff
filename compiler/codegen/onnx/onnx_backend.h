// The ONNX backend: optimized IR -> one ONNX model (onnx_model.h) of the entry model under
// its default hyper-parameters, in eval mode (dropout is the identity, batch norm uses its
// running statistics). `triton compile M.triton --backend onnx` writes its binary form,
// `--emit=onnx-text` its text dump.
//
// Ternary weights stay compressed: int8/int4/int2 codes in {-1, 0, 1} and one float scale
// per output channel, dequantized in the graph by `DequantizeLinear(codes, scales, axis=0)`
// feeding Conv/Gemm/MatMul; ONNX Runtime computes scale * code exactly, so the graph
// computes what the PyTorch layers compute in eval mode. Float layers keep float32
// initializers.
//
// An op or layer ONNX cannot express (or that the backend does not cover yet) is a
// diagnostic at the call (`onnx_unsupported`), never a crash; a problem with the weights
// file is returned as a message.
#pragma once

#include <optional>
#include <string>

#include "codegen/onnx/onnx_model.h"
#include "codegen/onnx/safetensors.h"
#include "codegen/onnx/weights.h"
#include "diag/diagnostic.h"
#include "ir/ir.h"

namespace triton::codegen {

struct OnnxOptions {
  // How ternary codes are stored: Int4 (opset 21, the default), Int8 (opset 17) or Int2
  // (opset 25), the lowest opset that defines DequantizeLinear for the type; or Float
  // (opset 17): dequantized float32 weights, for runtimes or tools (float baselines,
  // quantizers) that want a plain float graph.
  onnx::DataType code_type = onnx::DataType::Int4;
  const onnx::SafeTensorsFile* weights = nullptr;  // null: declared initializations, seeded
  uint64_t seed = onnx::kDefaultSeed;
  std::string producer_version;
  // -O3: layers with 8-bit activations as integer QDQ groups that the runtimes run on their
  // int8 kernels (integer_lowering.h), where their output scales are known: the next
  // layers' input scales, or a calibrated `<layer>.output_amax` in the weights file (the
  // batch norm's path when one is folded into the layer).
  bool integer_lowering = false;
};

// The model; nullopt after reporting diagnostics to `diags` or, for a weights problem,
// setting `error`.
std::optional<onnx::Model> emit_onnx(const ir::Program& program, DiagnosticEngine& diags, const OnnxOptions& options,
                                     std::string* error);

}  // namespace triton::codegen

// The TFLite backend: optimized IR -> one TFLite model (tflite_model.h) of the entry model in
// eval mode. `triton compile M.triton --backend tflite` writes its FlatBuffer,
// `--emit=tflite-text` its text dump.
//
// One writer per format: this backend does not walk the IR itself. It reuses the ONNX
// backend's lowering (codegen/onnx/onnx_backend.h: weights, ternarization, batch-norm
// folding, every language construct), asked for int8 ternary codes, and converts that
// in-memory ONNX graph to TFLite:
//   - ternary weights stay int8 codes with per-channel quantization (one scale per output
//     channel, zero point 0) followed by a DEQUANTIZE to float32, so the file holds one byte
//     per weight;
//   - ONNX is NCHW, TFLite's CONV_2D, DEPTHWISE_CONV_2D and pooling are NHWC with OHWI
//     filters ([1, H, W, C*M] for depthwise). The model's inputs and outputs keep the
//     PyTorch layout; every value carries the permutation its data is stored in, a
//     TRANSPOSE is emitted only where an operator needs another order (elementwise ops,
//     binary ops whose inputs share a layout, reductions, slices and concatenations run in
//     the stored order), so a convolution chain stays NHWC. Filters are permuted at compile
//     time, on the int8 codes;
//   - a Conv1d is a CONV_2D over a height of 1;
//   - the batch size is 1 (TFLite shapes are static); shape computations (`x.shape`,
//     `Shape`/`Slice`/`Concat`/`Gather` on shapes, `Tile` of parameters) fold at compile
//     time.
// An ONNX operator without a TFLite lowering is a one-line error naming the operator and
// its layer; no file is written.
#pragma once

#include <optional>
#include <string>

#include "codegen/onnx/onnx_backend.h"
#include "codegen/tflite/tflite_model.h"

namespace triton::codegen {

struct TfliteOptions {
  const onnx::SafeTensorsFile* weights = nullptr;  // null: declared initializations, seeded
  uint64_t seed = onnx::kDefaultSeed;
  std::string producer_version;
  bool integer_lowering = false;  // -O3: see OnnxOptions::integer_lowering
};

// The model; nullopt after reporting diagnostics to `diags` or setting `error` (a weights
// problem or an operator without a TFLite lowering; `error_is_weights` tells which).
std::optional<tflite::Model> emit_tflite(const ir::Program& program, DiagnosticEngine& diags,
                                         const TfliteOptions& options, std::string* error, bool* error_is_weights);

// The conversion alone: an ONNX graph with int8 or float weights -> TFLite.
std::optional<tflite::Model> convert_onnx_to_tflite(const onnx::Model& model, const std::string& producer_version,
                                                    std::string* error);

}  // namespace triton::codegen

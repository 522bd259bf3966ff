// The ONNX backend's integer lowering (-O3, `OnnxOptions::integer_lowering`): a rewrite of
// the finished graph so that each layer with 8-bit activations runs on the runtime's int8
// kernels instead of a float Conv/Gemm behind QuantizeLinear/DequantizeLinear pairs.
//
// The float graph fake-quantizes a layer's input as Max(x, -127 s) -> QuantizeLinear(int8)
// -> DequantizeLinear; onnxruntime keeps the Conv/Gemm in float behind that (no output
// QuantizeLinear, and the Max blocks its QDQ fusion). The lowered graph is the QDQ form
// that onnxruntime fuses, and that the TFLite converter maps to int8 operators:
//   DequantizeLinear(uint8 x) -> Conv(DequantizeLinear(int8 w), DequantizeLinear(int32 b))
//     -> QuantizeLinear(uint8)                   (onnxruntime: QLinearConv)
//   DequantizeLinear(uint8 x) -> MatMul(DequantizeLinear(int8 w^T)) -> Sub(-b)
//     -> QuantizeLinear(uint8)                   (onnxruntime: MatMulIntegerToFloat)
// Activations are uint8 because onnxruntime's x86 CPU fuses QDQ groups only with uint8
// activations (its int8 x int8 kernels may saturate without VNNI). See integer_lowering.cpp
// for the choice of each output scale and the deviations from PyTorch's fake quantization.
#pragma once

#include <map>
#include <string>

#include "codegen/onnx/onnx_model.h"

namespace triton::codegen::onnx {

// `output_amax`: the calibrated range of a layer's output (after its folded batch norm), by
// the name of the value its Conv/Gemm produces; a layer whose output feeds only 8-bit layers
// does not need one. Layers with neither keep their float form.
void lower_to_integer(Model& model, const std::map<std::string, float>& output_amax);

}  // namespace triton::codegen::onnx

// Finds the integer QDQ groups of an ONNX graph written by the ONNX backend's integer
// lowering (-O3, codegen/onnx/integer_lowering.h), so that the TFLite conversion emits each
// group as one int8 operator instead of DEQUANTIZE -> float operator -> QUANTIZE:
//   DequantizeLinear(x) -> Conv(DequantizeLinear(codes), DequantizeLinear(int32 bias)?)
//     -> QuantizeLinear                           => CONV_2D / DEPTHWISE_CONV_2D, int8
//   DequantizeLinear(x) -> MatMul(DequantizeLinear(codes)) -> Sub(constant)?
//     -> QuantizeLinear                           => FULLY_CONNECTED, int8
// x is the output of a QuantizeLinear (a run-time int8 tensor in TFLite), each value in the
// chain is read once, and the weights are constant codes.
#pragma once

#include <cstddef>
#include <map>
#include <set>

#include "codegen/onnx/onnx_model.h"

namespace triton::codegen::tflite {

struct IntegerGroup {
  static constexpr size_t kNone = static_cast<size_t>(-1);
  size_t input_dq = kNone;   // DequantizeLinear of the int8 input
  size_t weight_dq = kNone;  // DequantizeLinear of the codes
  size_t bias_dq = kNone;    // Conv: DequantizeLinear of the int32 bias, if any
  size_t sub = kNone;        // MatMul: the Sub of the negated bias, if any
  size_t quantize = kNone;   // the output QuantizeLinear
};

struct IntegerGroups {
  std::map<size_t, IntegerGroup> at;  // by the index of the Conv or MatMul
  std::set<size_t> absorbed;          // nodes the groups' operators replace (Sub, Q, and
                                      // input DequantizeLinears read only by groups)
};

IntegerGroups find_integer_groups(const onnx::Graph& graph);

}  // namespace triton::codegen::tflite

// Ternary matrix kernels with 8-bit activations, for layers trained with
// `activation_bits: 8`, and their run-time ISA dispatch.
//
// Such a layer quantizes its input with one stored scale s, exactly as the PyTorch layer
// does (q = clamp(round_half_to_even(x / s), -127, 127), the division done in float32),
// then multiplies the int8 activations by the ternary codes with int32 accumulators. The
// integer part is exact, so every variant must produce bit-identical accumulators; the
// executor turns them into y = acc * (s * scale[o]) + bias.
//
// Weights are expanded once at load to one int8 code per weight, rows padded with zeros to
// a multiple of 64 columns, so a kernel step is one 64-byte (or two 32-byte) load of codes
// and of activations. The SIMD variants use u8 x s8 multiply-adds (vpdpbusd with
// AVX512-VNNI, vpmaddubsw + vpmaddwd with AVX-512BW or AVX2): they flip each activation's
// sign bit, which adds 128 to it as an unsigned byte, and subtract 128 * (sum of the row's
// codes) at the end.
// Kernel names follow `<op>_<weights><activations>__<isa>_<tile>` as in ternary.h.
#pragma once

#include <cstdint>
#include <vector>

#include "format/model.h"
#include "kernels/ternary.h"

namespace triton_rt::kernels {

inline constexpr std::int64_t kInt8ColAlign = 64;
inline constexpr float kInt8Max = 127.0f;
// The most inputs an 8-bit layer may have: with the +128 shift a partial sum is at most
// 255 * cols, and 255 * 2^23 < 2^31, so int32 accumulators cannot overflow.
inline constexpr std::int64_t kInt8MaxCols = std::int64_t{1} << 23;

inline std::int64_t int8_padded_cols(std::int64_t cols) {
  return (cols + kInt8ColAlign - 1) / kInt8ColAlign * kInt8ColAlign;
}

struct PreparedTernaryInt8 {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t padded_cols = 0;       // int8_padded_cols(cols)
  std::vector<std::int8_t> codes;     // rows * padded_cols, {-1, 0, +1}, 0 past cols
  std::vector<std::int32_t> row_sums;  // rows: sum of the row's codes
  std::vector<float> scales;          // rows
};

PreparedTernaryInt8 prepare_ternary_int8(const TernaryMatrix& m);

// q[i] = clamp(round_half_to_even(x[i] / scale), -127, 127) for i in [0, n). The division
// is a float32 division (not a multiply by 1/scale) so the result matches PyTorch's
// `x / scale` bit for bit. A NaN input gives -127.
using QuantizeFn = void (*)(const float* x, std::int64_t n, float scale, std::int8_t* q);

// acc[r] = sum_k code[r, k] * x[k] for r in [row_begin, row_end); x holds padded_cols int8
// values (zero, or anything finite, past cols: those codes are 0).
using GemvInt8Fn = void (*)(const PreparedTernaryInt8& w, const std::int8_t* x,
                            std::int32_t* acc, std::int64_t row_begin, std::int64_t row_end);

// acc[r * row_stride + j * col_stride] = sum_k code[r, k] * x[j * padded_cols + k] for rows
// [row_begin, row_end) and columns j in [0, p): x is [p, padded_cols] (one batch row or one
// im2col output pixel per line).
using GemmInt8Fn = void (*)(const PreparedTernaryInt8& w, const std::int8_t* x, std::int64_t p,
                            std::int32_t* acc, std::int64_t row_stride, std::int64_t col_stride,
                            std::int64_t row_begin, std::int64_t row_end);

struct Int8KernelSet {
  Isa isa;
  const char* variant;  // "scalar", "avx2", "avx512bw", "avx512vnni"
  const char* quantize_name;
  QuantizeFn quantize;
  const char* gemv_name;
  GemvInt8Fn gemv;
  const char* gemm_name;
  GemmInt8Fn gemm;
};

// The set for an ISA level (as chosen by selected_isa()); AVX-512 means the VNNI variant
// when cpuid reports avx512vnni, the AVX-512BW one otherwise. TRITON_RT_FORCE_ISA=avx512bw
// selects the latter on a VNNI machine.
const Int8KernelSet& int8_kernel_set(Isa isa);
const Int8KernelSet& selected_int8_kernels();

// The per-variant sets; those the CPU cannot run return nullptr (tests iterate over them).
const Int8KernelSet* scalar_int8_kernels();
const Int8KernelSet* avx2_int8_kernels();
const Int8KernelSet* avx512bw_int8_kernels();
const Int8KernelSet* avx512vnni_int8_kernels();
// The same without the cpuid check; each is defined by its variant's file.
const Int8KernelSet* avx2_int8_kernels_unchecked();
const Int8KernelSet* avx512bw_int8_kernels_unchecked();
const Int8KernelSet* avx512vnni_int8_kernels_unchecked();

}  // namespace triton_rt::kernels

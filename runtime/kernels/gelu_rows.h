// GELU (erf form, gelu.h) over a run of floats in place: the float activation op and the
// fused epilogues of float layers (ViT's MLP: 2.4 M values per image). The AVX2 variant
// computes every lane bit for bit as the scalar gelu_erf does (gelu_avx2.h), so which one
// runs never changes a result; the scalar loop is the reference the tests compare against.
#pragma once

#include <cstdint>

namespace triton_rt::kernels {

// gelu_erf of each of the n floats at d, on the best level the CPU has (AVX2, else scalar;
// chosen once, from the level selected at first use).
void gelu_inplace(float* d, std::int64_t n);

void gelu_inplace__scalar(float* d, std::int64_t n);
// Null where the CPU or the build has no AVX2.
using GeluFn = void (*)(float* d, std::int64_t n);
GeluFn gelu_inplace_avx2();

}  // namespace triton_rt::kernels

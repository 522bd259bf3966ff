// Minimal .npy reading and writing for `triton run`: C-order arrays of float32 (float64 and
// integer inputs are converted to float32). Returns a Status instead of throwing.
#pragma once

#include <string>

#include "executor/tensor.h"
#include "format/status.h"

namespace triton_rt {

Expected<Tensor> read_npy(const std::string& path);
Status write_npy(const std::string& path, const Tensor& tensor);

}  // namespace triton_rt

// Minimal .npy reading and writing for `triton run`: C-order arrays of float32 (float64 and
// int64 inputs are converted to float32). Returns a Status instead of throwing.
//
// The reader trusts nothing in the file: the header's shape is checked (non-negative
// integers, an element count without overflow) against the bytes the file really holds
// before anything is allocated, and only regular files are read.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "executor/tensor.h"
#include "format/status.h"

namespace triton_rt {

// The largest .npy file read_npy accepts, in bytes.
inline constexpr std::uint64_t kMaxNpyBytes = std::uint64_t{1} << 36;

Expected<Tensor> read_npy(const std::string& path);
// Parses the bytes of a .npy file; `name` prefixes error messages.
Expected<Tensor> parse_npy(std::span<const std::uint8_t> bytes, const std::string& name);
Status write_npy(const std::string& path, const Tensor& tensor);

}  // namespace triton_rt

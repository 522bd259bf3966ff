// Where the ONNX backend's initializers come from: a safetensors file (`--weights`, the
// generated program's `--export-weights`), or, without one, each tensor's declared
// initialization drawn from a seeded generator. Ternary weights become int8 codes in
// {-1, 0, 1} and one float scale per output channel by the rule of `triton_dsl.quant`
// (deterministic TWN: delta = threshold * mean|w|, t = sign(w) [|w| > delta],
// alpha = mean |w| over t != 0), unless the file already holds the codes and scales the
// PyTorch layers computed (`NAME.codes`, `NAME.scales`), which are then used unchanged.
//
// The generator is splitmix64 seeded by the seed (kDefaultSeed) mixed with a hash of the
// tensor's name, so every tensor draws its own stream: adding a layer does not change the
// others. The values are deterministic but are not PyTorch's (they only need to be a
// well-scaled start; trained weights come from a file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/onnx/safetensors.h"

namespace triton::codegen::onnx {

inline constexpr uint64_t kDefaultSeed = 0;

struct InitSpec {
  enum class Kind { Zeros, Ones, Constant, Normal, Uniform, TruncNormal } kind = Kind::Zeros;
  double a = 0.0, b = 1.0;  // Constant: a; Normal/TruncNormal: mean a, std b; Uniform: [a, b]
  double low = -2.0, high = 2.0;  // TruncNormal: the absolute bounds
  static InitSpec uniform(double bound) { return {Kind::Uniform, -bound, bound}; }
  static InitSpec constant(double v) { return {Kind::Constant, v, 0.0}; }
};

// Integer codes times one float scale per output channel: ternary codes in {-1, 0, 1}, or
// the codes of an "int8"/"int4" layer in [-qmax, qmax].
struct TernaryWeight {
  std::vector<int8_t> codes;
  std::vector<float> scales;  // one per output channel
};

// Ternarizes `w` (rows = dim 0) as `triton_dsl.quant.codes_and_scales`: per-channel or one
// scale for the whole tensor (repeated per channel).
TernaryWeight ternarize(const std::vector<float>& w, int64_t rows, double threshold, bool per_channel);

// Symmetric integer codes of `w` as `triton_dsl.quant.integer_rows`: s = max|w| / qmax per
// row (or over the tensor, repeated per channel), codes = clamp(round_half_even(w / s),
// -qmax, qmax), in float32 arithmetic; an all-zero row gets s = 0 and codes 0.
TernaryWeight quantize_integer(const std::vector<float>& w, int64_t rows, int qmax, bool per_channel);

class WeightSource {
 public:
  WeightSource(const SafeTensorsFile* file, uint64_t seed) : file_(file), seed_(seed) {}

  // The float tensor `name` of `shape`: the file's (dtype F32, same shape) or drawn by
  // `init`. A missing or mismatched tensor in a given file is an error (see `error`).
  std::vector<float> floats(const std::string& name, const std::vector<int64_t>& shape, const InitSpec& init);
  TernaryWeight ternary(const std::string& name, const std::vector<int64_t>& shape, const InitSpec& init,
                        double threshold, bool per_channel);

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }  // the first problem found

 private:
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  const SafeTensorsFile* file_;
  uint64_t seed_;
  std::string error_;
};

}  // namespace triton::codegen::onnx

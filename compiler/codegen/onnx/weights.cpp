// Implements weights.h: the seeded generator, the initializations and the ternarization.
#include "codegen/onnx/weights.h"

#include <algorithm>
#include <cmath>

namespace triton::codegen::onnx {

namespace {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {  // Box-Muller; 1 - u keeps the logarithm finite
    const double u = 1.0 - uniform01(), v = uniform01();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }

 private:
  uint64_t state_;
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Codes and scales of w ([rows, n] row-major) quantized per output channel, or with one
// scale for the whole tensor: code_group(group, n, codes) writes one group's codes and
// returns its scale.
template <class CodeGroup>
TernaryWeight quantize_groups(const std::vector<float>& w, int64_t rows, bool per_channel, const CodeGroup& code_group) {
  TernaryWeight out;
  out.codes.assign(w.size(), 0);
  out.scales.assign(static_cast<size_t>(rows), 0.0f);
  const size_t groups = per_channel ? static_cast<size_t>(rows) : 1;
  const size_t n = groups ? w.size() / groups : 0;
  for (size_t g = 0; g < groups; ++g) {
    const float scale = code_group(w.data() + g * n, n, out.codes.data() + g * n);
    if (per_channel) out.scales[g] = scale;
    else
      for (auto& s : out.scales) s = scale;
  }
  return out;
}

}  // namespace

TernaryWeight ternarize(const std::vector<float>& w, int64_t rows, double threshold, bool per_channel) {
  return quantize_groups(w, rows, per_channel, [threshold](const float* row, size_t n, int8_t* codes) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += std::fabs(row[i]);
    // float32 as PyTorch computes it: mean, then times the threshold
    const float delta = static_cast<float>(total / static_cast<double>(n)) * static_cast<float>(threshold);
    double kept = 0;
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) {
      const float m = std::fabs(row[i]);
      if (m - delta > 0.0f) {
        codes[i] = row[i] > 0 ? 1 : -1;
        kept += m;
        ++count;
      }
    }
    return count ? static_cast<float>(kept / static_cast<double>(count)) : 0.0f;
  });
}

TernaryWeight quantize_integer(const std::vector<float>& w, int64_t rows, int qmax, bool per_channel) {
  const float top = static_cast<float>(qmax);
  return quantize_groups(w, rows, per_channel, [top](const float* row, size_t n, int8_t* codes) {
    float amax = 0.0f;
    for (size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(row[i]));
    const float scale = amax / top;
    if (scale > 0.0f)
      for (size_t i = 0; i < n; ++i) codes[i] = static_cast<int8_t>(std::clamp(std::nearbyint(row[i] / scale), -top, top));
    return scale;
  });
}

std::vector<float> WeightSource::floats(const std::string& name, const std::vector<int64_t>& shape, const InitSpec& init) {
  const int64_t count = product(shape);
  if (file_) {
    auto it = file_->tensors.find(name);
    if (it == file_->tensors.end()) {
      fail("the weights file has no tensor `" + name + "`");
      return std::vector<float>(static_cast<size_t>(count), 0.0f);
    }
    const SafeTensor& t = it->second;
    // A scalar and a one-element vector are the same buffer (`input_amax` is saved as []).
    const bool same_shape = t.shape == shape || (count == 1 && t.element_count() == 1);
    if (t.dtype != "F32" || !same_shape) {
      fail("tensor `" + name + "` in the weights file is " + t.dtype + shape_text(t.shape) + "; expected F32" +
           shape_text(shape));
      return std::vector<float>(static_cast<size_t>(count), 0.0f);
    }
    return t.as_floats();
  }
  std::vector<float> out(static_cast<size_t>(count));
  SplitMix64 rng(seed_ ^ fnv1a(name));
  for (float& v : out) {
    switch (init.kind) {
      case InitSpec::Kind::Zeros: v = 0.0f; break;
      case InitSpec::Kind::Ones: v = 1.0f; break;
      case InitSpec::Kind::Constant: v = static_cast<float>(init.a); break;
      case InitSpec::Kind::Normal: v = static_cast<float>(init.a + init.b * rng.normal()); break;
      case InitSpec::Kind::Uniform: v = static_cast<float>(init.a + (init.b - init.a) * rng.uniform01()); break;
      case InitSpec::Kind::TruncNormal: {
        double x = init.a;
        for (int tries = 0; tries < 64; ++tries) {  // resample outside [low, high]
          x = init.a + init.b * rng.normal();
          if (x >= init.low && x <= init.high) break;
          x = init.a;
        }
        v = static_cast<float>(x);
        break;
      }
    }
  }
  return out;
}

TernaryWeight WeightSource::ternary(const std::string& name, const std::vector<int64_t>& shape, const InitSpec& init,
                                    double threshold, bool per_channel) {
  const int64_t rows = shape.empty() ? 1 : shape[0];
  if (file_) {
    auto codes = file_->tensors.find(name + ".codes");
    auto scales = file_->tensors.find(name + ".scales");
    if (codes != file_->tensors.end() && scales != file_->tensors.end()) {
      if (codes->second.dtype != "I8" || codes->second.shape != shape || scales->second.dtype != "F32" ||
          scales->second.shape != std::vector<int64_t>{rows}) {
        fail("`" + name + ".codes` / `" + name + ".scales` in the weights file are " + codes->second.dtype +
             shape_text(codes->second.shape) + " / " + scales->second.dtype + shape_text(scales->second.shape) +
             "; expected I8" + shape_text(shape) + " / F32[" + std::to_string(rows) + "]");
        return {std::vector<int8_t>(static_cast<size_t>(product(shape)), 0), std::vector<float>(static_cast<size_t>(rows), 0)};
      }
      TernaryWeight t;
      t.codes.reserve(codes->second.data.size());
      for (char c : codes->second.data) {
        const auto v = static_cast<int8_t>(c);
        if (v < -1 || v > 1) {
          fail("`" + name + ".codes` in the weights file holds " + std::to_string(v) + "; codes are -1, 0 or 1");
          break;
        }
        t.codes.push_back(v);
      }
      t.codes.resize(codes->second.data.size(), 0);
      t.scales = scales->second.as_floats();
      return t;
    }
  }
  return ternarize(floats(name, shape, init), rows, threshold, per_channel);
}

}  // namespace triton::codegen::onnx

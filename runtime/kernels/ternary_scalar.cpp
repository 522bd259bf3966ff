// Scalar reference ternary kernels, the ground truth of every SIMD variant, plus the
// load-time preparation of mask blocks and sparse index lists (see ternary.h).
#include "format/packing.h"
#include "kernels/ternary.h"

namespace triton_rt::kernels {

PreparedTernary prepare_ternary(const TernaryMatrix& m) {
  PreparedTernary p;
  p.rows = m.rows;
  p.cols = m.cols;
  p.blocks = (m.cols + kMaskBlockWeights - 1) / kMaskBlockWeights;
  p.scales = m.scales;
  p.masks.assign(p.rows * p.blocks, MaskBlock{0, 0});
  p.starts.reserve(p.rows + 1);
  p.splits.reserve(p.rows);
  std::vector<std::uint32_t> minus;
  for (std::int64_t r = 0; r < m.rows; ++r) {
    const std::uint8_t* row = m.packed.data() + r * m.row_bytes;
    p.starts.push_back(static_cast<std::uint32_t>(p.indices.size()));
    minus.clear();
    for (std::int64_t c = 0; c < m.cols; ++c) {
      const int code = format::t2_code(row, c);
      MaskBlock& b = p.masks[r * p.blocks + c / kMaskBlockWeights];
      const auto bit = static_cast<std::uint16_t>(1u << (c % kMaskBlockWeights));
      if (code > 0) {
        b.plus |= bit;
        p.indices.push_back(static_cast<std::uint32_t>(c));
      } else if (code < 0) {
        b.minus |= bit;
        minus.push_back(static_cast<std::uint32_t>(c));
      }
    }
    p.splits.push_back(static_cast<std::uint32_t>(p.indices.size()));
    p.indices.insert(p.indices.end(), minus.begin(), minus.end());
  }
  p.starts.push_back(static_cast<std::uint32_t>(p.indices.size()));
  return p;
}

namespace {

void gemv_t2f32__scalar_1x1(const PreparedTernary& w, const float* x, float* y,
                            std::int64_t row_begin, std::int64_t row_end) {
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const MaskBlock* blocks = w.masks.data() + r * w.blocks;
    float acc = 0.0f;
    for (std::int64_t b = 0; b < w.blocks; ++b) {
      const float* xb = x + b * kMaskBlockWeights;
      for (int i = 0; i < kMaskBlockWeights; ++i) {
        if (blocks[b].plus >> i & 1) acc += xb[i];
        if (blocks[b].minus >> i & 1) acc -= xb[i];
      }
    }
    y[r] = w.scales[r] * acc;
  }
}

void gemm_t2f32__scalar_1x1(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                            std::int64_t row_begin, std::int64_t row_end) {
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    float* out = y + r * p;
    for (std::int64_t j = 0; j < p; ++j) out[j] = 0.0f;
    for (std::uint32_t i = w.starts[r]; i < w.splits[r]; ++i) {
      const float* xr = x + static_cast<std::int64_t>(w.indices[i]) * p;
      for (std::int64_t j = 0; j < p; ++j) out[j] += xr[j];
    }
    for (std::uint32_t i = w.splits[r]; i < w.starts[r + 1]; ++i) {
      const float* xr = x + static_cast<std::int64_t>(w.indices[i]) * p;
      for (std::int64_t j = 0; j < p; ++j) out[j] -= xr[j];
    }
    for (std::int64_t j = 0; j < p; ++j) out[j] *= w.scales[r];
  }
}

const KernelSet kScalar = {Isa::kScalar, "gemv_t2f32__scalar_1x1", gemv_t2f32__scalar_1x1,
                           "gemm_t2f32__scalar_1x1", gemm_t2f32__scalar_1x1};

}  // namespace

const KernelSet* scalar_kernels() { return &kScalar; }

}  // namespace triton_rt::kernels

// Scalar reference ternary kernels, the ground truth of every SIMD variant, plus the
// load-time preparation of mask blocks and sparse index lists (see ternary.h).
#include <algorithm>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "format/packing.h"
#include "kernels/ternary.h"

namespace triton_rt::kernels {

void decode_ternary(PreparedTernary& w) {
  w.decoded.assign(w.rows * w.cols, 0.0f);
  for (std::int64_t r = 0; r < w.rows; ++r) {
    const MaskBlock* column = w.colmasks.data() + r / kOcBlock * w.cols;
    const auto bit = static_cast<std::uint16_t>(1u << (r % kOcBlock));
    for (std::int64_t k = 0; k < w.cols; ++k) {
      const float code = (column[k].plus & bit) ? 1.0f : (column[k].minus & bit) ? -1.0f : 0.0f;
      w.decoded[r * w.cols + k] = code * w.scales[r];
    }
  }
}

PreparedTernary prepare_ternary(const TernaryMatrix& m) {
  PreparedTernary p;
  p.rows = m.rows;
  p.cols = m.cols;
  p.blocks = (m.cols + kMaskBlockWeights - 1) / kMaskBlockWeights;
  p.scales = m.scales;
  p.masks.assign(p.rows * p.blocks, MaskBlock{0, 0});
  p.row_blocks = (m.rows + kOcBlock - 1) / kOcBlock;
  p.colmasks.assign(p.row_blocks * p.cols, MaskBlock{0, 0});
  p.nibbles.assign(p.row_blocks * p.blocks * 4 * kOcBlock, 0);
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
      MaskBlock& cb = p.colmasks[r / kOcBlock * p.cols + c];
      const auto row_bit = static_cast<std::uint16_t>(1u << (r % kOcBlock));
      if (code > 0) cb.plus |= row_bit;
      if (code < 0) cb.minus |= row_bit;
      std::uint8_t& nibble = p.nibbles[(r / kOcBlock * p.blocks * 4 + c / 4) * kOcBlock + r % kOcBlock];
      if (code > 0) nibble |= static_cast<std::uint8_t>(1u << (c % 4));
      if (code < 0) nibble |= static_cast<std::uint8_t>(16u << (c % 4));
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
  const std::int64_t groups = (m.cols + 3) / 4;
  p.lut_stride = (groups + kLutChunk - 1) / kLutChunk * kLutChunk;
  p.lut_digits.assign(p.rows * p.lut_stride, kLutZeroDigit);
  for (std::int64_t r = 0; r < m.rows; ++r) {
    const std::uint8_t* row = m.packed.data() + r * m.row_bytes;
    for (std::int64_t g = 0; g < groups; ++g) {
      int digit = 0;
      for (std::int64_t i = 3; i >= 0; --i) {
        const std::int64_t c = 4 * g + i;
        digit = 3 * digit + (c < m.cols ? format::t2_code(row, c) : 0) + 1;
      }
      p.lut_digits[r * p.lut_stride + g] = static_cast<std::uint8_t>(digit);
    }
  }
  p.chunks = (m.cols + kChunkCols - 1) / kChunkCols;
  p.plus_cuts.resize(p.rows * (p.chunks + 1));
  p.minus_cuts.resize(p.rows * (p.chunks + 1));
  for (std::int64_t r = 0; r < p.rows; ++r) {
    std::uint32_t plus_at = p.starts[r], minus_at = p.splits[r];
    for (std::int64_t c = 0; c <= p.chunks; ++c) {
      const std::int64_t first_col = c * kChunkCols;
      while (plus_at < p.splits[r] && p.indices[plus_at] < first_col) ++plus_at;
      while (minus_at < p.starts[r + 1] && p.indices[minus_at] < first_col) ++minus_at;
      p.plus_cuts[r * (p.chunks + 1) + c] = plus_at;
      p.minus_cuts[r * (p.chunks + 1) + c] = minus_at;
    }
  }
  return p;
}

void pack_panels(const float* src, std::int64_t k, std::int64_t p, std::int64_t ld, float* dst) {
  const std::int64_t width = panel_width(p);
  for (std::int64_t q = 0; q < panel_count(p); ++q) {
    const std::int64_t j0 = q * width, n = std::min(width, p - j0);
    for (std::int64_t row = 0; row < k; ++row) {
      float* d = dst + (q * k + row) * width;
      const float* s = src + row * ld + j0;
      for (std::int64_t i = 0; i < n; ++i) d[i] = s[i];
      for (std::int64_t i = n; i < width; ++i) d[i] = 0.0f;
    }
  }
}

void pack_panels_transposed(const float* src, std::int64_t p, std::int64_t k, float* dst) {
  pack_panels_transposed(src, p, k, dst, 0, k);
}

namespace {

// A transpose into panels of `width` columns: 4 x 4 blocks through SSE registers (every
// x86-64 CPU has SSE2) where the columns and rows allow, single floats at the edges.
// Scattering one float per row at a panel's stride was a sixth of the MLP's batch-128 time.
void pack_transposed(const float* src, std::int64_t p, std::int64_t k, std::int64_t width,
                     float* dst, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t panels = (p + width - 1) / width;
  for (std::int64_t q = 0; q < panels; ++q) {
    const std::int64_t j0 = q * width, n = std::min(width, p - j0);
    float* panel = dst + q * k * width;
    std::int64_t i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= n; i += 4) {
      const float* s0 = src + (j0 + i) * k;
      const float* s1 = s0 + k;
      const float* s2 = s1 + k;
      const float* s3 = s2 + k;
      std::int64_t row = row_begin;
      for (; row + 4 <= row_end; row += 4) {
        __m128 a = _mm_loadu_ps(s0 + row), b = _mm_loadu_ps(s1 + row);
        __m128 c = _mm_loadu_ps(s2 + row), d = _mm_loadu_ps(s3 + row);
        _MM_TRANSPOSE4_PS(a, b, c, d);
        float* out = panel + row * width + i;
        _mm_storeu_ps(out, a);
        _mm_storeu_ps(out + width, b);
        _mm_storeu_ps(out + 2 * width, c);
        _mm_storeu_ps(out + 3 * width, d);
      }
      for (; row < row_end; ++row) {
        float* out = panel + row * width + i;
        out[0] = s0[row], out[1] = s1[row], out[2] = s2[row], out[3] = s3[row];
      }
    }
#endif
    for (; i < n; ++i) {
      const float* s = src + (j0 + i) * k;
      for (std::int64_t row = row_begin; row < row_end; ++row) panel[row * width + i] = s[row];
    }
    if (n < width) {
      for (std::int64_t row = row_begin; row < row_end; ++row) {
        std::fill(panel + row * width + n, panel + (row + 1) * width, 0.0f);
      }
    }
  }
}

}  // namespace

void pack_panels_transposed(const float* src, std::int64_t p, std::int64_t k, float* dst,
                            std::int64_t row_begin, std::int64_t row_end) {
  pack_transposed(src, p, k, panel_width(p), dst, row_begin, row_end);
}

void pack_oc_panels_transposed(const float* src, std::int64_t p, std::int64_t k, float* dst,
                               std::int64_t row_begin, std::int64_t row_end) {
  pack_transposed(src, p, k, kOcPanel, dst, row_begin, row_end);
}

namespace {

void gemv_t2f32__scalar_1x1(const PreparedTernary& w, const float* x, float* y,
                            std::int64_t row_begin, std::int64_t row_end, float* /*scratch*/) {
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
  const std::int64_t width = panel_width(p);
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    for (std::int64_t j = 0; j < p; ++j) {
      const float* panel = x + (j / width) * w.cols * width + j % width;
      float acc = 0.0f;
      for (std::uint32_t i = w.starts[r]; i < w.splits[r]; ++i) {
        acc += panel[std::int64_t{w.indices[i]} * width];
      }
      for (std::uint32_t i = w.splits[r]; i < w.starts[r + 1]; ++i) {
        acc -= panel[std::int64_t{w.indices[i]} * width];
      }
      y[r * p + j] = w.scales[r] * acc;
    }
  }
}

}  // namespace

void gemm_oc_t2f32__scalar_16x16(const PreparedTernary& w, const float* x, std::int64_t p,
                                 float* y, std::int64_t block_begin, std::int64_t block_end) {
  for (std::int64_t b = block_begin; b < block_end; ++b) {
    const MaskBlock* m = w.colmasks.data() + b * w.cols;
    for (std::int64_t i = 0; i < kOcBlock && b * kOcBlock + i < w.rows; ++i) {
      const std::int64_t r = b * kOcBlock + i;
      for (std::int64_t j = 0; j < p; ++j) {
        const float* panel = x + j / kOcPanel * w.cols * kOcPanel + j % kOcPanel;
        float acc = 0.0f;
        for (std::int64_t k = 0; k < w.cols; ++k) {
          if (m[k].plus >> i & 1) acc += panel[k * kOcPanel];
          if (m[k].minus >> i & 1) acc -= panel[k * kOcPanel];
        }
        y[r * p + j] = w.scales[r] * acc;
      }
    }
  }
}

namespace {

const KernelSet kScalar = {Isa::kScalar, "gemv_t2f32__scalar_1x1", gemv_t2f32__scalar_1x1,
                           "gemm_t2f32__scalar_1x1", gemm_t2f32__scalar_1x1};

}  // namespace

const KernelSet* scalar_kernels() { return &kScalar; }

}  // namespace triton_rt::kernels

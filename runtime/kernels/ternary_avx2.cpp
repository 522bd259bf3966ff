// AVX2 ternary kernels (compiled with -mavx2 -mfma; only called after cpuid says the CPU
// has AVX2, see dispatch.cpp).
//
// AVX2 has no write masks, so gemv turns each 8-bit half of a mask block into a lane mask
// with a 256-entry table (8 KiB, stays in L1) and accumulates `x & mask` for +1 and -1
// separately. gemm mirrors the AVX-512 one over 64-column panels (8 ymm). gemm_lut (the
// base-3 table GEMM, ternary.h) tabulates, per unit of 32 columns and chunk of 8 groups of
// 4 activation rows, the 81 signed sums of each group (83 KiB, L2) and adds one entry per
// group and row, two rows at a time (8 independent add chains). gemm_dense runs narrow
// layers as a float GEMM over the decoded codes, 6 rows x 16 columns of FMA accumulators.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <type_traits>

#include "kernels/ternary.h"

namespace triton_rt::kernels {
namespace {

struct LaneMasks {
  alignas(32) std::array<std::array<std::uint32_t, 8>, 256> table;
  LaneMasks() {
    for (int m = 0; m < 256; ++m) {
      for (int i = 0; i < 8; ++i) table[m][i] = (m >> i & 1) ? 0xFFFFFFFFu : 0u;
    }
  }
};
const LaneMasks kLaneMasks;

inline __m256 lane_mask(unsigned bits8) {
  return _mm256_load_ps(reinterpret_cast<const float*>(kLaneMasks.table[bits8].data()));
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

void gemv_t2f32__avx2_2x1(const PreparedTernary& w, const float* x, float* y,
                          std::int64_t row_begin, std::int64_t row_end, float* /*scratch*/) {
  const std::int64_t nb = w.blocks;
  std::int64_t r = row_begin;
  for (; r + 2 <= row_end; r += 2) {
    const MaskBlock* m0 = w.masks.data() + r * nb;
    const MaskBlock* m1 = m0 + nb;
    __m256 p0 = _mm256_setzero_ps(), n0 = p0, p1 = p0, n1 = p0;
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m256 lo = _mm256_loadu_ps(x + b * kMaskBlockWeights);
      const __m256 hi = _mm256_loadu_ps(x + b * kMaskBlockWeights + 8);
      p0 = _mm256_add_ps(p0, _mm256_and_ps(lo, lane_mask(m0[b].plus & 0xFF)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(lo, lane_mask(m0[b].minus & 0xFF)));
      p1 = _mm256_add_ps(p1, _mm256_and_ps(lo, lane_mask(m1[b].plus & 0xFF)));
      n1 = _mm256_add_ps(n1, _mm256_and_ps(lo, lane_mask(m1[b].minus & 0xFF)));
      p0 = _mm256_add_ps(p0, _mm256_and_ps(hi, lane_mask(m0[b].plus >> 8)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(hi, lane_mask(m0[b].minus >> 8)));
      p1 = _mm256_add_ps(p1, _mm256_and_ps(hi, lane_mask(m1[b].plus >> 8)));
      n1 = _mm256_add_ps(n1, _mm256_and_ps(hi, lane_mask(m1[b].minus >> 8)));
    }
    y[r] = w.scales[r] * hsum(_mm256_sub_ps(p0, n0));
    y[r + 1] = w.scales[r + 1] * hsum(_mm256_sub_ps(p1, n1));
  }
  for (; r < row_end; ++r) {
    const MaskBlock* m0 = w.masks.data() + r * nb;
    __m256 p0 = _mm256_setzero_ps(), n0 = p0;
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m256 lo = _mm256_loadu_ps(x + b * kMaskBlockWeights);
      const __m256 hi = _mm256_loadu_ps(x + b * kMaskBlockWeights + 8);
      p0 = _mm256_add_ps(p0, _mm256_and_ps(lo, lane_mask(m0[b].plus & 0xFF)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(lo, lane_mask(m0[b].minus & 0xFF)));
      p0 = _mm256_add_ps(p0, _mm256_and_ps(hi, lane_mask(m0[b].plus >> 8)));
      n0 = _mm256_add_ps(n0, _mm256_and_ps(hi, lane_mask(m0[b].minus >> 8)));
    }
    y[r] = w.scales[r] * hsum(_mm256_sub_ps(p0, n0));
  }
}

// One row against one panel of V ymm (8 * V columns); U = 8 / V accumulator sets take
// alternate weights for about 8 independent add chains; -1 weights subtract into them.
template <int V>
void gemm_panels(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                 std::int64_t row_begin, std::int64_t row_end) {
  constexpr int U = 8 / V;
  constexpr std::int64_t W = 8 * V;
  // Narrow panels take several chunks at a time (a chunk of them is small).
  constexpr std::int64_t kStep = kPanelWidth / W >= 2 ? kPanelWidth / W : 1;
  const std::uint32_t* idx = w.indices.data();
  const std::int64_t stride = w.chunks + 1;
  alignas(32) float sums[kRowBlock * W];
  for (std::int64_t q = 0; q < panel_count(p); ++q) {
    const float* panel = x + q * w.cols * W;
    const std::int64_t j0 = q * W, n = std::min(W, p - j0);
    for (std::int64_t rb = row_begin; rb < row_end; rb += kRowBlock) {
      const std::int64_t rb_end = std::min(row_end, rb + kRowBlock);
      for (std::int64_t c = 0; c < w.chunks; c += kStep) {
        const std::int64_t c_end = std::min(w.chunks, c + kStep);
        for (std::int64_t r = rb; r < rb_end; ++r) {
          __m256 acc[U][V];
          for (int u = 0; u < U; ++u) {
            for (int v = 0; v < V; ++v) acc[u][v] = _mm256_setzero_ps();
          }
          // Indices, not pointers: `idx` is null when the matrix has no nonzero weight.
          std::int64_t k = w.plus_cuts[r * stride + c];
          const std::int64_t split = w.plus_cuts[r * stride + c_end];
          // The -1 run of this chunk: jump there once the +1 run is done.
          const std::int64_t minus_begin = w.minus_cuts[r * stride + c];
          const std::int64_t end = w.minus_cuts[r * stride + c_end];
          for (; k + U <= split; k += U) {
            for (int u = 0; u < U; ++u) {
              const float* xr = panel + std::int64_t{idx[k + u]} * W;
              for (int v = 0; v < V; ++v) acc[u][v] = _mm256_add_ps(acc[u][v], _mm256_loadu_ps(xr + 8 * v));
            }
          }
          for (; k < split; ++k) {
            const float* xr = panel + std::int64_t{idx[k]} * W;
            for (int v = 0; v < V; ++v) acc[0][v] = _mm256_add_ps(acc[0][v], _mm256_loadu_ps(xr + 8 * v));
          }
          k = minus_begin;
          for (; k + U <= end; k += U) {
            for (int u = 0; u < U; ++u) {
              const float* xr = panel + std::int64_t{idx[k + u]} * W;
              for (int v = 0; v < V; ++v) acc[u][v] = _mm256_sub_ps(acc[u][v], _mm256_loadu_ps(xr + 8 * v));
            }
          }
          for (; k < end; ++k) {
            const float* xr = panel + std::int64_t{idx[k]} * W;
            for (int v = 0; v < V; ++v) acc[0][v] = _mm256_sub_ps(acc[0][v], _mm256_loadu_ps(xr + 8 * v));
          }
          float* sum_row = sums + (r - rb) * W;
          for (int v = 0; v < V; ++v) {
            __m256 sum = acc[0][v];
            for (int u = 1; u < U; ++u) sum = _mm256_add_ps(sum, acc[u][v]);
            if (c != 0) sum = _mm256_add_ps(sum, _mm256_loadu_ps(sum_row + 8 * v));
            _mm256_storeu_ps(sum_row + 8 * v, sum);
          }
        }
      }
      for (std::int64_t r = rb; r < rb_end; ++r) {
        const float* sum_row = sums + (r - rb) * W;
        float* out = y + r * p + j0;
        for (std::int64_t i = 0; i < n; ++i) out[i] = w.scales[r] * sum_row[i];
      }
    }
  }
}

void gemm_t2f32__avx2_1x64(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                           std::int64_t row_begin, std::int64_t row_end) {
  switch (panel_width(p)) {
    case 16:
      return gemm_panels<2>(w, x, p, y, row_begin, row_end);
    case 32:
      return gemm_panels<4>(w, x, p, y, row_begin, row_end);
    case 48:
      return gemm_panels<6>(w, x, p, y, row_begin, row_end);
    default:
      return gemm_panels<8>(w, x, p, y, row_begin, row_end);
  }
}

// Rows whose running sums one unit keeps (on the stack, beside the tables).
constexpr std::int64_t kLutRowBlock = 256;
constexpr std::int64_t kLutEntries = 81;

// The tables of groups [group, group + kLutChunk) for V vectors of columns of `panel` (W
// floats per activation row): table[(g * 81 + d) * 8V + 8v + i] is the sum over the group's
// 4 rows k of (digit_k(d) - 1) * x(k, column), zero codes adding 0 (never 0 * x, so an
// infinite activation reaches only the rows that weigh it). Rows past `cols` are 0.
template <int V>
inline void lut_tables(const float* panel, std::int64_t cols, std::int64_t W, std::int64_t group,
                       float* table) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 zero = _mm256_setzero_ps();
  for (std::int64_t g = 0; g < kLutChunk; ++g) {
    const std::int64_t k0 = 4 * (group + g);
    float* t = table + g * kLutEntries * 8 * V;
    for (int v = 0; v < V; ++v) {
      __m256 term[4][3];
      for (int i = 0; i < 4; ++i) {
        const __m256 x = k0 + i < cols ? _mm256_loadu_ps(panel + (k0 + i) * W + 8 * v) : zero;
        term[i][0] = _mm256_xor_ps(x, sign);
        term[i][1] = zero;
        term[i][2] = x;
      }
      __m256 low[9];
      for (int d1 = 0; d1 < 3; ++d1) {
        for (int d0 = 0; d0 < 3; ++d0) low[d0 + 3 * d1] = _mm256_add_ps(term[0][d0], term[1][d1]);
      }
      for (int d3 = 0; d3 < 3; ++d3) {
        for (int d2 = 0; d2 < 3; ++d2) {
          const __m256 high = _mm256_add_ps(term[2][d2], term[3][d3]);
          float* e = t + (9 * (d2 + 3 * d3)) * 8 * V + 8 * v;
          for (int a = 0; a < 9; ++a) _mm256_store_ps(e + a * 8 * V, _mm256_add_ps(low[a], high));
        }
      }
    }
  }
}

// Rows [row_begin, row_end) of one unit: V vectors of columns at `panel` (offset already
// applied), of which n exist, written to y + r * p.
template <int V>
void lut_unit(const PreparedTernary& w, const float* panel, std::int64_t W, std::int64_t n,
              std::int64_t p, float* y, std::int64_t row_begin, std::int64_t row_end) {
  constexpr std::int64_t kEntry = 8 * V;
  alignas(32) float table[kLutChunk * kLutEntries * kEntry];
  alignas(32) float sums[kLutRowBlock * kEntry];
  const std::int64_t stride = w.lut_stride;
  for (std::int64_t rb = row_begin; rb < row_end; rb += kLutRowBlock) {
    const std::int64_t rb_end = std::min(row_end, rb + kLutRowBlock);
    for (std::int64_t chunk = 0; chunk < stride; chunk += kLutChunk) {
      lut_tables<V>(panel, w.cols, W, chunk, table);
      auto run_rows = [&](auto rows_c, std::int64_t r) {
        constexpr int R = decltype(rows_c)::value;
        __m256 acc[R][V];
        for (int i = 0; i < R; ++i) {
          for (int v = 0; v < V; ++v) {
            acc[i][v] = chunk == 0 ? _mm256_setzero_ps() : _mm256_load_ps(sums + (r + i - rb) * kEntry + 8 * v);
          }
        }
        const std::uint8_t* digits = w.lut_digits.data() + r * stride + chunk;
        for (std::int64_t g = 0; g < kLutChunk; ++g) {
          for (int i = 0; i < R; ++i) {
            const float* e = table + (g * kLutEntries + digits[i * stride + g]) * kEntry;
            for (int v = 0; v < V; ++v) acc[i][v] = _mm256_add_ps(acc[i][v], _mm256_load_ps(e + 8 * v));
          }
        }
        for (int i = 0; i < R; ++i) {
          for (int v = 0; v < V; ++v) _mm256_store_ps(sums + (r + i - rb) * kEntry + 8 * v, acc[i][v]);
        }
      };
      std::int64_t r = rb;
      for (; r + 2 <= rb_end; r += 2) run_rows(std::integral_constant<int, 2>{}, r);
      if (r < rb_end) run_rows(std::integral_constant<int, 1>{}, r);
    }
    for (std::int64_t r = rb; r < rb_end; ++r) {
      const float* s = sums + (r - rb) * kEntry;
      float* out = y + r * p;
      const float scale = w.scales[r];
      for (std::int64_t i = 0; i < n; ++i) out[i] = scale * s[i];
    }
  }
}

void gemm_lut_t2f32__avx2_2x32(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                               std::int64_t row_begin, std::int64_t row_end,
                               std::int64_t unit_begin, std::int64_t unit_end) {
  const std::int64_t W = panel_width(p);
  for (std::int64_t u = unit_begin; u < unit_end; ++u) {
    const std::int64_t col0 = u * kLutUnit;
    const std::int64_t q = col0 / W, offset = col0 % W;
    const float* panel = x + q * w.cols * W + offset;
    const std::int64_t n = std::min(kLutUnit, p - col0);
    if (W - offset >= kLutUnit) {
      lut_unit<4>(w, panel, W, n, p, y + col0, row_begin, row_end);
    } else {
      lut_unit<2>(w, panel, W, n, p, y + col0, row_begin, row_end);
    }
  }
}

// The dense GEMM, blocked as a float GEMM is (ternary.h). Columns in chunks of
// kDenseColumns, rows in blocks of kDenseRowBlock, K in blocks of kDenseDepth: per (chunk,
// row block, depth block) the codes are decoded from the mask blocks into `a` (row-major,
// kDenseDepth floats per weight row, L2), then each 16-column strip of the chunk is copied
// into `b` (kDenseDepth x 16 contiguous floats: 16 KiB that stay in L1 while every 6-row
// tile of the block reads them; read in place from a 64-wide panel, a strip's rows are 256
// bytes apart and use a quarter of L1's sets), and 6 x 16 tiles of FMA accumulators run
// over it. Partial sums of earlier depth blocks are read back from y, which for one chunk
// and row block (96 x 512 floats) stays in L2; the last block writes scale * sum. The strip
// copy is also where an implicit matrix (gemm_dense_offsets: row k at base + offsets[k])
// is gathered, so a stride-1 convolution needs no im2col buffer.
// Short reductions (K <= kDenseShortK: one depth block, a panel is at most 16 KiB) are
// bound by their output instead: there each 6-row block runs over a whole panel's strips
// (a panel-major x's own panel, an implicit x's gathered first), so every output row is
// written in runs of 64 floats.
constexpr std::int64_t kDenseRowBlock = 96;
constexpr std::int64_t kDenseDepth = 256;
constexpr std::int64_t kDenseColumns = 512;
constexpr std::int64_t kDenseShortK = 64;
constexpr int kDenseTileRows = 6;

static_assert(kDenseShortK * kPanelWidth <= kDenseDepth * 16, "a short panel fits the strip buffer");

struct DenseBuffers {
  alignas(64) float a[kDenseRowBlock * kDenseDepth];
  alignas(64) float b[kDenseDepth * 16];
};

// Rows [r0, r1) and columns [k0, k0 + depth) of the codes as floats, from the mask blocks
// (k0 a multiple of 16; columns past `cols` decode as 0, their masks being empty).
void decode_rows(const PreparedTernary& w, std::int64_t r0, std::int64_t r1, std::int64_t k0,
                 std::int64_t depth, float* a) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const std::int64_t b0 = k0 / kMaskBlockWeights;
  const std::int64_t nb = (depth + kMaskBlockWeights - 1) / kMaskBlockWeights;
  for (std::int64_t r = r0; r < r1; ++r) {
    const MaskBlock* m = w.masks.data() + r * w.blocks + b0;
    float* row = a + (r - r0) * kDenseDepth;
    for (std::int64_t b = 0; b < nb; ++b) {
      const MaskBlock mb = m[b];
      const __m256 lo = _mm256_sub_ps(_mm256_and_ps(lane_mask(mb.plus & 0xFF), one),
                                      _mm256_and_ps(lane_mask(mb.minus & 0xFF), one));
      const __m256 hi = _mm256_sub_ps(_mm256_and_ps(lane_mask(mb.plus >> 8), one),
                                      _mm256_and_ps(lane_mask(mb.minus >> 8), one));
      _mm256_store_ps(row + 16 * b, lo);
      _mm256_store_ps(row + 16 * b + 8, hi);
    }
  }
}

// Where a tile reads and writes: the decoded rows, the strip (`b_stride` floats a step),
// the output and which depth block this is.
struct DenseTile {
  const float* a;
  const float* b;
  std::int64_t b_stride;
  std::int64_t depth;
  const float* scales;
  float* c;
  std::int64_t p;  // y's row stride
  const __m256i* masks;  // the column masks of a ragged strip
  bool full, first, last;
};

// Rows x 16 columns over `depth` steps. y (stride p) holds the partial sum unless `first`;
// the last depth block writes scale * sum. Ragged strips (`full` false) go through the
// column masks: masked stores are microcoded on Zen, so only the last strip pays for them.
template <int Rows>
inline void dense_tile(const DenseTile& t) {
  __m256 acc[Rows][2];
  float* c = t.c;
  for (int r = 0; r < Rows; ++r) {
    if (t.first) {
      acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    } else if (t.full) {
      acc[r][0] = _mm256_loadu_ps(c + r * t.p);
      acc[r][1] = _mm256_loadu_ps(c + r * t.p + 8);
    } else {
      acc[r][0] = _mm256_maskload_ps(c + r * t.p, t.masks[0]);
      acc[r][1] = _mm256_maskload_ps(c + r * t.p + 8, t.masks[1]);
    }
  }
  const float* b = t.b;
  for (std::int64_t i = 0; i < t.depth; ++i, b += t.b_stride) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int r = 0; r < Rows; ++r) {
      const __m256 av = _mm256_broadcast_ss(t.a + r * kDenseDepth + i);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    __m256 lo = acc[r][0], hi = acc[r][1];
    if (t.last) {
      const __m256 s = _mm256_broadcast_ss(t.scales + r);
      lo = _mm256_mul_ps(s, lo);
      hi = _mm256_mul_ps(s, hi);
    }
    if (t.full) {
      _mm256_storeu_ps(c + r * t.p, lo);
      _mm256_storeu_ps(c + r * t.p + 8, hi);
    } else {
      _mm256_maskstore_ps(c + r * t.p, t.masks[0], lo);
      _mm256_maskstore_ps(c + r * t.p + 8, t.masks[1], hi);
    }
  }
}

// Tiles for rows [r, r1) (r1 - r of them at most 6), the decoded rows of `t.a` starting at r.
inline void dense_rows(DenseTile t, std::int64_t rows) {
  switch (rows) {
    case 6: return dense_tile<6>(t);
    case 5: return dense_tile<5>(t);
    case 4: return dense_tile<4>(t);
    case 3: return dense_tile<3>(t);
    case 2: return dense_tile<2>(t);
    case 1: return dense_tile<1>(t);
    default: return;
  }
}

// The column masks of the strip starting at column j (16 columns, fewer at the end).
inline bool strip_masks(std::int64_t p, std::int64_t j, __m256i (&masks)[2]) {
  for (int v = 0; v < 2; ++v) {
    const auto left = static_cast<int>(std::clamp<std::int64_t>(p - j - 8 * v, 0, 8));
    masks[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  return p - j >= 16;
}

// Where the dense kernel reads x(k, j .. j + 15): a panel-major matrix (ternary.h), or an
// implicit one whose row k starts at base + offsets[k].
struct PanelColumns {
  const float* x;
  std::int64_t width, cols, p;
  const float* at(std::int64_t k, std::int64_t j) const {
    return x + (j / width * cols + k) * width + j % width;
  }
  const float* panel(std::int64_t q, std::int64_t, float*) const { return x + q * cols * width; }
};
struct OffsetColumns {
  const float* base;
  const std::int64_t* offsets;
  std::int64_t cols, p;
  const float* at(std::int64_t k, std::int64_t j) const { return base + offsets[k] + j; }
  // Panel q of width W gathered into buf (cols x W floats): the columns a strip reads, that
  // is up to p rounded up to 16.
  const float* panel(std::int64_t q, std::int64_t W, float* buf) const {
    const std::int64_t j0 = q * W, n = std::min(W, (p - j0 + 15) / 16 * 16);
    for (std::int64_t k = 0; k < cols; ++k) {
      const float* src = base + offsets[k] + j0;
      for (std::int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(buf + k * W + i, _mm256_loadu_ps(src + i));
    }
    return buf;
  }
};

template <class Columns>
void dense_blocked(const PreparedTernary& w, const Columns& x, std::int64_t p, float* y,
                   std::int64_t ldy, std::int64_t row_begin, std::int64_t row_end) {
  DenseBuffers buf;
  const std::int64_t k = w.cols;
  for (std::int64_t c0 = 0; c0 < p; c0 += kDenseColumns) {
    const std::int64_t c1 = std::min(p, c0 + kDenseColumns);
    for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kDenseRowBlock) {
      const std::int64_t r1 = std::min(row_end, r0 + kDenseRowBlock);
      for (std::int64_t k0 = 0; k0 < k; k0 += kDenseDepth) {
        const std::int64_t depth = std::min(kDenseDepth, k - k0);
        const bool first = k0 == 0, last = k0 + depth == k;
        decode_rows(w, r0, r1, k0, depth, buf.a);
        for (std::int64_t j = c0; j < c1; j += 16) {
          // A strip reads 16 columns: a panel's padding is zero, an implicit matrix's
          // caller provides them.
          for (std::int64_t i = 0; i < depth; ++i) {
            const float* src = x.at(k0 + i, j);
            _mm256_store_ps(buf.b + 16 * i, _mm256_loadu_ps(src));
            _mm256_store_ps(buf.b + 16 * i + 8, _mm256_loadu_ps(src + 8));
          }
          __m256i masks[2];
          const bool full = strip_masks(p, j, masks);
          for (std::int64_t r = r0; r < r1; r += kDenseTileRows) {
            dense_rows({buf.a + (r - r0) * kDenseDepth, buf.b, 16, depth, w.scales.data() + r,
                        y + r * ldy + j, ldy, masks, full, first, last},
                       std::min<std::int64_t>(kDenseTileRows, r1 - r));
          }
        }
      }
    }
  }
}

// Short reductions: per 6-row block, the strips of one W-wide panel of x (K x W floats,
// at most 16 KiB): a panel-major x's own panel, an implicit one's gathered into `buf.b`.
template <class Columns>
void dense_short(const PreparedTernary& w, const Columns& x, std::int64_t p, float* y,
                 std::int64_t ldy, std::int64_t row_begin, std::int64_t row_end) {
  DenseBuffers buf;
  const std::int64_t W = panel_width(p);
  const std::int64_t k = w.cols;
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kDenseRowBlock) {
    const std::int64_t r1 = std::min(row_end, r0 + kDenseRowBlock);
    decode_rows(w, r0, r1, 0, k, buf.a);
    for (std::int64_t q = 0; q < panel_count(p); ++q) {
      const float* panel = x.panel(q, W, buf.b);
      for (std::int64_t r = r0; r < r1; r += kDenseTileRows) {
        for (std::int64_t s = 0; s < W && q * W + s < p; s += 16) {
          const std::int64_t j = q * W + s;
          __m256i masks[2];
          const bool full = strip_masks(p, j, masks);
          dense_rows({buf.a + (r - r0) * kDenseDepth, panel + s, W, k, w.scales.data() + r,
                      y + r * ldy + j, ldy, masks, full, true, true},
                     std::min<std::int64_t>(kDenseTileRows, r1 - r));
        }
      }
    }
  }
}

void gemm_dense_t2f32__avx2_6x16(const PreparedTernary& w, const float* x, std::int64_t p,
                                 float* y, std::int64_t row_begin, std::int64_t row_end) {
  const PanelColumns columns{x, panel_width(p), w.cols, p};
  if (w.cols > kDenseShortK) return dense_blocked(w, columns, p, y, p, row_begin, row_end);
  dense_short(w, columns, p, y, p, row_begin, row_end);
}

void gemm_dense_offsets_t2f32__avx2_6x16(const PreparedTernary& w, const float* base,
                                         const std::int64_t* offsets, std::int64_t p, float* y,
                                         std::int64_t ldy, std::int64_t row_begin,
                                         std::int64_t row_end) {
  const OffsetColumns columns{base, offsets, w.cols, p};
  if (w.cols > kDenseShortK) return dense_blocked(w, columns, p, y, ldy, row_begin, row_end);
  dense_short(w, columns, p, y, ldy, row_begin, row_end);
}

const KernelSet kAvx2 = {Isa::kAvx2,
                         "gemv_t2f32__avx2_2x1",
                         gemv_t2f32__avx2_2x1,
                         "gemm_t2f32__avx2_1x64",
                         gemm_t2f32__avx2_1x64,
                         nullptr,
                         nullptr,
                         "gemm_lut_t2f32__avx2_2x32",
                         gemm_lut_t2f32__avx2_2x32,
                         "gemm_dense_t2f32__avx2_6x16",
                         gemm_dense_t2f32__avx2_6x16,
                         "gemm_dense_offsets_t2f32__avx2_6x16",
                         gemm_dense_offsets_t2f32__avx2_6x16};

}  // namespace

const KernelSet* avx2_kernels() { return &kAvx2; }

}  // namespace triton_rt::kernels

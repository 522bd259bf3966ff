// AVX-512 ternary kernels (compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl; only
// called after cpuid says the CPU has them, see dispatch.cpp).
//
// gemv: table lookup over groups of 4 activations, 16 rows per zmm (see the kernel).
// gemm: one 64-column panel (4 zmm) per step, one load+add per nonzero weight; alternate
// weights feed two accumulator sets for 8 independent chains.
#include <immintrin.h>

// GCC 12's AVX-512 headers build 256-bit halves from _mm256_undefined_*(), which its own
// -Wmaybe-uninitialized then flags in every caller (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/ternary.h"

namespace triton_rt::kernels {
namespace {

// A write mask straight from memory (kmovw k, m16: a load-port uop); compilers otherwise
// go through a general register (movzwl + kmovw k, r32), an extra uop on port 5, which
// the FMAs need.
inline __mmask16 load_mask(const std::uint16_t* p) {
#if defined(__GNUC__)
  __mmask16 k;
  asm("kmovw %1, %0" : "=Yk"(k) : "m"(*p));
  return k;
#else
  return *p;
#endif
}

// Table-lookup GEMV: for each group of 4 activations, the 16 sums of its subsets fill one
// zmm; a row's +1 weights in the group (4 bits) and its -1 weights (4 more) index that table
// with vpermps, so 16 rows x 4 columns cost two permutes and two adds instead of eight
// masked adds (measured 2.5x on a 784x256 layer). The index bytes of 16 rows are one
// 16-byte load (see PreparedTernary::nibbles).
void gemv_t2f32__avx512_16x4lut(const PreparedTernary& w, const float* x, float* y,
                                std::int64_t row_begin, std::int64_t row_end, float* scratch) {
  const std::int64_t groups = w.blocks * 4;
  // 64-byte aligned tables in the caller's scratch (gemv_scratch_floats leaves 16 floats of
  // room; a float buffer is at least 4-byte aligned).
  float* tables = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(scratch) + 63) &
                                           ~std::uintptr_t{63});
  // Bit j of lane i: whether subset i contains activation j.
  const __m512 bit0 = _mm512_set_ps(1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
  const __m512 bit1 = _mm512_set_ps(1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0);
  const __m512 bit2 = _mm512_set_ps(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
  const __m512 bit3 = _mm512_set_ps(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  for (std::int64_t g = 0; g < groups; ++g) {
    const float* xg = x + 4 * g;
    __m512 t = _mm512_mul_ps(bit0, _mm512_set1_ps(xg[0]));
    t = _mm512_fmadd_ps(bit1, _mm512_set1_ps(xg[1]), t);
    t = _mm512_fmadd_ps(bit2, _mm512_set1_ps(xg[2]), t);
    t = _mm512_fmadd_ps(bit3, _mm512_set1_ps(xg[3]), t);
    _mm512_store_ps(tables + 16 * g, t);
  }
  auto indices = [](const std::uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  };
  for (std::int64_t b = row_begin / kOcBlock; b * kOcBlock < row_end; ++b) {
    const std::uint8_t* nib = w.nibbles.data() + b * groups * kOcBlock;
    __m512 p[4], n[4];
    for (int u = 0; u < 4; ++u) p[u] = n[u] = _mm512_setzero_ps();
    std::int64_t g = 0;
    // Four groups per step into separate accumulators: eight independent add chains.
    for (; g + 4 <= groups; g += 4) {
      for (int u = 0; u < 4; ++u) {
        const __m512i i = indices(nib + (g + u) * kOcBlock);
        const __m512 t = _mm512_load_ps(tables + 16 * (g + u));
        p[u] = _mm512_add_ps(p[u], _mm512_permutexvar_ps(i, t));
        n[u] = _mm512_add_ps(n[u], _mm512_permutexvar_ps(_mm512_srli_epi32(i, 4), t));
      }
    }
    for (; g < groups; ++g) {
      const __m512i i = indices(nib + g * kOcBlock);
      const __m512 t = _mm512_load_ps(tables + 16 * g);
      p[0] = _mm512_add_ps(p[0], _mm512_permutexvar_ps(i, t));
      n[0] = _mm512_add_ps(n[0], _mm512_permutexvar_ps(_mm512_srli_epi32(i, 4), t));
    }
    const __m512 sum = _mm512_sub_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[1]), _mm512_add_ps(p[2], p[3])),
                                     _mm512_add_ps(_mm512_add_ps(n[0], n[1]), _mm512_add_ps(n[2], n[3])));
    // Rows of this block inside [row_begin, row_end) and the matrix.
    const std::int64_t first = std::max(row_begin, b * kOcBlock);
    const std::int64_t last = std::min({row_end, w.rows, (b + 1) * kOcBlock});
    const auto lanes = static_cast<__mmask16>(((1u << (last - first)) - 1u) << (first - b * kOcBlock));
    const __m512 scales = _mm512_maskz_loadu_ps(lanes, w.scales.data() + b * kOcBlock);
    _mm512_mask_storeu_ps(y + b * kOcBlock, lanes, _mm512_mul_ps(sum, scales));
  }
}

// One row against one panel of V zmm (16 * V columns): U = 8 / V accumulator sets take
// alternate weights, so about 8 independent add chains are in flight at any width.
template <int V>
inline void panel_row(const std::uint32_t* k, const std::uint32_t* end, const float* panel,
                      __m512 (&acc)[8 / V][V]) {
  constexpr int U = 8 / V;
  constexpr std::int64_t W = 16 * V;
  // Counts, not pointer comparisons: `k` is null when the matrix has no nonzero weight.
  const std::ptrdiff_t n = end - k;
  std::ptrdiff_t i = 0;
  for (; i + U <= n; i += U) {
    for (int u = 0; u < U; ++u) {
      const float* xr = panel + std::int64_t{k[i + u]} * W;
      for (int v = 0; v < V; ++v) acc[u][v] = _mm512_add_ps(acc[u][v], _mm512_loadu_ps(xr + 16 * v));
    }
  }
  for (; i < n; ++i) {
    const float* xr = panel + std::int64_t{k[i]} * W;
    for (int v = 0; v < V; ++v) acc[0][v] = _mm512_add_ps(acc[0][v], _mm512_loadu_ps(xr + 16 * v));
  }
}

// Panel by panel; within a panel, chunk by chunk of kChunkCols columns (L1-resident), every
// row of the range adds its chunk's weights into a per-row partial sum in `sums`.
template <int V>
void gemm_panels(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                 std::int64_t row_begin, std::int64_t row_end) {
  constexpr int U = 8 / V;
  constexpr std::int64_t W = 16 * V;
  // Narrow panels take several chunks at a time (a chunk of them is small).
  constexpr std::int64_t kStep = kPanelWidth / W >= 2 ? kPanelWidth / W : 1;
  const std::uint32_t* idx = w.indices.data();
  const std::int64_t stride = w.chunks + 1;
  alignas(64) float sums[kRowBlock * W];
  for (std::int64_t q = 0; q < panel_count(p); ++q) {
    const float* panel = x + q * w.cols * W;
    const std::int64_t j0 = q * W, n = std::min(W, p - j0);
    for (std::int64_t rb = row_begin; rb < row_end; rb += kRowBlock) {
      const std::int64_t rb_end = std::min(row_end, rb + kRowBlock);
      for (std::int64_t c = 0; c < w.chunks; c += kStep) {
        const std::int64_t c_end = std::min(w.chunks, c + kStep);
        for (std::int64_t r = rb; r < rb_end; ++r) {
          __m512 plus[U][V], minus[U][V];
          for (int u = 0; u < U; ++u) {
            for (int v = 0; v < V; ++v) plus[u][v] = minus[u][v] = _mm512_setzero_ps();
          }
          const std::uint32_t* pc = w.plus_cuts.data() + r * stride + c;
          const std::uint32_t* mc = w.minus_cuts.data() + r * stride + c;
          panel_row<V>(idx + pc[0], idx + pc[c_end - c], panel, plus);
          panel_row<V>(idx + mc[0], idx + mc[c_end - c], panel, minus);
          float* sum_row = sums + (r - rb) * W;
          for (int v = 0; v < V; ++v) {
            __m512 sum = _mm512_sub_ps(plus[0][v], minus[0][v]);
            for (int u = 1; u < U; ++u) sum = _mm512_add_ps(sum, _mm512_sub_ps(plus[u][v], minus[u][v]));
            if (c != 0) sum = _mm512_add_ps(sum, _mm512_loadu_ps(sum_row + 16 * v));
            _mm512_storeu_ps(sum_row + 16 * v, sum);
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

void gemm_t2f32__avx512_1x64(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                             std::int64_t row_begin, std::int64_t row_end) {
  switch (panel_width(p)) {
    case 16:
      return gemm_panels<1>(w, x, p, y, row_begin, row_end);
    case 32:
      return gemm_panels<2>(w, x, p, y, row_begin, row_end);
    case 48:
      return gemm_panels<3>(w, x, p, y, row_begin, row_end);
    default:
      return gemm_panels<4>(w, x, p, y, row_begin, row_end);
  }
}

// Register-blocked over output channels: 16 rows (one zmm of decoded weights per column k)
// x 16 columns (16 zmm accumulators), one FMA with a broadcast activation per (k, column),
// so each decoded weight vector serves 16 columns and each activation 16 rows. Zero weights
// cost as much as nonzero ones here, but the FMA stream runs near the core's peak, which the
// sparse row-at-a-time kernel does not reach on small or ragged outputs.
// `column(q, k)` is where x(k, 16q .. 16q + 15) lie: a panel's row, or an implicit matrix's
// row at its offset. Rows [row_begin, row_end) are computed in whole blocks of 16; each
// block's scaled 16 x 16 tile (tile[j * 16 + i]: column j, row i) goes to
// sink(tile, j0, n, r0, i_begin, i_end): columns j0..j0+n-1, rows r0 + i for i in
// [i_begin, i_end) (a range that starts or ends inside a block stores only its rows).
template <class Column, class Sink>
inline void gemm_oc_rows(const PreparedTernary& w, const Column& column, std::int64_t p,
                         const Sink& sink, std::int64_t row_begin, std::int64_t row_end) {
  // Denormal activations (deep layers of a randomly initialized network) would make every
  // FMA a microcode assist, several times slower; flush them to zero for this call.
  const unsigned int saved_csr = _mm_getcsr();
  _mm_setcsr(saved_csr | 0x8040u);  // FTZ | DAZ
  const std::int64_t k_count = w.cols;
  const __m512 one = _mm512_set1_ps(1.0f), neg = _mm512_set1_ps(-1.0f);
  alignas(64) float tile[kOcPanel * kOcBlock];
  const std::int64_t panels = (p + kOcPanel - 1) / kOcPanel;
  row_end = std::min(row_end, w.rows);
  const std::int64_t block_begin = row_begin / kOcBlock;
  const std::int64_t block_end = (row_end + kOcBlock - 1) / kOcBlock;
  for (std::int64_t q = 0; q < panels; ++q) {
    const std::int64_t j0 = q * kOcPanel, n = std::min(kOcPanel, p - j0);
    for (std::int64_t b = block_begin; b < block_end; ++b) {
      const MaskBlock* m = w.colmasks.data() + b * k_count;
      // Named accumulators, not an array: GCC 12 kept the array in memory across the k loop
      // (16 stack stores per k in the disassembly). The stores cost nothing measurable on
      // convolution shapes (92-106 GMAC/s either way on a Zen 5 core, near its FMA peak) but
      // 15% on 768 rows x 197 columns (80 -> 94 GMAC/s), a ViT linear layer's shape.
#define TRITON_COLUMNS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define TRITON_ZERO(j) __m512 acc##j = _mm512_setzero_ps();
#define TRITON_FMA(j) acc##j = _mm512_fmadd_ps(wv, _mm512_set1_ps(xr[j]), acc##j);
#define TRITON_STORE(j) _mm512_store_ps(tile + j * kOcBlock, _mm512_mul_ps(acc##j, sv));
      static_assert(kOcPanel == 16, "TRITON_COLUMNS names one accumulator per panel column");
      TRITON_COLUMNS(TRITON_ZERO)
      for (std::int64_t k = 0; k < k_count; ++k) {
        const __m512 wv = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(load_mask(&m[k].plus), one),
                                             load_mask(&m[k].minus), neg);
        const float* xr = column(q, k);
        TRITON_COLUMNS(TRITON_FMA)
      }
      const std::int64_t r0 = b * kOcBlock, rows = std::min(kOcBlock, w.rows - r0);
      const __mmask16 valid = static_cast<__mmask16>((1u << rows) - 1u);
      const __m512 sv = _mm512_maskz_loadu_ps(valid, w.scales.data() + r0);
      TRITON_COLUMNS(TRITON_STORE)
#undef TRITON_STORE
#undef TRITON_FMA
#undef TRITON_ZERO
#undef TRITON_COLUMNS
      sink(tile, j0, n, r0, std::max(r0, row_begin) - r0, std::min(r0 + kOcBlock, row_end) - r0);
    }
  }
  _mm_setcsr(saved_csr);
}

// Channel-major outputs: row r at y + r * ldy (column j at [j]), through a transpose of
// each tile.
struct ChannelMajorSink {
  float* y;
  std::int64_t ldy;
  void operator()(const float* tile, std::int64_t j0, std::int64_t n, std::int64_t r0,
                  std::int64_t i_begin, std::int64_t i_end) const {
    for (std::int64_t i = i_begin; i < i_end; ++i) {
      float* out = y + (r0 + i) * ldy + j0;
      for (std::int64_t j = 0; j < n; ++j) out[j] = tile[j * kOcBlock + i];
    }
  }
};

void gemm_oc_t2f32__avx512_16x16(const PreparedTernary& w, const float* x, std::int64_t p,
                                 float* y, std::int64_t block_begin, std::int64_t block_end) {
  const std::int64_t k_count = w.cols;
  const auto panel_row = [x, k_count](std::int64_t q, std::int64_t k) {
    return x + (q * k_count + k) * kOcPanel;
  };
  gemm_oc_rows(w, panel_row, p, ChannelMajorSink{y, p}, block_begin * kOcBlock, block_end * kOcBlock);
}

// Column-major outputs (a linear layer's tokens as rows of y): column j at y + j * ldy,
// row r at [r], plus bias[r] where bias is not null. A tile column is 16 consecutive
// outputs there, so each goes out as one masked vector store: no transpose.
struct ColumnMajorSink {
  float* y;
  std::int64_t ldy;
  const float* bias;
  void operator()(const float* tile, std::int64_t j0, std::int64_t n, std::int64_t r0,
                  std::int64_t i_begin, std::int64_t i_end) const {
    if (i_begin >= i_end) return;
    const __mmask16 rows = static_cast<__mmask16>(((1u << i_end) - 1u) & ~((1u << i_begin) - 1u));
    const __m512 b = bias != nullptr ? _mm512_maskz_loadu_ps(rows, bias + r0) : _mm512_setzero_ps();
    for (std::int64_t j = 0; j < n; ++j) {
      _mm512_mask_storeu_ps(y + (j0 + j) * ldy + r0, rows, _mm512_add_ps(_mm512_load_ps(tile + j * kOcBlock), b));
    }
  }
};

void gemm_oc_columns_t2f32__avx512_16x16(const PreparedTernary& w, const float* x, std::int64_t p,
                                         float* y, std::int64_t ldy, const float* bias,
                                         std::int64_t block_begin, std::int64_t block_end) {
  const std::int64_t k_count = w.cols;
  const auto panel_row = [x, k_count](std::int64_t q, std::int64_t k) {
    return x + (q * k_count + k) * kOcPanel;
  };
  gemm_oc_rows(w, panel_row, p, ColumnMajorSink{y, ldy, bias}, block_begin * kOcBlock,
               block_end * kOcBlock);
}

// The same over an implicit matrix (GemmOffsetsFn): x(k, j) = base[offsets[k] + j], so a
// stride-1 convolution reads its shifted input planes without an im2col buffer.
void gemm_oc_offsets_t2f32__avx512_16x16(const PreparedTernary& w, const float* base,
                                         const std::int64_t* offsets, std::int64_t p, float* y,
                                         std::int64_t ldy, std::int64_t row_begin,
                                         std::int64_t row_end) {
  const auto shifted_row = [base, offsets](std::int64_t q, std::int64_t k) {
    return base + offsets[k] + q * kOcPanel;
  };
  gemm_oc_rows(w, shifted_row, p, ChannelMajorSink{y, ldy}, row_begin, row_end);
}

const KernelSet kAvx512 = {Isa::kAvx512, "gemv_t2f32__avx512_16x4lut", gemv_t2f32__avx512_16x4lut,
                           "gemm_t2f32__avx512_1x64", gemm_t2f32__avx512_1x64,
                           "gemm_oc_t2f32__avx512_16x16", gemm_oc_t2f32__avx512_16x16,
                           nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, false,
                           "gemm_oc_offsets_t2f32__avx512_16x16", gemm_oc_offsets_t2f32__avx512_16x16,
                           "gemm_oc_columns_t2f32__avx512_16x16", gemm_oc_columns_t2f32__avx512_16x16};

}  // namespace

const KernelSet* avx512_kernels() { return &kAvx512; }

}  // namespace triton_rt::kernels

// Ternary matrix kernels (float32 activations) and their run-time ISA dispatch.
//
// Two forms of one weight matrix are prepared at load time from its 2-bit rows:
//  - mask blocks: for each 16 weights, a 16-bit "+1" mask and a 16-bit "-1" mask (still 2
//    bits per weight). The GEMV kernels add or subtract activations under these masks,
//    which keeps batch-1 inference bound by the small weight stream.
//  - sparse lists: per row, the column indices of +1 weights then of -1 weights. The GEMM
//    kernels (activations laid out [K, P], P = batch or output pixels, vectorized over P)
//    add one activation row per nonzero weight, so zero weights cost nothing.
// Kernel names follow `<op>_<weights><activations>__<isa>_<tile>`; each ISA has a scalar
// reference twin the tests compare against.
#pragma once

#include <cstdint>
#include <vector>

#include "format/model.h"

namespace triton_rt::kernels {

// kAmx is AVX-512 plus AMX bf16 tiles, which only the convolution path uses (ternary_tiles.h).
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };
const char* isa_name(Isa isa);

// An output clamp that kernels fuse into their write-back (other activations run after).
enum class Clamp { kNone, kRelu, kRelu6 };

struct MaskBlock {
  std::uint16_t plus;
  std::uint16_t minus;
};
static_assert(sizeof(MaskBlock) == 4, "a mask block is as small as the 2-bit block it mirrors");
inline constexpr std::int64_t kMaskBlockWeights = 16;
// Columns per GEMM chunk: a chunk of a 64-wide panel is 32 KiB and stays in L1 while every
// row of the range reads it (measured ~2x over L2-resident panels at K = 576).
inline constexpr std::int64_t kChunkCols = 128;
// Rows per GEMM row block: their partial sums (64 rows x 64 floats = 16 KiB) stay in L1 next to
// the chunk instead of streaming through it.
inline constexpr std::int64_t kRowBlock = 64;

struct PreparedTernary {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t blocks = 0;            // mask blocks per row
  std::vector<MaskBlock> masks;       // rows * blocks
  std::vector<std::uint32_t> starts;  // rows + 1 offsets into `indices`
  std::vector<std::uint32_t> splits;  // rows: where a row's -1 indices begin
  std::vector<std::uint32_t> indices;
  std::vector<float> scales;          // rows
  // K blocking for the GEMM: the columns are cut into chunks of kChunkCols, and for row r
  // and chunk c, plus_cuts/minus_cuts[r * (chunks + 1) + c] is where that chunk's +1 / -1
  // indices begin in `indices` (each list is in ascending column order).
  std::int64_t chunks = 0;
  std::vector<std::uint32_t> plus_cuts;
  std::vector<std::uint32_t> minus_cuts;
  // Output-channel masks for the register-blocked GEMM (gemm_oc): rows in blocks of 16
  // (row_blocks = ceil(rows / 16)); colmasks[b * cols + k] holds, for column k, bit i set in
  // `plus` / `minus` when row 16 * b + i has weight +1 / -1 (rows past `rows` are 0).
  std::int64_t row_blocks = 0;
  std::vector<MaskBlock> colmasks;
  // Table-lookup GEMV form: columns in groups of 4, rows in blocks of 16;
  // nibbles[(b * groups + g) * 16 + i] holds, for row 16 * b + i and columns 4g..4g+3, the
  // +1 weights as bits 0-3 and the -1 weights as bits 4-7 (groups = blocks * 4).
  std::vector<std::uint8_t> nibbles;
  // Base-3 GEMM form (gemm_lut): columns in groups of 4, each group's codes as one digit
  // string d = sum_i (code[4g + i] + 1) * 3^i (0..80; columns past `cols` count as 0);
  // lut_digits[r * lut_stride + g] for g < lut_stride, the groups rounded up to whole
  // chunks of kLutChunk (padding groups hold kLutZeroDigit).
  std::int64_t lut_stride = 0;
  std::vector<std::uint8_t> lut_digits;
  // Float form, filled by decode_ternary (only for what runs it): decoded[r * cols + k] =
  // scales[r] * code[r, k], row-major.
  std::vector<float> decoded;
  std::int64_t nonzeros() const { return static_cast<std::int64_t>(indices.size()); }
};

PreparedTernary prepare_ternary(const TernaryMatrix& m);

// Convolutions with reductions of at most this many inputs run, where the ISA has the
// register-blocked gemm_oc (AVX-512), as a float GEMM over the decoded weights instead:
// gemm_oc writes each 16 x 16 tile through a transpose, which a short reduction does not
// amortize (MobileNetV2's 16 -> 96 expansion over 112 x 112 ran at 15 GMAC/s on a Zen 5
// core), while the float GEMM's 8 x 32 tiles store rows of outputs directly.
inline constexpr std::int64_t kDecodedMaxCols = 256;
// Fills w.decoded (see PreparedTernary) from w's colmasks and scales.
void decode_ternary(PreparedTernary& w);

// y[r] = scales[r] * dot(code row r, x) for r in [row_begin, row_end).
// x holds blocks * 16 floats (zero past cols). `scratch` holds gemv_scratch_floats(w) floats
// the kernel may overwrite (the caller's, so that concurrent calls never share one).
using GemvFn = void (*)(const PreparedTernary& w, const float* x, float* y,
                        std::int64_t row_begin, std::int64_t row_end, float* scratch);
// The scratch a GemvFn needs: room for the table-lookup kernel's 16 subset sums per group of
// 4 activations, 64-byte aligned inside the buffer.
inline std::int64_t gemv_scratch_floats(const PreparedTernary& w) { return w.blocks * 4 * 16 + 16; }
// y[r, j] = scales[r] * sum_k code[r, k] * x(k, j) for rows [row_begin, row_end); y is
// [rows, P] row-major. x is "panel-major": columns in panels of W = panel_width(P) (16, 32,
// 48 or 64), panel q holding x(k, q*W + i) at x[(q * cols + k) * W + i], the last panel
// zero-padded. A panel's activations are contiguous (cols * 4W bytes, L2-resident), so the
// per-weight loads stream instead of striding a whole row of P apart (which thrashed L1
// sets at P = 1024), and a small P (a 4x4 feature map) does not pay for 64 columns.
using GemmFn = void (*)(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                        std::int64_t row_begin, std::int64_t row_end);

inline constexpr std::int64_t kPanelWidth = 64;  // the widest panel
inline std::int64_t panel_width(std::int64_t p) {
  return p >= kPanelWidth ? kPanelWidth : (p + 15) / 16 * 16;
}
inline std::int64_t panel_count(std::int64_t p) {
  return p <= 0 ? 0 : (p + panel_width(p) - 1) / panel_width(p);
}
// Floats of a panel-major buffer for a [k, p] matrix.
inline std::int64_t panel_floats(std::int64_t k, std::int64_t p) {
  return panel_count(p) * k * panel_width(p);
}
// Copies a row-major [k, p] matrix (row stride `ld`) into panel-major form.
void pack_panels(const float* src, std::int64_t k, std::int64_t p, std::int64_t ld, float* dst);
// Copies a row-major [p, k] matrix (its transpose) into panel-major form of [k, p].
void pack_panels_transposed(const float* src, std::int64_t p, std::int64_t k, float* dst);
// The same for rows [row_begin, row_end) of the [k, p] result only (threads split k).
void pack_panels_transposed(const float* src, std::int64_t p, std::int64_t k, float* dst,
                            std::int64_t row_begin, std::int64_t row_end);

// Register-blocked GEMM over output channels: y[r, j] = scales[r] * sum_k code[r, k] * x(k, j)
// for the rows of row blocks [block_begin, block_end) (16 rows each, the last one clipped at
// `rows`); y is [rows, P] row-major. x is in panels of kOcPanel columns: panel q holds
// x(k, 16q + i) at x[(q * cols + k) * 16 + i], the last panel zero-padded. Each decoded
// column of 16 weights ({-1, 0, +1} in one zmm) is reused across the 16 columns of a panel.
using GemmOcFn = void (*)(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                          std::int64_t block_begin, std::int64_t block_end);
// gemm_oc with the output transposed: y[j * ldy + r] = (W x)(r, j) + bias[r] (bias may be
// null) for the rows of row blocks [block_begin, block_end) and columns j < p; x in panels
// as for GemmOcFn. A linear layer's tokens are the columns, so y is its row-major output.
using GemmOcColumnsFn = void (*)(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                                 std::int64_t ldy, const float* bias, std::int64_t block_begin,
                                 std::int64_t block_end);
inline constexpr std::int64_t kOcPanel = 16;
inline constexpr std::int64_t kOcBlock = 16;
inline std::int64_t oc_panel_floats(std::int64_t k, std::int64_t p) {
  return (p + kOcPanel - 1) / kOcPanel * kOcPanel * k;
}
// Copies rows [row_begin, row_end) of the [k, p] transpose of a row-major [p, k] matrix into
// the 16-column panels gemm_oc reads (a linear layer's tokens as columns).
void pack_oc_panels_transposed(const float* src, std::int64_t p, std::int64_t k, float* dst,
                               std::int64_t row_begin, std::int64_t row_end);

// Base-3 table GEMM (AVX2): y[r, j] as GemmFn computes it, for rows [row_begin, row_end)
// and the columns of units [unit_begin, unit_end), a unit being kLutUnit columns of P
// (lut_units(p) of them; the last one clipped at p). x is panel-major as for GemmFn. For a
// chunk of kLutChunk groups of 4 columns of K, the 81 signed sums of each group's 4
// activation rows are tabulated once (a unit's columns wide) and every row then adds one
// table entry per group: one load and one add per 4 weights, whatever their values, where
// the sparse kernel does both per nonzero weight. Each row's sum runs over the chunks in
// order, so results do not depend on how rows and units are split over threads.
using GemmLutFn = void (*)(const PreparedTernary& w, const float* x, std::int64_t p, float* y,
                           std::int64_t row_begin, std::int64_t row_end, std::int64_t unit_begin,
                           std::int64_t unit_end);
inline constexpr std::int64_t kLutUnit = 32;
inline constexpr std::int64_t kLutChunk = 8;
inline constexpr std::uint8_t kLutZeroDigit = 40;
// Where the table kernel beats the sparse one on AVX2 (Zen 3, measured per layer shape):
// from 96 output channels and 32 inputs; fewer rows do not pay for building the tables
// (ResNet's 64 x 576 at P = 1024: 1.12 against 1.00 ms), and shorter reductions waste most
// of a chunk (MobileNetV2's 96 x 16 at P = 12544: 1.30 against 0.82 ms).
inline constexpr std::int64_t kLutMinRows = 96;
inline constexpr std::int64_t kLutMinCols = 32;  // 1 + 3 + 9 + 27: four zero codes
inline std::int64_t lut_units(std::int64_t p) { return (p + kLutUnit - 1) / kLutUnit; }

// Dense GEMM (AVX2): y[r, j] as GemmFn computes it (same signature and panel-major x), as a
// float GEMM over the codes decoded from the mask blocks a block at a time: 6 rows x 16
// columns of FMA accumulators, each broadcast code (+-1 or 0) used for 16 columns and each
// activation vector for 6 rows, blocked over columns, rows and K so that the decoded codes
// stay in L2 and the activation strip in L1 (ternary_avx2.cpp). It does every multiply-add,
// zeros included, but at FMA rate with no index stream, which beats the sparse kernel
// wherever the table GEMM is not used (fewer than kLutMinRows rows or kLutMinCols inputs).
// Like any dense float product, an infinite activation makes every row NaN (0 x inf), where
// the sparse kernel leaves rows with a zero weight there finite. Single thread, Zen 3,
// uniform random codes (2/3 nonzero), sparse -> dense: ResNet's 64x576 at P = 1024
// 1.24 -> 0.94 ms, MobileNetV2's 144x24 at P = 3136 0.36 -> 0.34 ms, 64x384 at P = 196
// 0.17 -> 0.15 ms.

// The dense GEMM over an implicit activation matrix: x(k, j) = base[offsets[k] + j] for
// k < cols, j < p, where every row can be read 16 columns at a time up to p rounded up to
// 16 (the caller keeps those extra columns finite); output row r goes to y + r * ldy. A
// stride-1 convolution over a zero-padded input is such a matrix (row k = (c, i, j) starts
// at channel c's padded plane shifted by (i, j)), so its columns need no im2col buffer; a
// 1x1 one reads the input as is. A range of columns is the same call with base and y
// advanced to its first column.
using GemmOffsetsFn = void (*)(const PreparedTernary& w, const float* base,
                               const std::int64_t* offsets, std::int64_t p, float* y,
                               std::int64_t ldy, std::int64_t row_begin, std::int64_t row_end);

struct KernelSet {
  Isa isa;
  const char* gemv_name;
  GemvFn gemv;
  const char* gemm_name;
  GemmFn gemm;
  // Null where the ISA has no register-blocked variant (the executor then uses `gemm`).
  const char* gemm_oc_name = nullptr;
  GemmOcFn gemm_oc = nullptr;
  // Null where the ISA has no table GEMM; the executor uses it for layers of at least
  // kLutMinRows output channels (per group) and kLutMinCols inputs, where the tables pay.
  const char* gemm_lut_name = nullptr;
  GemmLutFn gemm_lut = nullptr;
  // Null where the ISA has no dense GEMM; the executor uses it wherever the table GEMM is not
  // chosen (a property of the shape only).
  const char* gemm_dense_name = nullptr;
  GemmFn gemm_dense = nullptr;
  // The dense GEMM over an implicit matrix (GemmOffsetsFn); null where gemm_dense is.
  const char* gemm_dense_offsets_name = nullptr;
  GemmOffsetsFn gemm_dense_offsets = nullptr;
  // Whether convolutions run on AMX tiles (ternary_tiles.h) where their shape allows.
  bool tile_conv = false;
  // gemm_oc over an implicit matrix (GemmOffsetsFn): what stride-1 convolutions with many
  // positions run where the ISA has gemm_oc, instead of an im2col buffer; null elsewhere.
  const char* gemm_oc_offsets_name = nullptr;
  GemmOffsetsFn gemm_oc_offsets = nullptr;
  // gemm_oc writing column-major outputs with the bias added (GemmOcColumnsFn): what linear
  // layers run where the ISA has gemm_oc; null elsewhere.
  const char* gemm_oc_columns_name = nullptr;
  GemmOcColumnsFn gemm_oc_columns = nullptr;
};

// The scalar reference of every gemm_oc variant.
void gemm_oc_t2f32__scalar_16x16(const PreparedTernary& w, const float* x, std::int64_t p,
                                 float* y, std::int64_t block_begin, std::int64_t block_end);

// The kernels of one ISA level; levels the CPU lacks fall back to the best it has.
const KernelSet& kernel_set(Isa isa);
// What the CPU supports (cpuid).
Isa detected_isa();
// The level to use: detected_isa(), lowered by TRITON_RT_FORCE_ISA=scalar|avx2|avx512|amx.
Isa selected_isa();

// The per-ISA sets; those not compiled in (or not supported here) return nullptr.
const KernelSet* scalar_kernels();
const KernelSet* avx2_kernels();
const KernelSet* avx512_kernels();
const KernelSet* amx_kernels();  // the AVX-512 set with tile convolutions

}  // namespace triton_rt::kernels

// Linear, conv2d and matmul: the ops that carry weights (ternary or float).
//
// Ternary linear: batch rows < kGemmMinRows run the GEMV kernel per row (batch-1 latency).
// With AMX tiles (kernels/ternary_tiles.h), 16 rows or more run as a 1x1 tile convolution
// over the rows (ops_conv_tiles.cpp); otherwise rows are transposed to [K, rows] and run
// through the GEMM kernel, vectorized over rows. Conv2d: tile convolutions where the shape
// fits, else the same GEMM over im2col columns [Cg*kh*kw, OH*OW] (1x1 stride-1
// convolutions read the input directly). Depthwise convolutions run the per-ISA kernels of
// kernels/depthwise.h (dilated ones a direct loop), since their GEMM would have a single row
// per group. Float weights and MatMul use kernels/float_gemm.h. Bias and ReLU/ReLU6 are
// fused where a kernel writes back; other activations run after.
//
// Where the ISA has the base-3 table GEMM (gemm_lut, AVX2), layers of at least kLutMinRows
// output channels per group and kLutMinCols inputs use it instead of the sparse kernel, split over units of 32
// columns (and rows where the units alone leave threads idle): its tables are built per
// unit for all the rows a call covers, so splitting rows finely would rebuild them.
//
// Threads (executor/split.h): every loop states its work, so a small layer runs on the
// caller alone and a large one on as many threads as it pays for. Batch-1 layers split over
// output rows (16 at a time for the GEMV), convolutions over output channels after an im2col
// split over its rows; a batch at least as large as the pool gives each thread whole images.
#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "executor/ops.h"
#include "executor/split.h"
#include "kernels/depthwise.h"
#include "kernels/float_gemm.h"

namespace triton_rt {
namespace {

constexpr std::int64_t kGemmMinRows = 4;
// Rows from which a linear layer with AMX tiles uses them (a tile holds 16 positions).
constexpr std::int64_t kTileMinRows = 16;
// A GEMM call writes at most about this many output floats (128 KiB, inside L2 on every
// x86 core we run on) before the epilogue (bias, activation) reads them back: on a large
// feature map, a whole layer's output written first and then re-read costs a round trip
// to memory (MobileNetV2's 96 x 16 at P = 12544 writes 4.8 MB).
constexpr std::int64_t kEpilogueFloats = 32 * 1024;

// Runs fn(row_begin, row_end) over [begin, end) in chunks of whole `unit`s of rows whose
// output (`p` floats a row) stays near kEpilogueFloats. The kernels compute `unit` rows per
// pass over the input anyway, so chunking adds no input traffic.
template <class Fn>
void for_cached_rows(std::int64_t begin, std::int64_t end, std::int64_t p, std::int64_t unit, const Fn& fn) {
  const std::int64_t units = std::max<std::int64_t>(1, kEpilogueFloats / std::max<std::int64_t>(1, p * unit));
  const std::int64_t step = units * unit;
  for (std::int64_t r = begin; r < end; r += step) fn(r, std::min(end, r + step));
}

void epilogue(float* row, std::int64_t n, float bias, Activation act) {
  if (bias != 0.0f) {
    for (std::int64_t i = 0; i < n; ++i) row[i] += bias;
  }
  apply_activation(act, row, n);
}

// C[m, n] = A[m, k] * B[k, n] (row-major, leading dimensions k, n, n) with the float kernel of
// the context's ISA level.
void float_gemm(const OpContext& ctx, const float* a, const float* b, float* c, std::int64_t m,
                std::int64_t k, std::int64_t n) {
  kernels::float_gemm_kernel(ctx.kernels.isa).run({a, k, b, n, c, n, m, k, n});
}

// Whether a ternary GEMM of `rows` output channels (per group) over K = k runs the table
// kernel: a property of the shape, never of the split, so results are the same at every
// thread count.
bool use_lut(const OpContext& ctx, std::int64_t rows, std::int64_t k) {
  return ctx.kernels.gemm_lut != nullptr && rows >= kernels::kLutMinRows && k >= kernels::kLutMinCols;
}

// The ternary GEMM kernel where the table kernel is not used: the dense one where the ISA
// has it (kernels/ternary.h), else the sparse one. A property of the shape only, like
// use_lut.
kernels::GemmFn ternary_gemm(const OpContext& ctx) {
  return ctx.kernels.gemm_dense != nullptr ? ctx.kernels.gemm_dense : ctx.kernels.gemm;
}

// The table GEMM of weight rows [first, first + count) over the p columns of the
// panel-major x (K = k) into y (row r at y + r * p), then epi(row, column_begin, column_end)
// on what each task wrote. Tasks are units of columns, times row parts where units alone
// leave threads idle (parts of at least 128 rows); inline when `inline_only` or the cost pays
// for one thread.
template <class Epi>
void gemm_lut_split(const OpContext& ctx, bool inline_only, const float* x, std::int64_t k,
                    std::int64_t p, float* y, std::int64_t first, std::int64_t count,
                    const Epi& epi) {
  const double cost = work_ns(ctx, Work::kTernaryGemm, static_cast<double>(k) * p * count);
  const std::int64_t units = kernels::lut_units(p);
  const std::int64_t threads = inline_only ? 1 : ctx.pool.threads_for(cost);
  const std::int64_t parts = std::clamp<std::int64_t>((2 * threads + units - 1) / units, 1,
                                                      std::max<std::int64_t>(1, count / 128));
  const std::int64_t per = (count + parts - 1) / parts;
  auto task = [&](std::int64_t t) {
    const std::int64_t u = t % units, part = t / units;
    const std::int64_t r0 = first + part * per, r1 = first + std::min(count, (part + 1) * per);
    if (r0 >= r1) return;
    ctx.kernels.gemm_lut(*ctx.ternary, x, p, y, r0, r1, u, u + 1);
    const std::int64_t c0 = u * kernels::kLutUnit, c1 = std::min(p, c0 + kernels::kLutUnit);
    for (std::int64_t o = r0; o < r1; ++o) epi(o, c0, c1);
  };
  if (threads <= 1) {
    for (std::int64_t t = 0; t < units * parts; ++t) task(t);
    return;
  }
  ctx.pool.parallel_for_cost(units * parts, 1, cost, [&](std::int64_t b, std::int64_t e, int) {
    for (std::int64_t t = b; t < e; ++t) task(t);
  });
}

// dst[c, r] = src[r, c] for dst rows (source columns) [c_begin, c_end), in 32x32 tiles of
// 4x4 blocks moved through SSE registers (every x86-64 CPU has SSE2), single floats at the
// edges: the linear layers' results come back through here (ViT's MLP: 600k floats a layer).
void transpose(const float* src, std::int64_t rows, std::int64_t cols, float* dst,
               std::int64_t c_begin, std::int64_t c_end) {
  constexpr std::int64_t kTile = 32;
  for (std::int64_t r0 = 0; r0 < rows; r0 += kTile) {
    for (std::int64_t c0 = c_begin; c0 < c_end; c0 += kTile) {
      const std::int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(c_end, c0 + kTile);
      std::int64_t r = r0;
#if defined(__SSE2__)
      for (; r + 4 <= r1; r += 4) {
        const float* s = src + r * cols;
        std::int64_t c = c0;
        for (; c + 4 <= c1; c += 4) {
          __m128 a = _mm_loadu_ps(s + c), b = _mm_loadu_ps(s + cols + c);
          __m128 d = _mm_loadu_ps(s + 2 * cols + c), e = _mm_loadu_ps(s + 3 * cols + c);
          _MM_TRANSPOSE4_PS(a, b, d, e);
          _mm_storeu_ps(dst + c * rows + r, a);
          _mm_storeu_ps(dst + (c + 1) * rows + r, b);
          _mm_storeu_ps(dst + (c + 2) * rows + r, d);
          _mm_storeu_ps(dst + (c + 3) * rows + r, e);
        }
        for (; c < c1; ++c) {
          for (std::int64_t i = 0; i < 4; ++i) dst[c * rows + r + i] = s[i * cols + c];
        }
      }
#endif
      for (; r < r1; ++r) {
        for (std::int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

// The whole transpose, split over the pool by destination rows (each written by one thread).
void transpose(const OpContext& ctx, const float* src, std::int64_t rows, std::int64_t cols,
               float* dst) {
  const double row_ns = work_ns(ctx, Work::kGather, static_cast<double>(rows));
  split(ctx, cols, 32, row_ns, [&](std::int64_t b, std::int64_t e) {
    transpose(src, rows, cols, dst, b, e);
  });
}

float bias_at(const TensorData* bias, std::int64_t i) { return bias ? bias->values[i] : 0.0f; }

// Output-channel blocks [b, e) of gemm_oc over `panels` (16-column panels of p columns) into
// y ([channels, p] row-major), in runs whose output stays cached for the epilogue: the
// ungrouped convolutions (output pixels as columns) that do not run implicitly.
void gemm_oc_blocks(const OpContext& ctx, const float* panels, std::int64_t p, float* y,
                    std::int64_t channels, const TensorData* bias, Activation act, std::int64_t b,
                    std::int64_t e) {
  for_cached_rows(b, e, p * kernels::kOcBlock, 1, [&](std::int64_t b0, std::int64_t b1) {
    ctx.kernels.gemm_oc(*ctx.ternary, panels, p, y, b0, b1);
    for (std::int64_t o = b0 * kernels::kOcBlock; o < std::min(channels, b1 * kernels::kOcBlock); ++o) {
      epilogue(y + o * p, p, bias_at(bias, o), act);
    }
  });
}

}  // namespace

namespace {

// allocate_linear_output, zeroed or not (allocate_output: the float paths write every
// element).
Status linear_output(const Tensor& x, std::int64_t k, std::int64_t o_count, const OpContext& ctx,
                     Tensor& out, std::int64_t& rows, bool zeroed) {
  if (x.rank() < 1 || x.dim(-1) != k) {
    return Status::error("linear expects inputs [..., " + std::to_string(k) + "], got " +
                         shape_string(x.shape));
  }
  rows = x.numel() / k;
  std::vector<std::int64_t> shape = x.shape;
  shape.back() = o_count;
  return zeroed ? allocate(out, shape, ctx.max_elements) : allocate_output(out, shape, ctx.max_elements);
}

}  // namespace

Status allocate_linear_output(const Tensor& x, std::int64_t k, std::int64_t o_count,
                              const OpContext& ctx, Tensor& out, std::int64_t& rows) {
  return linear_output(x, k, o_count, ctx, out, rows, true);
}

Status run_linear(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  if (has_activation_scale(op)) return run_linear_int8(op, ctx, in, out);
  const Tensor& x = *in[0];
  const TensorData& w = *op.tensor(ctx.model.tensors, 0);
  const TensorData* bias = op.tensor(ctx.model.tensors, 1);
  const std::int64_t o_count = w.dims[0];
  const std::int64_t k = w.is_ternary() ? w.ternary.cols : w.dims[1];
  std::int64_t rows = 0;
  if (Status st = linear_output(x, k, o_count, ctx, out, rows, false); !st.ok()) return st;
  float* y = out.data.data();
  if (w.is_ternary() && rows < kGemmMinRows) {
    const kernels::PreparedTernary& pw = *ctx.ternary;
    // The kernel reads whole blocks of 16: a row whose length is a multiple of 16 is read in
    // place, others are copied into a zero-padded buffer of the run's scratch.
    const std::int64_t padded_k = pw.blocks * kernels::kMaskBlockWeights;
    RunScratch& scratch = *ctx.scratch;
    float* padded = padded_k != k ? scratch.floats_at_least(ScratchUse::kGemvInput, padded_k) : nullptr;
    const std::int64_t table_floats = kernels::gemv_scratch_floats(pw);
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data.data() + r * k;
      if (padded_k != k) {
        std::copy(xr, xr + k, padded);
        std::fill(padded + k, padded + padded_k, 0.0f);
        xr = padded;
      }
      float* yr = y + r * o_count;
      auto rows_fn = [&](std::int64_t b, std::int64_t e, int worker) {
        ctx.kernels.gemv(pw, xr, yr, b, e,
                         scratch.floats_at_least(ScratchUse::kGemvTable, table_floats, worker));
        if (bias != nullptr) {
          for (std::int64_t o = b; o < e; ++o) yr[o] += bias->values[o];
        }
        apply_activation(op.act, yr + b, e - b);
      };
      // Whole 16-row blocks per chunk (the table-lookup kernel's unit); a small layer (the
      // MLP's 784x256 is a few microseconds) runs on the caller alone.
      split_workers(ctx, o_count, kFloatsPerLine, work_ns(ctx, Work::kTernaryGemv, padded_k),
                    rows_fn);
    }
    return {};
  }
  // The transposed rows and result live in the run's scratch: every element is written
  // before it is read, where a fresh (zeroed) buffer per layer cost a serial memset.
  RunScratch& scratch = *ctx.scratch;
  if (ctx.tiles != nullptr && rows >= kTileMinRows) {
    // AMX tiles: the rows are the positions of a 1x1 convolution over a [k, 1, rows] image.
    float* image = scratch.floats_at_least(ScratchUse::kLinearIn, k * rows);
    float* result = scratch.floats_at_least(ScratchUse::kLinearOut, o_count * rows);
    transpose(ctx, x.data.data(), rows, k, image);
    kernels::TileConvGeometry g;
    g.channels = k, g.height = 1, g.width = rows, g.out_channels = o_count;
    g.kernel_h = g.kernel_w = 1, g.out_h = 1, g.out_w = rows;
    g.finish();
    run_conv2d_tiles(op, ctx, image, 1, g, result);
    transpose(ctx, result, o_count, rows, y);
    return {};
  }
  const double k_row_ns = work_ns(ctx, Work::kGather, static_cast<double>(rows));
  const double row_ns = work_ns(ctx, w.is_ternary() ? Work::kTernaryGemm : Work::kFloatGemm,
                                static_cast<double>(k) * rows);
  if (w.is_ternary() && ctx.kernels.gemm_oc_columns != nullptr) {
    // The register-blocked kernel (AVX-512), as convolutions use it: the rows (tokens) are
    // its columns, in 16-column panels; 16 output channels per task unit. On a Zen 5 core
    // it ran ViT-B/16's linear layers in 234 ms where the sparse one-row kernel took 576.
    // Each tile column is one token's 16 outputs, stored straight into the row-major
    // output with the bias (no transposed tile store, no transpose of the result).
    float* xo = scratch.floats_at_least(ScratchUse::kLinearIn, kernels::oc_panel_floats(k, rows));
    split(ctx, k, 1, k_row_ns, [&](std::int64_t b, std::int64_t e) {
      kernels::pack_oc_panels_transposed(x.data.data(), rows, k, xo, b, e);
    });
    const float* bias_values = bias != nullptr ? bias->values.data() : nullptr;
    split(ctx, ctx.ternary->row_blocks, 1, kernels::kOcBlock * row_ns, [&](std::int64_t b, std::int64_t e) {
      ctx.kernels.gemm_oc_columns(*ctx.ternary, xo, rows, y, o_count, bias_values, b, e);
      if (op.act == Activation::kNone) return;
      const std::int64_t c0 = b * kernels::kOcBlock, c1 = std::min(o_count, e * kernels::kOcBlock);
      for (std::int64_t r = 0; r < rows; ++r) apply_activation(op.act, y + r * o_count + c0, c1 - c0);
    });
    return {};
  }
  // GEMM path: activations transposed to [k, rows] (panel-major for the ternary kernels) so
  // kernels vectorize over rows.
  float* xt = scratch.floats_at_least(
      ScratchUse::kLinearIn, w.is_ternary() ? kernels::panel_floats(k, rows) : k * rows);
  float* yt = scratch.floats_at_least(ScratchUse::kLinearOut, o_count * rows);
  if (w.is_ternary()) {
    split(ctx, k, 1, k_row_ns, [&](std::int64_t b, std::int64_t e) {
      kernels::pack_panels_transposed(x.data.data(), rows, k, xt, b, e);
    });
  } else {
    transpose(ctx, x.data.data(), rows, k, xt);
  }
  if (w.is_ternary() && use_lut(ctx, o_count, k)) {
    gemm_lut_split(ctx, false, xt, k, rows, yt, 0, o_count,
                   [&](std::int64_t o, std::int64_t c0, std::int64_t c1) {
                     epilogue(yt + o * rows + c0, c1 - c0, bias_at(bias, o), op.act);
                   });
    transpose(ctx, yt, o_count, rows, y);
    return {};
  }
  const std::int64_t grain = w.is_ternary() ? 1 : kernels::float_gemm_kernel(ctx.kernels.isa).rows;
  split(ctx, o_count, grain, row_ns, [&](std::int64_t b, std::int64_t e) {
    if (w.is_ternary()) {
      ternary_gemm(ctx)(*ctx.ternary, xt, rows, yt, b, e);
    } else {
      float_gemm(ctx, w.values.data() + b * k, xt, yt + b * rows, e - b, k, rows);
    }
    for (std::int64_t o = b; o < e; ++o) epilogue(yt + o * rows, rows, bias_at(bias, o), op.act);
  });
  transpose(ctx, yt, o_count, rows, y);
  return {};
}

namespace {

struct ConvGeometry {
  std::int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, cg, og, oh, ow, k, p;
};

// Copies (or zeroes) n floats inline, 4 at a time: im2col moves runs of one output row
// (32 floats for a 32x32 map), where a call to memmove per run cost more than the move
// (about a third of ResNet-18's 64-channel convolutions).
inline void copy_run(const float* src, float* dst, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) std::memcpy(dst + i, src + i, 4 * sizeof(float));
  for (; i < n; ++i) dst[i] = src[i];
}
inline void zero_run(float* dst, std::int64_t n) {
  constexpr float kZeros[4] = {};
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) std::memcpy(dst + i, kZeros, 4 * sizeof(float));
  for (; i < n; ++i) dst[i] = 0.0f;
}

void im2col(const float* x, const ConvGeometry& g, float* cols, std::int64_t row_begin,
            std::int64_t row_end) {
  for (std::int64_t row = row_begin; row < row_end; ++row) {
    const std::int64_t c = row / (g.kh * g.kw), i = row / g.kw % g.kh, j = row % g.kw;
    const float* plane = x + c * g.h * g.w;
    float* dst = cols + row * g.p;
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      const std::int64_t iy = oy * g.sh - g.ph + i * g.dh;
      float* d = dst + oy * g.ow;
      if (iy < 0 || iy >= g.h) {
        std::fill(d, d + g.ow, 0.0f);
        continue;
      }
      // Output columns [ox0, ox1) read inside the input row (ix = ox * sw - pw + j * dw);
      // the rest is padding. The inside run is a copy (stride 1) or a strided gather whose
      // loop the compiler vectorizes (stride 2: MobileNetV2's stem and downsampling).
      const std::int64_t ox0 = std::clamp<std::int64_t>((g.pw - j * g.dw + g.sw - 1) / g.sw, 0, g.ow);
      const std::int64_t ox1 = std::clamp<std::int64_t>((g.w + g.pw - j * g.dw + g.sw - 1) / g.sw, ox0, g.ow);
      const float* row_in = plane + iy * g.w;
      const std::int64_t shift = j * g.dw - g.pw;  // ix = ox * sw + shift
      std::fill(d, d + ox0, 0.0f);
      if (ox0 < ox1) {
        const float* src = row_in + ox0 * g.sw + shift;  // input column of output ox0
        float* out = d + ox0;
        const std::int64_t n = ox1 - ox0;
        if (g.sw == 1) {
          copy_run(src, out, n);
        } else if (g.sw == 2) {
          for (std::int64_t t = 0; t < n; ++t) out[t] = src[2 * t];
        } else {
          for (std::int64_t t = 0; t < n; ++t) out[t] = src[t * g.sw];
        }
      }
      std::fill(d + ox1, d + g.ow, 0.0f);
    }
  }
}


// Writes consecutive positions of one im2col row into the panel-major layout: runs are
// copied (or zeroed) inline, cut only where a panel of `width` lanes ends.
class PanelWriter {
 public:
  PanelWriter(float* panel, std::int64_t width, std::int64_t panel_stride)
      : panel_(panel), width_(width), stride_(panel_stride) {}
  void copy(const float* src, std::int64_t n) {
    while (n > 0) {
      const std::int64_t take = std::min(n, width_ - lane_);
      copy_run(src, panel_ + lane_, take);
      src += take;
      n -= take;
      advance(take);
    }
  }
  void zeros(std::int64_t n) {
    while (n > 0) {
      const std::int64_t take = std::min(n, width_ - lane_);
      zero_run(panel_ + lane_, take);
      n -= take;
      advance(take);
    }
  }

 private:
  void advance(std::int64_t n) {
    lane_ += n;
    if (lane_ == width_) {
      lane_ = 0;
      panel_ += stride_;
    }
  }
  float* panel_;
  std::int64_t lane_ = 0;
  std::int64_t width_, stride_;
};

// im2col straight into the panel-major layout of the ternary GEMM kernels. Per output row,
// the positions that read inside the input row are one run of the input (stride 1) or
// gathered into `line` first (strided); the padding around them is zeroed.
void im2col_panels(const float* x, const ConvGeometry& g, float* cols, std::int64_t row_begin,
                   std::int64_t row_end) {
  const std::int64_t width = kernels::panel_width(g.p);
  const std::int64_t padded = kernels::panel_count(g.p) * width;
  std::vector<float> line(g.sw == 1 ? 0 : g.ow);
  // Stride 1 with as many output as input columns (ResNet's "same" 3x3 layers): each row is
  // the input plane shifted by (di, dj), one run over all the valid output rows, with the
  // |dj| positions of each row that fall outside the input zeroed afterwards. On maps of 4
  // to 16 columns a run per output row cost more than its floats.
  const bool shifted_plane = g.sh == 1 && g.sw == 1 && g.ow == g.w;
  for (std::int64_t row = row_begin; row < row_end; ++row) {
    const std::int64_t c = row / (g.kh * g.kw), i = row / g.kw % g.kh, j = row % g.kw;
    const float* plane = x + c * g.h * g.w;
    PanelWriter out(cols + row * width, width, g.k * width);
    if (shifted_plane) {
      const std::int64_t di = i * g.dh - g.ph, dj = j * g.dw - g.pw, shift = di * g.w + dj;
      const std::int64_t oy0 = std::clamp<std::int64_t>(-di, 0, g.oh);
      const std::int64_t oy1 = std::clamp<std::int64_t>(g.h - di, oy0, g.oh);
      const std::int64_t a = oy0 * g.ow, b = oy1 * g.ow;
      // Positions whose source falls outside the plane are row edges, zeroed below anyway.
      const std::int64_t lo = std::clamp<std::int64_t>(-shift, a, b);
      const std::int64_t hi = std::clamp<std::int64_t>(g.h * g.w - shift, lo, b);
      out.zeros(lo);
      out.copy(plane + lo + shift, hi - lo);
      out.zeros(padded - hi);
      if (dj != 0) {
        const std::int64_t edge0 = dj > 0 ? g.ow - dj : 0, edge1 = dj > 0 ? g.ow : -dj;
        for (std::int64_t oy = oy0; oy < oy1; ++oy) {
          for (std::int64_t ox = std::max<std::int64_t>(0, edge0); ox < std::min(g.ow, edge1); ++ox) {
            const std::int64_t pos = oy * g.ow + ox;
            cols[(pos / width * g.k + row) * width + pos % width] = 0.0f;
          }
        }
      }
      continue;
    }
    // Output columns ox in [ox0, ox1) read inside the input row; the rest is padding.
    const std::int64_t ox0 = std::clamp<std::int64_t>((g.pw - j * g.dw + g.sw - 1) / g.sw, 0, g.ow);
    const std::int64_t ox1 =
        std::clamp<std::int64_t>((g.w + g.pw - j * g.dw + g.sw - 1) / g.sw, ox0, g.ow);
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      const std::int64_t iy = oy * g.sh - g.ph + i * g.dh;
      if (iy < 0 || iy >= g.h) {
        out.zeros(g.ow);
        continue;
      }
      const float* src = plane + iy * g.w - g.pw + j * g.dw;
      out.zeros(ox0);
      if (g.sw == 1) {
        out.copy(src + ox0, ox1 - ox0);
      } else {
        for (std::int64_t ox = ox0; ox < ox1; ++ox) line[ox - ox0] = src[ox * g.sw];
        out.copy(line.data(), ox1 - ox0);
      }
      out.zeros(g.ow - ox1);
    }
    out.zeros(padded - g.p);
  }
}

// im2col into the 16-column panels of the register-blocked kernel (gemm_oc): position pos of
// row k lands at cols[((pos / 16) * g.k + k) * 16 + pos % 16], the last panel zero-padded.
void im2col_oc(const float* x, const ConvGeometry& g, float* cols, std::int64_t row_begin,
               std::int64_t row_end) {
  constexpr std::int64_t width = kernels::kOcPanel;
  const std::int64_t panel_stride = g.k * width;
  const std::int64_t padded = (g.p + width - 1) / width * width;
  // One im2col row is built contiguously (vectorizable copies), then dealt out 16 floats
  // at a time to its panels.
  std::vector<float> line(padded, 0.0f);
  for (std::int64_t row = row_begin; row < row_end; ++row) {
    const std::int64_t c = row / (g.kh * g.kw), i = row / g.kw % g.kh, j = row % g.kw;
    const float* plane = x + c * g.h * g.w;
    const float* src_line = plane;  // a 1x1 stride-1 row is the input plane itself
    if (!(g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0) ||
        g.p % width != 0) {
      // Output columns ox in [ox0, ox1) read inside the input row; the rest is padding.
      const std::int64_t ox0 = std::clamp<std::int64_t>((g.pw - j * g.dw + g.sw - 1) / g.sw, 0, g.ow);
      const std::int64_t ox1 =
          std::clamp<std::int64_t>((g.w + g.pw - j * g.dw + g.sw - 1) / g.sw, ox0, g.ow);
      for (std::int64_t oy = 0; oy < g.oh; ++oy) {
        const std::int64_t iy = oy * g.sh - g.ph + i * g.dh;
        float* d = line.data() + oy * g.ow;
        if (iy < 0 || iy >= g.h) {
          std::fill(d, d + g.ow, 0.0f);
          continue;
        }
        const float* src = plane + iy * g.w - g.pw + j * g.dw;
        std::fill(d, d + ox0, 0.0f);
        if (g.sw == 1) {
          std::copy(src + ox0, src + ox1, d + ox0);
        } else {
          for (std::int64_t ox = ox0; ox < ox1; ++ox) d[ox] = src[ox * g.sw];
        }
        std::fill(d + ox1, d + g.ow, 0.0f);
      }
      src_line = line.data();
    }
    float* dst = cols + row * width;
    for (std::int64_t pos = 0; pos < padded; pos += width, dst += panel_stride) {
      std::copy(src_line + pos, src_line + pos + width, dst);
    }
  }
}

// Depthwise (one input channel per group): direct loops over each channel's plane.
void depthwise(const float* x, const ConvGeometry& g, const std::vector<float>& weights,
               const TensorData* bias, Activation act, float* y, std::int64_t c_begin,
               std::int64_t c_end) {
  const std::int64_t m = g.og;  // outputs per channel (depth multiplier)
  for (std::int64_t oc = c_begin; oc < c_end; ++oc) {
    const float* plane = x + (oc / m) * g.h * g.w;
    const float* wk = weights.data() + oc * g.kh * g.kw;
    float* out = y + oc * g.p;
    std::fill(out, out + g.p, bias_at(bias, oc));
    for (std::int64_t i = 0; i < g.kh; ++i) {
      for (std::int64_t j = 0; j < g.kw; ++j) {
        const float a = wk[i * g.kw + j];
        if (a == 0.0f) continue;
        for (std::int64_t oy = 0; oy < g.oh; ++oy) {
          const std::int64_t iy = oy * g.sh - g.ph + i * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          const float* src = plane + iy * g.w;
          float* d = out + oy * g.ow;
          const std::int64_t ox0 = std::max<std::int64_t>(0, (g.pw - j * g.dw + g.sw - 1) / g.sw);
          const std::int64_t ox1 = std::min<std::int64_t>(g.ow, (g.w + g.pw - j * g.dw + g.sw - 1) / g.sw);
          for (std::int64_t ox = ox0; ox < ox1; ++ox) d[ox] += a * src[ox * g.sw - g.pw + j * g.dw];
        }
      }
    }
    apply_activation(act, out, g.p);
  }
}

// The implicit columns of a stride-1 convolution (groups 1) on the dense kernel: the input
// zero-padded to planes of (h + 2ph) x (w + 2pw), and the output computed on the padded
// width, p' = oh x (w + 2pw) positions of which the last (kw - 1) dw of every row are
// discarded; column row (c, i, j) then starts at plane c shifted by (i dh, j dw), a run as
// long as p'. A 1x1 unpadded convolution whose positions fill whole 16-column strips reads
// the input itself and writes the output in place.
struct ImplicitColumns {
  std::int64_t padded_w = 0, plane = 0, wide_p = 0;
  std::int64_t slack = 0;     // floats past the last plane that strips may read (zeroed)
  bool in_place = false;      // read the input as is, write the output as is
  ImplicitColumns() = default;
  explicit ImplicitColumns(const ConvGeometry& g)
      : padded_w(g.w + 2 * g.pw),
        plane((g.h + 2 * g.ph) * padded_w),
        wide_p(g.oh * padded_w),
        slack((g.kw - 1) * g.dw + 16),
        in_place(g.kh == 1 && g.kw == 1 && g.ph == 0 && g.pw == 0 && g.p % 16 == 0) {}
  std::int64_t padded_floats(const ConvGeometry& g) const {
    return in_place ? 0 : g.c * plane + slack;
  }
  std::int64_t wide_floats(const ConvGeometry& g) const { return in_place ? 0 : g.og * wide_p; }
  std::int64_t scratch_floats(const ConvGeometry& g) const {
    return padded_floats(g) + wide_floats(g);
  }
};

// One image of an implicit convolution: `work` holds im.scratch_floats(g) floats (the padded
// input, then the wide output), y the image's [o, p] output.
void run_implicit(const OpDesc& op, const OpContext& ctx, const ConvGeometry& g,
                  const ImplicitColumns& im, const float* xn, float* work, const TensorData* bias,
                  float* y, bool inline_only) {
  const float* base = xn;
  float* wide = y;
  if (!im.in_place) {
    float* padded = work;
    wide = work + im.padded_floats(g);
    for (std::int64_t c = 0; c < g.c; ++c) {
      float* dst = padded + c * im.plane;
      const float* src = xn + c * g.h * g.w;
      zero_run(dst, g.ph * im.padded_w);
      for (std::int64_t r = 0; r < g.h; ++r) {
        float* row = dst + (g.ph + r) * im.padded_w;
        zero_run(row, g.pw);
        copy_run(src + r * g.w, row + g.pw, g.w);
        zero_run(row + g.pw + g.w, g.pw);
      }
      zero_run(dst + (g.ph + g.h) * im.padded_w, g.ph * im.padded_w);
    }
    zero_run(padded + g.c * im.plane, im.slack);
    base = padded;
  }
  std::vector<std::int64_t> offsets(g.k);
  for (std::int64_t c = 0; c < g.c; ++c) {
    for (std::int64_t i = 0; i < g.kh; ++i) {
      for (std::int64_t j = 0; j < g.kw; ++j) {
        offsets[(c * g.kh + i) * g.kw + j] = c * im.plane + i * g.dh * im.padded_w + j * g.dw;
      }
    }
  }
  // Output row o over wide positions [c0, c1): the kernel, then the kept positions moved to
  // their place in y (unless in place) and the epilogue on them.
  auto finish = [&](std::int64_t o, std::int64_t c0, std::int64_t c1) {
    float* out = y + o * g.p;
    auto out_index = [&](std::int64_t pos) {
      return pos / im.padded_w * g.ow + std::min(pos % im.padded_w, g.ow);
    };
    if (!im.in_place) {
      const float* row = wide + o * im.wide_p;
      for (std::int64_t oy = c0 / im.padded_w; oy * im.padded_w < c1; ++oy) {
        const std::int64_t from = std::max(c0, oy * im.padded_w);
        const std::int64_t to = std::min(c1, oy * im.padded_w + g.ow);
        if (from < to) copy_run(row + from, out + out_index(from), to - from);
      }
    }
    const std::int64_t o0 = out_index(c0), o1 = out_index(c1);
    epilogue(out + o0, o1 - o0, bias_at(bias, o), op.act);
  };
  // The register-blocked kernel where the ISA has it (AVX-512: rows in blocks of 16), else
  // the dense one (AVX2: 6-row tiles).
  const bool blocked16 = ctx.kernels.gemm_oc_offsets != nullptr;
  const kernels::GemmOffsetsFn kernel = blocked16 ? ctx.kernels.gemm_oc_offsets : ctx.kernels.gemm_dense_offsets;
  auto task = [&](std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
    kernel(*ctx.ternary, base + c0, offsets.data(), c1 - c0, wide + c0, im.wide_p, r0, r1);
    for (std::int64_t o = r0; o < r1; ++o) finish(o, c0, c1);
  };
  // Up to 256 output channels over many positions (MobileNetV2's projections and its
  // 16 -> 96 expansion at 112 x 112, ResNet's 64-channel layers) split over chunks of
  // positions, each task all rows: its columns are gathered once and its output (at most
  // 256 KiB) gets the epilogue while in L2. Split over rows, every thread (and every
  // cache-sized run of rows) gathered the same columns again, and few rows ran 2-row tiles.
  // Otherwise rows, in runs whose output stays cached. The 16-row kernel takes chunks of
  // positions whenever the rows allow: a run of rows that is not whole blocks of 16 would
  // compute a block twice.
  constexpr std::int64_t kPositionsPerTask = 256;
  constexpr std::int64_t kMaxRowsPerTask = 256;
  const std::int64_t chunks = (im.wide_p + kPositionsPerTask - 1) / kPositionsPerTask;
  if (g.o <= kMaxRowsPerTask && (chunks >= 4 || blocked16)) {
    const double chunk_ns =
        work_ns(ctx, Work::kTernaryGemm, static_cast<double>(g.k) * g.o * kPositionsPerTask);
    auto columns = [&](std::int64_t b, std::int64_t e) {
      task(0, g.o, b * kPositionsPerTask, std::min(im.wide_p, e * kPositionsPerTask));
    };
    if (inline_only) {
      columns(0, chunks);
    } else {
      split(ctx, chunks, 1, chunk_ns, columns);
    }
    return;
  }
  const double channel_ns = work_ns(ctx, Work::kTernaryGemm, static_cast<double>(g.k) * im.wide_p);
  auto rows = [&](std::int64_t b, std::int64_t e) {
    for_cached_rows(b, e, im.wide_p, blocked16 ? kernels::kOcBlock : 12,
                    [&](std::int64_t r0, std::int64_t r1) { task(r0, r1, 0, im.wide_p); });
  };
  if (inline_only) {
    rows(0, g.o);
  } else {
    split(ctx, g.o, blocked16 ? kernels::kOcBlock : 1, channel_ns, rows);
  }
}

}  // namespace

Status run_conv2d(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  if (has_activation_scale(op)) return run_conv2d_int8(op, ctx, in, out);
  const Tensor& x = *in[0];
  const TensorData& w = *op.tensor(ctx.model.tensors, 0);
  const TensorData* bias = op.tensor(ctx.model.tensors, 1);
  const auto& a = op.ints;
  if (x.rank() != 4) return Status::error("conv2d expects [N, C, H, W], got " + shape_string(x.shape));
  ConvGeometry g{};
  g.n = x.shape[0], g.c = x.shape[1], g.h = x.shape[2], g.w = x.shape[3];
  g.kh = a[0], g.kw = a[1], g.sh = a[2], g.sw = a[3], g.ph = a[4], g.pw = a[5], g.dh = a[6],
  g.dw = a[7], g.groups = a[8];
  g.o = w.dims[0];
  g.k = w.is_ternary() ? w.ternary.cols : w.dims[1] * g.kh * g.kw;
  if (g.c % g.groups != 0 || g.k != g.c / g.groups * g.kh * g.kw) {
    return Status::error("conv2d weight does not fit input " + shape_string(x.shape));
  }
  g.cg = g.c / g.groups;
  g.og = g.o / g.groups;
  g.oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  if (g.h + 2 * g.ph < g.dh * (g.kh - 1) + 1 || g.w + 2 * g.pw < g.dw * (g.kw - 1) + 1) {
    return Status::error("conv2d input " + shape_string(x.shape) + " is smaller than the kernel");
  }
  g.p = g.oh * g.ow;
  if (Status st = allocate_output(out, {g.n, g.o, g.oh, g.ow}, ctx.max_elements); !st.ok()) return st;
  if (ctx.tiles != nullptr) {
    kernels::TileConvGeometry t;
    t.channels = g.c, t.height = g.h, t.width = g.w, t.out_channels = g.o;
    t.kernel_h = g.kh, t.kernel_w = g.kw, t.stride = g.sh, t.pad_h = g.ph, t.pad_w = g.pw;
    t.out_h = g.oh, t.out_w = g.ow, t.unrolled = ctx.tiles->unrolled;
    t.finish();
    // The packed input is three slices of the (padded) input, or of its im2col rows when
    // unrolled; a file whose shapes would make that huge does not get to allocate it.
    if (t.packed_words() / 4 <= ctx.max_elements) {
      run_conv2d_tiles(op, ctx, x.data.data(), g.n, t, out.data.data());
      return {};
    }
  }
  if (g.cg == 1 && g.groups > 1) {
    std::vector<float> dense(g.o * g.kh * g.kw);
    if (w.is_ternary()) {
      const kernels::PreparedTernary& pw = *ctx.ternary;
      for (std::int64_t r = 0; r < g.o; ++r) {
        for (std::uint32_t i = pw.starts[r]; i < pw.starts[r + 1]; ++i) {
          dense[r * g.k + pw.indices[i]] = i < pw.splits[r] ? pw.scales[r] : -pw.scales[r];
        }
      }
    } else {
      dense = w.values;
    }
    if (g.dh == 1 && g.dw == 1 && g.sh == g.sw) {
      // The per-ISA kernels (kernels/depthwise.h), one channel per call.
      const kernels::DepthwiseKernel& kernel = kernels::depthwise_kernel(ctx.kernels.isa);
      kernels::DepthwiseShape shape;
      shape.height = g.h, shape.width = g.w, shape.kernel_h = g.kh, shape.kernel_w = g.kw;
      shape.stride = g.sh, shape.pad_h = g.ph, shape.pad_w = g.pw, shape.out_h = g.oh,
      shape.out_w = g.ow;
      const kernels::Clamp clamp = clamp_of(op.act);
      // One channel plane per item: the padded scratch plane zeroed and filled, then a tap
      // per output (stride 2 de-interleaves, about three times the work per tap).
      const double channel_ns =
          work_ns(ctx, Work::kDepthwise, static_cast<double>(g.p) * g.kh * g.kw * (g.sh > 1 ? 3 : 1)) +
          work_ns(ctx, Work::kMove, 2.0 * static_cast<double>(shape.scratch_floats()) + g.p);
      split_workers(ctx, g.n * g.o, 1, channel_ns, [&](std::int64_t b, std::int64_t e, int worker) {
        float* plane_scratch =
            ctx.scratch->floats_at_least(ScratchUse::kDepthwisePlane, shape.scratch_floats(), worker);
        for (std::int64_t item = b; item < e; ++item) {
          const std::int64_t n = item / g.o, oc = item % g.o;
          const float* plane = x.data.data() + (n * g.c + oc / g.og) * g.h * g.w;
          float* y = out.data.data() + (n * g.o + oc) * g.p;
          const float* taps = dense.data() + oc * g.kh * g.kw;
          kernel.run(plane, shape, taps, bias_at(bias, oc), clamp, y, plane_scratch);
        }
      });
      if (clamp == kernels::Clamp::kNone) {
        apply_activation_split(ctx, op.act, out.data.data(), out.numel());
      }
      return {};
    }
    const double channel_ns = work_ns(ctx, Work::kDepthwise, 2.0 * g.p * g.kh * g.kw);
    for (std::int64_t n = 0; n < g.n; ++n) {
      const float* xn = x.data.data() + n * g.c * g.h * g.w;
      float* yn = out.data.data() + n * g.o * g.p;
      split(ctx, g.o, 1, channel_ns, [&](std::int64_t b, std::int64_t e) {
        depthwise(xn, g, dense, bias, op.act, yn, b, e);
      });
    }
    return {};
  }
  const bool direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  const bool ternary = w.is_ternary();
  // Short reductions where the ISA has gemm_oc (AVX-512) run as a float GEMM over the
  // decoded weights (ternary.h: kDecodedMaxCols); `packed`: the ternary kernels' path.
  const bool decoded = ternary && !ctx.ternary->decoded.empty();
  const bool packed = ternary && !decoded;
  const float* float_weights = decoded ? ctx.ternary->decoded.data() : w.values.data();
  // Stride-1 convolutions with more than one tap whose rows are at least 16 outputs wide
  // run the register-blocked kernel over the shifted input planes (implicit im2col,
  // kernels/ternary.h: at most 1/8 of the wide positions computed are padding), where an
  // im2col buffer of k x p floats would leave L2 (ResNet's 64-channel layers: 2.3 MiB,
  // about as long to build as the products take). A 1x1 convolution's panels are a copy
  // of its input, which costs no more than the implicit path's padded copy.
  const bool implicit_oc = packed && g.groups == 1 && ctx.kernels.gemm_oc_offsets != nullptr &&
                           g.kh * g.kw > 1 && g.sh == 1 && g.sw == 1 &&
                           (g.w + 2 * g.pw) * 8 <= g.ow * 9;
  // The register-blocked kernel over im2col panels, where the ISA has one, for the other
  // ungrouped convolutions.
  const bool oc = packed && g.groups == 1 && ctx.kernels.gemm_oc != nullptr && !implicit_oc;
  // Stride-1 convolutions on the dense kernel read their columns straight from the input
  // (implicit im2col, kernels/ternary.h): ImplicitColumns says where.
  const bool implicit = implicit_oc || (packed && !oc && g.groups == 1 && g.sh == 1 && g.sw == 1 &&
                                        ctx.kernels.gemm_dense_offsets != nullptr && !use_lut(ctx, g.og, g.k));
  const ImplicitColumns im = implicit ? ImplicitColumns(g) : ImplicitColumns();
  // Ternary kernels read panel-major columns; the float loop reads row-major [k, p].
  const std::int64_t cols_floats =
      implicit ? im.scratch_floats(g)
      : oc     ? kernels::oc_panel_floats(g.k, g.p)
      : packed ? kernels::panel_floats(g.k, g.p)
                : (direct ? 0 : g.k * g.p);
  // Estimated costs: an im2col row gathers p floats, an output channel is k x p
  // multiply-accumulates.
  const double column_ns = work_ns(ctx, Work::kGather, static_cast<double>(g.p));
  const double channel_ns =
      work_ns(ctx, packed ? Work::kTernaryGemm : Work::kFloatGemm, static_cast<double>(g.k) * g.p);
  const double image_ns = g.groups * ((direct && !packed ? 0.0 : g.k * column_ns) + g.og * channel_ns);
  // Splits [0, n) items of `item_ns` over the pool, or runs it inline when the caller is
  // already a pool task (a whole image per task).
  auto split_in = [&](bool inline_only, std::int64_t n, double item_ns, const auto& fn,
                      std::int64_t grain = 1) {
    if (inline_only) {
      fn(std::int64_t{0}, n);
    } else {
      split(ctx, n, grain, item_ns, fn);
    }
  };
  auto run_image = [&](std::int64_t n, float* cols, bool inline_only) {
    if (oc) {
      const float* xn = x.data.data() + n * g.c * g.h * g.w;
      split_in(inline_only, g.k, column_ns, [&](std::int64_t b, std::int64_t e) {
        im2col_oc(xn, g, cols, b, e);
      });
      float* yn = out.data.data() + n * g.o * g.p;
      const double block_ns = kernels::kOcBlock * channel_ns;
      split_in(inline_only, ctx.ternary->row_blocks, block_ns, [&](std::int64_t b, std::int64_t e) {
        gemm_oc_blocks(ctx, cols, g.p, yn, g.o, bias, op.act, b, e);
      });
      return;
    }
    if (implicit) {
      run_implicit(op, ctx, g, im, x.data.data() + n * g.c * g.h * g.w, cols, bias,
                   out.data.data() + n * g.o * g.p, inline_only);
      return;
    }
    for (std::int64_t gi = 0; gi < g.groups; ++gi) {
      const float* xg = x.data.data() + (n * g.c + gi * g.cg) * g.h * g.w;
      const float* columns = xg;
      if (packed && direct) {
        kernels::pack_panels(xg, g.k, g.p, g.p, cols);
        columns = cols;
      } else if (!direct) {
        split_in(inline_only, g.k, column_ns, [&](std::int64_t b, std::int64_t e) {
          if (packed) {
            im2col_panels(xg, g, cols, b, e);
          } else {
            im2col(xg, g, cols, b, e);
          }
        });
        columns = cols;
      }
      float* yn = out.data.data() + n * g.o * g.p;
      const std::int64_t first = gi * g.og;
      if (packed && use_lut(ctx, g.og, g.k)) {
        gemm_lut_split(ctx, inline_only, columns, g.k, g.p, yn, first, g.og,
                       [&](std::int64_t o, std::int64_t c0, std::int64_t c1) {
                         epilogue(yn + o * g.p + c0, c1 - c0, bias_at(bias, o), op.act);
                       });
        continue;
      }
      const kernels::GemmFn gemm = packed ? ternary_gemm(ctx) : nullptr;
      // The float GEMMs compute kernel.rows rows per pass over the input (6 on AVX2, 8 on
      // AVX-512) and the dense ternary kernel 6, the sparse kernel one: rows go in runs (and
      // thread tasks) of two passes, since a run that ends inside a pass costs a whole one
      // (12-row runs cost 16 rows of work on AVX-512: MobileNetV2's 16 -> 96 expansion took
      // 325 us where 96 rows at once take 243).
      const std::int64_t unit = !packed                          ? 2 * kernels::float_gemm_kernel(ctx.kernels.isa).rows
                                : gemm == ctx.kernels.gemm_dense ? 12
                                                                 : 1;
      split_in(inline_only, g.og, channel_ns, [&](std::int64_t b, std::int64_t e) {
        for_cached_rows(first + b, first + e, g.p, unit, [&](std::int64_t r0, std::int64_t r1) {
          if (packed) {
            gemm(*ctx.ternary, columns, g.p, yn, r0, r1);
          } else {
            // Float weights of group gi start at row `first`; rows index from there.
            float_gemm(ctx, float_weights + r0 * g.k, columns, yn + r0 * g.p, r1 - r0, g.k, g.p);
          }
          for (std::int64_t o = r0; o < r1; ++o) epilogue(yn + o * g.p, g.p, bias_at(bias, o), op.act);
        });
      }, unit);
    }
  };
  if (g.n >= ctx.pool.size() && ctx.pool.size() > 1) {
    // A batch at least as large as the pool: whole images per task, each with its own
    // columns; no synchronization inside an image.
    split_workers(ctx, g.n, 1, image_ns, [&](std::int64_t b, std::int64_t e, int worker) {
      float* cols = ctx.scratch->floats_at_least(ScratchUse::kConvColumns, cols_floats, worker);
      for (std::int64_t n = b; n < e; ++n) run_image(n, cols, true);
    });
  } else {
    // The run's scratch, reused across its convolutions (and later runs): a fresh multi-MiB
    // buffer per convolution costs page faults and a memset that small layers notice. Every
    // kernel input element is written before it is read.
    float* cols = ctx.scratch->floats_at_least(ScratchUse::kConvColumns, cols_floats);
    for (std::int64_t n = 0; n < g.n; ++n) run_image(n, cols, false);
  }
  return {};
}

Status run_matmul(const OpDesc& op, const OpContext& ctx, const Inputs& in, Tensor& out) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  if (a.rank() < 2 || b.rank() < 2 || a.dim(-1) != b.dim(-2)) {
    return Status::error("matmul cannot multiply " + shape_string(a.shape) + " by " +
                         shape_string(b.shape));
  }
  const std::int64_t m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
  const int rank = std::max(a.rank(), b.rank());
  std::vector<std::int64_t> batch(rank - 2), sa(rank - 2, 0), sb(rank - 2, 0);
  std::int64_t stride_a = m * k, stride_b = k * n;
  for (int i = rank - 3; i >= 0; --i) {
    const int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
    const std::int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      return Status::error("matmul batch dimensions of " + shape_string(a.shape) + " and " +
                           shape_string(b.shape) + " do not broadcast");
    }
    batch[i] = std::max(da, db);
    sa[i] = da == 1 ? 0 : stride_a;
    sb[i] = db == 1 ? 0 : stride_b;
    stride_a *= da;
    stride_b *= db;
  }
  std::vector<std::int64_t> shape = batch;
  shape.push_back(m);
  shape.push_back(n);
  if (Status st = allocate_output(out, shape, ctx.max_elements); !st.ok()) return st;
  const std::int64_t batches = Tensor::numel_of(batch);
  // Work units of up to 16 rows of one batch entry.
  constexpr std::int64_t kRowsPerUnit = 16;
  const std::int64_t row_units = (m + kRowsPerUnit - 1) / kRowsPerUnit;
  const double unit_ns =
      work_ns(ctx, Work::kFloatGemm, static_cast<double>(std::min(m, kRowsPerUnit)) * k * n);
  split(ctx, batches * row_units, 1, unit_ns, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t unit = begin; unit < end; ++unit) {
      std::int64_t bi = unit / row_units, off_a = 0, off_b = 0;
      const std::int64_t row = unit % row_units * kRowsPerUnit;
      const std::int64_t entry = bi;
      for (int i = rank - 3; i >= 0; --i) {
        off_a += (bi % batch[i]) * sa[i];
        off_b += (bi % batch[i]) * sb[i];
        bi /= batch[i];
      }
      float_gemm(ctx, a.data.data() + off_a + row * k, b.data.data() + off_b,
                 out.data.data() + (entry * m + row) * n, std::min(kRowsPerUnit, m - row), k, n);
    }
  });
  apply_activation_split(ctx, op.act, out.data.data(), out.numel());
  return {};
}

}  // namespace triton_rt

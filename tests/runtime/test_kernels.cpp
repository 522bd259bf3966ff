// Every ternary kernel variant the CPU can run, against the scalar reference, on random
// shapes with ragged edges (columns not a multiple of 16, P not a multiple of the tile);
// plus dispatch (TRITON_RT_FORCE_ISA) and the thread pool.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>

#include "format/packing.h"
#include "kernels/ternary.h"
#include "kernels/thread_pool.h"
#include "test_support.h"

using namespace triton_rt;
using namespace triton_rt::kernels;

namespace {

TernaryMatrix random_matrix(std::int64_t rows, std::int64_t cols, std::mt19937& rng) {
  return test_support::ternary_matrix(test_support::random_codes(rows * cols, rng), rows, cols, rng);
}

std::vector<const KernelSet*> runnable_sets() {
  std::vector<const KernelSet*> sets;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
    if (static_cast<int>(isa) <= static_cast<int>(detected_isa())) sets.push_back(&kernel_set(isa));
  }
  return sets;
}

const std::vector<std::pair<std::int64_t, std::int64_t>> kShapes = {
    {1, 1}, {3, 15}, {4, 16}, {5, 17}, {7, 33}, {9, 100}, {13, 256}, {64, 784}, {130, 150}};

void expect_close(float got, float want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-4f * (1.0f + std::fabs(want))) << what;
}

}  // namespace

TEST(Kernels, PreparedFormsAgreeWithCodes) {
  std::mt19937 rng(1);
  const TernaryMatrix m = random_matrix(5, 37, rng);
  const PreparedTernary p = prepare_ternary(m);
  std::int64_t nonzeros = 0;
  for (std::int64_t r = 0; r < 5; ++r) {
    for (std::int64_t c = 0; c < 37; ++c) {
      const int code = format::t2_code(m.packed.data() + r * m.row_bytes, c);
      const MaskBlock b = p.masks[r * p.blocks + c / 16];
      EXPECT_EQ(code > 0, (b.plus >> (c % 16) & 1) == 1);
      EXPECT_EQ(code < 0, (b.minus >> (c % 16) & 1) == 1);
      nonzeros += code != 0;
    }
  }
  EXPECT_EQ(p.nonzeros(), nonzeros);
}

TEST(Kernels, GemvVariantsMatchScalarReference) {
  std::mt19937 rng(2);
  std::normal_distribution<float> dist;
  const KernelSet& ref = kernel_set(Isa::kScalar);
  for (auto [rows, cols] : kShapes) {
    const PreparedTernary p = prepare_ternary(random_matrix(rows, cols, rng));
    std::vector<float> x(p.blocks * 16, 0.0f);
    for (std::int64_t i = 0; i < cols; ++i) x[i] = dist(rng);
    std::vector<float> want(rows), got(rows);
    std::vector<float> scratch(gemv_scratch_floats(p));
    ref.gemv(p, x.data(), want.data(), 0, rows, scratch.data());
    for (const KernelSet* set : runnable_sets()) {
      std::fill(got.begin(), got.end(), -1.0f);
      set->gemv(p, x.data(), got.data(), 0, rows, scratch.data());
      for (std::int64_t r = 0; r < rows; ++r) {
        expect_close(got[r], want[r], std::string(set->gemv_name) + " " + std::to_string(rows) +
                                          "x" + std::to_string(cols) + " row " + std::to_string(r));
      }
      if (rows > 2) {  // a sub-range must leave the other rows alone
        std::fill(got.begin(), got.end(), -7.0f);
        set->gemv(p, x.data(), got.data(), 1, rows - 1, scratch.data());
        EXPECT_EQ(got[0], -7.0f);
        EXPECT_EQ(got[rows - 1], -7.0f);
        for (std::int64_t r = 1; r < rows - 1; ++r) expect_close(got[r], want[r], set->gemv_name);
      }
      // Ranges split where threads would split them, off the kernels' 4- and 16-row blocks.
      for (std::int64_t split : {3, 7, 17, 33}) {
        if (split >= rows) continue;
        std::fill(got.begin(), got.end(), -7.0f);
        set->gemv(p, x.data(), got.data(), 0, split, scratch.data());
        set->gemv(p, x.data(), got.data(), split, rows, scratch.data());
        for (std::int64_t r = 0; r < rows; ++r) {
          expect_close(got[r], want[r], std::string(set->gemv_name) + " split " + std::to_string(split));
        }
      }
    }
  }
}

TEST(Kernels, GemmVariantsMatchScalarReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  const KernelSet& ref = kernel_set(Isa::kScalar);
  for (auto [rows, cols] : kShapes) {
    const PreparedTernary p = prepare_ternary(random_matrix(rows, cols, rng));
    for (std::int64_t cols_p : {1, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 130}) {
      std::vector<float> dense(cols * cols_p), x(panel_floats(cols, cols_p), -9.0f);
      for (float& v : dense) v = dist(rng);
      pack_panels(dense.data(), cols, cols_p, cols_p, x.data());
      std::vector<float> want(rows * cols_p), got(rows * cols_p);
      ref.gemm(p, x.data(), cols_p, want.data(), 0, rows);
      for (const KernelSet* set : runnable_sets()) {
        std::fill(got.begin(), got.end(), -1.0f);
        set->gemm(p, x.data(), cols_p, got.data(), 0, rows);
        for (std::size_t i = 0; i < got.size(); ++i) {
          expect_close(got[i], want[i], std::string(set->gemm_name) + " P=" + std::to_string(cols_p));
        }
      }
    }
  }
}

// Every register-blocked variant against its scalar reference, including row counts that are
// not a multiple of 16, a sub-range of row blocks, and panels with ragged column tails.
TEST(Kernels, GemmOcVariantsMatchScalarReference) {
  std::mt19937 rng(4);
  std::normal_distribution<float> dist;
  for (auto [rows, cols] : kShapes) {
    const PreparedTernary p = prepare_ternary(random_matrix(rows, cols, rng));
    ASSERT_EQ(p.row_blocks, (rows + 15) / 16);
    for (std::int64_t cols_p : {1, 7, 15, 16, 17, 31, 33, 64, 65}) {
      std::vector<float> x(oc_panel_floats(cols, cols_p), 0.0f);
      for (std::int64_t k = 0; k < cols; ++k) {
        for (std::int64_t j = 0; j < cols_p; ++j) x[(j / 16 * cols + k) * 16 + j % 16] = dist(rng);
      }
      std::vector<float> want(rows * cols_p, -3.0f), got(rows * cols_p);
      gemm_oc_t2f32__scalar_16x16(p, x.data(), cols_p, want.data(), 0, p.row_blocks);
      // The reference against the sparse lists: sum of +1 columns minus sum of -1 columns.
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t j = 0; j < cols_p; ++j) {
          float acc = 0.0f;
          for (std::uint32_t i = p.starts[r]; i < p.starts[r + 1]; ++i) {
            const float v = x[(j / 16 * cols + p.indices[i]) * 16 + j % 16];
            acc += i < p.splits[r] ? v : -v;
          }
          expect_close(want[r * cols_p + j], p.scales[r] * acc, "gemm_oc reference");
        }
      }
      for (const KernelSet* set : runnable_sets()) {
        if (set->gemm_oc == nullptr) {
          EXPECT_EQ(set->gemm_oc_columns, nullptr);
          continue;
        }
        std::fill(got.begin(), got.end(), -1.0f);
        set->gemm_oc(p, x.data(), cols_p, got.data(), 0, p.row_blocks);
        for (std::size_t i = 0; i < got.size(); ++i) {
          expect_close(got[i], want[i], std::string(set->gemm_oc_name) + " " + std::to_string(rows) +
                                            "x" + std::to_string(cols) + " P=" + std::to_string(cols_p));
        }
        if (p.row_blocks > 2) {  // a sub-range of blocks leaves the other rows alone
          std::fill(got.begin(), got.end(), -7.0f);
          set->gemm_oc(p, x.data(), cols_p, got.data(), 1, p.row_blocks - 1);
          EXPECT_EQ(got[0], -7.0f);
          EXPECT_EQ(got.back(), -7.0f);
          expect_close(got[16 * cols_p], want[16 * cols_p], set->gemm_oc_name);
        }
        // The column-major form (a linear layer's row-major output, ld rows + 3) with a bias,
        // whole and as two ranges of row blocks; entries past each row stay untouched.
        ASSERT_NE(set->gemm_oc_columns, nullptr);
        const std::int64_t ld = rows + 3;
        std::vector<float> bias(rows);
        for (float& v : bias) v = dist(rng);
        std::vector<float> cm(cols_p * ld, -5.0f);
        const std::int64_t cut = p.row_blocks / 2;
        set->gemm_oc_columns(p, x.data(), cols_p, cm.data(), ld, bias.data(), 0, cut);
        set->gemm_oc_columns(p, x.data(), cols_p, cm.data(), ld, bias.data(), cut, p.row_blocks);
        for (std::int64_t j = 0; j < cols_p; ++j) {
          for (std::int64_t r = 0; r < rows; ++r) {
            expect_close(cm[j * ld + r], want[r * cols_p + j] + bias[r], set->gemm_oc_columns_name);
          }
          for (std::int64_t r = rows; r < ld; ++r) EXPECT_EQ(cm[j * ld + r], -5.0f);
        }
        std::vector<float> no_bias(cols_p * ld, -5.0f);
        set->gemm_oc_columns(p, x.data(), cols_p, no_bias.data(), ld, nullptr, 0, p.row_blocks);
        expect_close(no_bias[0], want[0], set->gemm_oc_columns_name);
      }
    }
  }
}

// The base-3 table GEMM against the scalar sparse kernel: ragged K (not whole groups of 4
// or chunks of 32 columns), P ending inside a unit or a 16-column half panel, more rows
// than one stack block (kLutRowBlock), and split over rows and units as the executor does;
// every split gives the same bits as the whole call.
TEST(Kernels, GemmLutMatchesScalarReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist;
  const KernelSet& ref = kernel_set(Isa::kScalar);
  for (auto [rows, cols] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {48, 1}, {49, 5}, {61, 33}, {130, 67}, {300, 150}, {64, 784}}) {
    const PreparedTernary p = prepare_ternary(random_matrix(rows, cols, rng));
    EXPECT_EQ(p.lut_stride % kLutChunk, 0);
    for (std::int64_t cols_p : {1, 7, 16, 17, 33, 48, 63, 64, 65, 130}) {
      std::vector<float> dense(cols * cols_p), x(panel_floats(cols, cols_p), -9.0f);
      for (float& v : dense) v = dist(rng);
      pack_panels(dense.data(), cols, cols_p, cols_p, x.data());
      std::vector<float> want(rows * cols_p), whole(rows * cols_p, -1.0f);
      ref.gemm(p, x.data(), cols_p, want.data(), 0, rows);
      const std::int64_t units = lut_units(cols_p);
      for (const KernelSet* set : runnable_sets()) {
        if (set->gemm_lut == nullptr) continue;
        const std::string what = std::string(set->gemm_lut_name) + " " + std::to_string(rows) +
                                 "x" + std::to_string(cols) + " P=" + std::to_string(cols_p);
        std::fill(whole.begin(), whole.end(), -1.0f);
        set->gemm_lut(p, x.data(), cols_p, whole.data(), 0, rows, 0, units);
        for (std::size_t i = 0; i < whole.size(); ++i) expect_close(whole[i], want[i], what);
        std::vector<float> parts(rows * cols_p, -1.0f);
        const std::int64_t cut = rows / 3 + 1;
        for (std::int64_t u = 0; u < units; ++u) {
          set->gemm_lut(p, x.data(), cols_p, parts.data(), 0, cut, u, u + 1);
          set->gemm_lut(p, x.data(), cols_p, parts.data(), cut, rows, u, u + 1);
        }
        EXPECT_EQ(parts, whole) << what;
      }
    }
  }
}

// An infinite activation reaches only the rows with a nonzero weight on it: the tables add
// zero for a zero code, never 0 * inf.
TEST(Kernels, GemmLutKeepsZeroWeightRowsFinite) {
  std::mt19937 rng(12);
  const std::int64_t rows = 64, cols = 40, cols_p = 20;
  const PreparedTernary p = prepare_ternary(random_matrix(rows, cols, rng));
  std::vector<float> dense(cols * cols_p, 0.5f), x(panel_floats(cols, cols_p));
  dense[6 * cols_p + 3] = std::numeric_limits<float>::infinity();
  pack_panels(dense.data(), cols, cols_p, cols_p, x.data());
  std::vector<float> want(rows * cols_p), got(rows * cols_p);
  kernel_set(Isa::kScalar).gemm(p, x.data(), cols_p, want.data(), 0, rows);
  for (const KernelSet* set : runnable_sets()) {
    if (set->gemm_lut == nullptr) continue;
    set->gemm_lut(p, x.data(), cols_p, got.data(), 0, rows, 0, lut_units(cols_p));
    for (std::int64_t i = 0; i < rows * cols_p; ++i) {
      EXPECT_EQ(std::isfinite(got[i]), std::isfinite(want[i])) << set->gemm_lut_name << " " << i;
    }
  }
}

// The dense GEMM (codes decoded from the mask blocks, 6x16 FMA tiles) against the scalar
// sparse kernel: ragged rows (not a multiple of 6, past one 96-row block), K from 1 through
// the short-reduction path (<= 64) and past one 256-deep block (257, 600: partial sums read
// back from y), P ending inside a 16-column strip, a panel or past one 512-column chunk, and
// split over rows at a cut that is not a multiple of 6 (every split gives the same bits).
TEST(Kernels, GemmDenseMatchesScalarReference) {
  std::mt19937 rng(13);
  std::normal_distribution<float> dist;
  const KernelSet& ref = kernel_set(Isa::kScalar);
  struct Case {
    std::int64_t rows, cols;
    std::vector<std::int64_t> columns;
  };
  const std::vector<std::int64_t> narrow = {1, 7, 16, 17, 33, 48, 63, 64, 65, 130};
  for (const Case& c : std::vector<Case>{{1, 1, narrow},
                                         {5, 3, narrow},
                                         {7, 16, narrow},
                                         {13, 17, narrow},
                                         {24, 144, narrow},
                                         {97, 24, narrow},
                                         {64, 65, narrow},
                                         {11, 257, {1, 17, 530}},
                                         {103, 600, {5, 64, 530}}}) {
    const std::int64_t rows = c.rows, cols = c.cols;
    const PreparedTernary p = prepare_ternary(random_matrix(rows, cols, rng));
    for (std::int64_t cols_p : c.columns) {
      std::vector<float> dense(cols * cols_p), x(panel_floats(cols, cols_p), -9.0f);
      for (float& v : dense) v = dist(rng);
      pack_panels(dense.data(), cols, cols_p, cols_p, x.data());
      std::vector<float> want(rows * cols_p), whole(rows * cols_p, -1.0f);
      ref.gemm(p, x.data(), cols_p, want.data(), 0, rows);
      for (const KernelSet* set : runnable_sets()) {
        if (set->gemm_dense == nullptr) continue;
        const std::string what = std::string(set->gemm_dense_name) + " " + std::to_string(rows) +
                                 "x" + std::to_string(cols) + " P=" + std::to_string(cols_p);
        set->gemm_dense(p, x.data(), cols_p, whole.data(), 0, rows);
        for (std::size_t i = 0; i < whole.size(); ++i) expect_close(whole[i], want[i], what);
        std::vector<float> parts(rows * cols_p, -1.0f);
        const std::int64_t cut = rows / 3 + 1;
        set->gemm_dense(p, x.data(), cols_p, parts.data(), 0, cut);
        set->gemm_dense(p, x.data(), cols_p, parts.data(), cut, rows);
        EXPECT_EQ(parts, whole) << what;
      }
    }
  }
}

// The dense GEMM over implicit columns (row k at base + offsets[k]) against the scalar
// kernel on the same matrix packed into panels: rows that overlap (as a convolution's
// shifted planes do), K past one depth block, P ending inside a strip and past a chunk,
// split over rows and over columns.
TEST(Kernels, GemmDenseOffsetsMatchesPackedColumns) {
  std::mt19937 rng(17);
  std::normal_distribution<float> dist;
  const KernelSet& ref = kernel_set(Isa::kScalar);
  for (auto [rows, cols, cols_p] : std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{
           {5, 9, 30}, {13, 27, 64}, {7, 300, 531}, {100, 70, 17}}) {
    const PreparedTernary p = prepare_ternary(random_matrix(rows, cols, rng));
    std::vector<std::int64_t> offsets(cols);
    for (std::int64_t k = 0; k < cols; ++k) offsets[k] = k * 5 + (k % 3);  // overlapping rows
    std::vector<float> base(offsets.back() + (cols_p + 15) / 16 * 16);
    for (float& v : base) v = dist(rng);
    std::vector<float> dense(cols * cols_p), x(panel_floats(cols, cols_p));
    for (std::int64_t k = 0; k < cols; ++k) {
      std::copy_n(base.data() + offsets[k], cols_p, dense.data() + k * cols_p);
    }
    pack_panels(dense.data(), cols, cols_p, cols_p, x.data());
    std::vector<float> want(rows * cols_p);
    ref.gemm(p, x.data(), cols_p, want.data(), 0, rows);
    for (const KernelSet* set : runnable_sets()) {
      // The dense kernel (AVX2) and the register-blocked one (AVX-512), where a set has them.
      const std::pair<const char*, GemmOffsetsFn> kernels[] = {
          {set->gemm_dense_offsets_name, set->gemm_dense_offsets},
          {set->gemm_oc_offsets_name, set->gemm_oc_offsets}};
      for (const auto& [name, kernel] : kernels) {
        if (kernel == nullptr) continue;
        const std::string what = std::string(name) + " " + std::to_string(rows) + "x" +
                                 std::to_string(cols) + " P=" + std::to_string(cols_p);
        std::vector<float> got(rows * cols_p, -1.0f);
        const std::int64_t cut = rows / 2 + 1;
        kernel(p, base.data(), offsets.data(), cols_p, got.data(), cols_p, 0, cut);
        kernel(p, base.data(), offsets.data(), cols_p, got.data(), cols_p, cut, rows);
        for (std::size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i], what);
        // Split over columns instead (at a multiple of 16): the same bits.
        std::vector<float> by_columns(rows * cols_p, -1.0f);
        const std::int64_t c_cut = std::min<std::int64_t>(cols_p, 16);
        kernel(p, base.data(), offsets.data(), c_cut, by_columns.data(), cols_p, 0, rows);
        kernel(p, base.data() + c_cut, offsets.data(), cols_p - c_cut, by_columns.data() + c_cut,
               cols_p, 0, rows);
        EXPECT_EQ(by_columns, got) << what;
      }
    }
  }
}

TEST(Kernels, PanelPackingLayout) {
  EXPECT_EQ(panel_width(1), 16);
  EXPECT_EQ(panel_width(17), 32);
  EXPECT_EQ(panel_width(48), 48);
  EXPECT_EQ(panel_width(1000), 64);
  // [k=2, p=67]: two panels, the second holding 3 columns and 61 zeros per row.
  std::vector<float> dense(2 * 67), t(67 * 2);
  for (int i = 0; i < 2 * 67; ++i) dense[i] = static_cast<float>(i);
  for (int r = 0; r < 2; ++r) for (int j = 0; j < 67; ++j) t[j * 2 + r] = dense[r * 67 + j];
  std::vector<float> a(panel_floats(2, 67), -1.0f), b(panel_floats(2, 67), -1.0f);
  pack_panels(dense.data(), 2, 67, 67, a.data());
  pack_panels_transposed(t.data(), 67, 2, b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[0 * 64 + 5], 5.0f);           // panel 0, row 0, column 5
  EXPECT_EQ(a[1 * 64 + 5], 67.0f + 5.0f);   // panel 0, row 1, column 5
  EXPECT_EQ(a[(2 + 1) * 64 + 2], 67.0f + 66.0f);  // panel 1, row 1, column 66
  EXPECT_EQ(a[(2 + 0) * 64 + 3], 0.0f);     // padding
}

// The transposing packer against pack_panels on ragged shapes (4 x 4 blocks and their
// edges), whole and split over rows at cuts that are not multiples of 4.
TEST(Kernels, PanelPackingTransposedMatchesPacking) {
  std::mt19937 rng(19);
  std::normal_distribution<float> dist;
  for (auto [k, p] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {1, 1}, {3, 5}, {77, 131}, {16, 64}, {10, 197}}) {
    std::vector<float> dense(k * p), t(p * k);
    for (float& v : dense) v = dist(rng);
    for (std::int64_t r = 0; r < k; ++r) {
      for (std::int64_t j = 0; j < p; ++j) t[j * k + r] = dense[r * p + j];
    }
    std::vector<float> want(panel_floats(k, p), -1.0f), got(want.size(), -1.0f), parts(want.size(), -1.0f);
    pack_panels(dense.data(), k, p, p, want.data());
    pack_panels_transposed(t.data(), p, k, got.data());
    EXPECT_EQ(got, want) << k << "x" << p;
    const std::int64_t cut = k / 3 + 1;
    pack_panels_transposed(t.data(), p, k, parts.data(), 0, cut);
    pack_panels_transposed(t.data(), p, k, parts.data(), cut, k);
    EXPECT_EQ(parts, want) << k << "x" << p << " split";
  }
}

// The 16-column panels of gemm_oc (ternary.h: x(k, j) at [((j / 16) * k + k') * 16 + j % 16],
// the last panel zero-padded) from a row-major [p, k] matrix, whole and split over k.
TEST(Kernels, OcPanelPackingTransposedMatchesTheLayout) {
  std::mt19937 rng(23);
  std::normal_distribution<float> dist;
  for (auto [k, p] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {1, 1}, {3, 5}, {77, 131}, {16, 64}, {10, 197}, {5, 16}}) {
    std::vector<float> t(p * k);
    for (float& v : t) v = dist(rng);
    std::vector<float> want(oc_panel_floats(k, p), 0.0f), got(want.size(), -1.0f);
    for (std::int64_t j = 0; j < p; ++j) {
      for (std::int64_t r = 0; r < k; ++r) want[((j / kOcPanel) * k + r) * kOcPanel + j % kOcPanel] = t[j * k + r];
    }
    const std::int64_t cut = k / 3 + 1;
    pack_oc_panels_transposed(t.data(), p, k, got.data(), 0, std::min(cut, k));
    pack_oc_panels_transposed(t.data(), p, k, got.data(), std::min(cut, k), k);
    EXPECT_EQ(got, want) << k << "x" << p;
  }
}

TEST(Kernels, NamesFollowTheConvention) {
  for (const KernelSet* set : runnable_sets()) {
    // The AMX level adds tile convolutions (ternary_tiles.h) to the AVX-512 matrix kernels.
    const std::string isa = set->isa == Isa::kAmx ? "avx512" : isa_name(set->isa);
    EXPECT_EQ(std::string(set->gemv_name).rfind("gemv_t2f32__" + isa + "_", 0), 0u);
    EXPECT_EQ(std::string(set->gemm_name).rfind("gemm_t2f32__" + isa + "_", 0), 0u);
    if (set->gemm_oc != nullptr) {
      EXPECT_EQ(std::string(set->gemm_oc_name).rfind("gemm_oc_t2f32__" + isa + "_", 0), 0u);
      ASSERT_NE(set->gemm_oc_offsets, nullptr);
      EXPECT_EQ(std::string(set->gemm_oc_offsets_name).rfind("gemm_oc_offsets_t2f32__" + isa + "_", 0), 0u);
    }
    if (set->gemm_lut != nullptr) {
      EXPECT_EQ(std::string(set->gemm_lut_name).rfind("gemm_lut_t2f32__" + isa + "_", 0), 0u);
    }
    if (set->gemm_dense != nullptr) {
      EXPECT_EQ(std::string(set->gemm_dense_name).rfind("gemm_dense_t2f32__" + isa + "_", 0), 0u);
      ASSERT_NE(set->gemm_dense_offsets, nullptr);
      EXPECT_EQ(std::string(set->gemm_dense_offsets_name).rfind("gemm_dense_offsets_t2f32__" + isa + "_", 0), 0u);
    }
  }
}

TEST(Dispatch, ForceIsaLowersTheLevelButNeverRaisesIt) {
  setenv("TRITON_RT_FORCE_ISA", "scalar", 1);
  EXPECT_EQ(selected_isa(), Isa::kScalar);
  setenv("TRITON_RT_FORCE_ISA", "avx2", 1);
  EXPECT_EQ(static_cast<int>(selected_isa()),
            std::min(static_cast<int>(Isa::kAvx2), static_cast<int>(detected_isa())));
  setenv("TRITON_RT_FORCE_ISA", "avx512", 1);
  EXPECT_EQ(static_cast<int>(selected_isa()),
            std::min(static_cast<int>(Isa::kAvx512), static_cast<int>(detected_isa())));
  setenv("TRITON_RT_FORCE_ISA", "amx", 1);
  EXPECT_EQ(selected_isa(), detected_isa());
  unsetenv("TRITON_RT_FORCE_ISA");
  EXPECT_EQ(selected_isa(), detected_isa());
  EXPECT_EQ(kernel_set(Isa::kAmx).isa, detected_isa());
  EXPECT_EQ(kernel_set(Isa::kAmx).tile_conv, detected_isa() == Isa::kAmx);
  EXPECT_FALSE(kernel_set(Isa::kAvx512).tile_conv);
}

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (std::int64_t n : {0, 1, 5, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 3; ++rep) {
        pool.parallel_for(n, 3, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) hits[i]++;
        });
      }
      for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 3);
    }
  }
}

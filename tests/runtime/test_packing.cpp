// Round trips and pinned byte layouts of the 2-bit and base-3 packers (format/packing.h);
// the same examples are pinned in tests/python/test_packing.py.
#include <gtest/gtest.h>

#include <random>

#include "format/layout.h"
#include "format/packing.h"

using namespace triton_rt::format;

TEST(Packing, T2LayoutMatchesSpec) {
  std::vector<std::int8_t> codes(16, 0);
  codes[0] = 1, codes[1] = -1, codes[2] = 0, codes[3] = 1;
  const auto packed = encode_t2(codes, 1, 16);
  ASSERT_EQ(packed.size(), 4u);
  EXPECT_EQ(packed[0], 0b01'00'10'01);
  EXPECT_EQ(packed[1], 0);
}

TEST(Packing, T3LayoutMatchesSpec) {
  const std::vector<std::int8_t> codes = {1, -1, 0, 0, 1};
  const auto packed = encode_t3(codes, 1, 5);
  ASSERT_EQ(packed.size(), 4u);
  EXPECT_EQ(packed[0], 2 + 0 * 3 + 1 * 9 + 1 * 27 + 2 * 81);
  EXPECT_EQ(packed[1], 121);  // five zero weights of padding
}

TEST(Packing, RoundTripsOnRaggedShapes) {
  std::mt19937 rng(7);
  for (auto [rows, cols] : std::vector<std::pair<int, int>>{{1, 1}, {3, 15}, {4, 16}, {5, 17},
                                                            {7, 20}, {2, 784}, {9, 101}}) {
    std::vector<std::int8_t> codes(rows * cols);
    for (auto& c : codes) c = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
    const auto t2 = encode_t2(codes, rows, cols);
    EXPECT_EQ(t2.size(), rows * t2_row_bytes(cols));
    auto back2 = decode_t2(t2, rows, cols);
    ASSERT_TRUE(back2.ok()) << back2.message();
    EXPECT_EQ(back2.value(), codes);
    const auto t3 = encode_t3(codes, rows, cols);
    EXPECT_EQ(t3.size(), rows * t3_row_bytes(cols));
    auto back3 = decode_t3(t3, rows, cols);
    ASSERT_TRUE(back3.ok()) << back3.message();
    EXPECT_EQ(back3.value(), codes);
  }
}

TEST(Packing, RejectsInvalidCodesAndSizes) {
  std::vector<std::uint8_t> bad2 = {0b11, 0, 0, 0};
  EXPECT_FALSE(decode_t2(bad2, 1, 16).ok());
  std::vector<std::uint8_t> bad3 = {243, 121, 121, 121};
  EXPECT_FALSE(decode_t3(bad3, 1, 20).ok());
  std::vector<std::uint8_t> short_row = {0, 0};
  EXPECT_FALSE(decode_t2(short_row, 1, 16).ok());
}

TEST(Packing, BlockSizes) {
  EXPECT_EQ(t2_row_bytes(784), 196u);
  EXPECT_EQ(t3_row_bytes(784), 160u);
  EXPECT_EQ(sizeof(BlockT2) * 4, static_cast<std::size_t>(kT2BlockWeights));
  EXPECT_EQ(sizeof(BlockT3) * 5, static_cast<std::size_t>(kT3BlockWeights));
}

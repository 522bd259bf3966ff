// The AMX tile register configuration both AMX kernels load (palette 1, all eight tiles 16
// rows of 64 bytes): the float tile convolution (ternary_tiles.cpp, bf16 slices) and the
// 8-bit convolution (ternary_int8_amx.cpp). Built at compile time and kept with internal
// linkage, so an ISA-flagged object never emits a function another object also emits (the
// runtime_isa_objects test).
#pragma once

#include <cstdint>

namespace triton_rt::kernels::amx {

// The 64-byte block `ldtilecfg` reads.
struct alignas(64) TileConfig {
  std::uint8_t palette;
  std::uint8_t start_row;
  std::uint8_t reserved[14];
  std::uint16_t bytes_per_row[16];
  std::uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64);

consteval TileConfig full_tiles() {
  TileConfig c{};
  c.palette = 1;
  for (int t = 0; t < 8; ++t) {
    c.bytes_per_row[t] = 64;
    c.rows[t] = 16;
  }
  return c;
}

// Tiles 0-7, each 16 rows x 64 bytes.
static constexpr TileConfig kFullTiles = full_tiles();

}  // namespace triton_rt::kernels::amx

// The byte layout of the `.tpk` packed model file, as C++ structs (docs/packed-format.md).
//
// Each struct mirrors one record of the file and has a static_assert on its size, so the
// layout cannot drift silently from the spec or from the Python writer
// (python/triton_dsl/export/packed_format.py). Records are read with memcpy from the file
// bytes: the file gives no alignment guarantee for them, and this also keeps the reader
// free of type-punning.
#pragma once

#include <bit>
#include <cstdint>

namespace triton_rt::format {

static_assert(std::endian::native == std::endian::little,
              "the .tpk reader assumes a little-endian host");

inline constexpr char kMagic[8] = {'T', 'R', 'T', 'N', 'T', 'P', 'K', '\0'};
// The newest version this runtime writes and reads, and the oldest it reads. Version 2 adds
// the activation scale of linear/conv2d ops (8-bit activations); a file without such ops
// is written as version 1, byte for byte as before.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kMinFormatVersion = 1;
inline constexpr std::uint32_t kVersionActivationScale = 2;
inline constexpr std::uint32_t kFlagBase3 = 1;
inline constexpr std::uint32_t kAbsent = 0xFFFFFFFFu;
inline constexpr std::uint64_t kDataAlign = 64;
inline constexpr int kMaxValueRank = 6;
inline constexpr int kMaxTensorRank = 4;

// 16 ternary weights at 2 bits: weight i in bits 2*(i%4).. of byte i/4; 00=0, 01=+1, 10=-1.
struct BlockT2 {
  std::uint8_t qs[4];
};
static_assert(sizeof(BlockT2) == 4);
inline constexpr int kT2BlockWeights = 16;

// 20 ternary weights at 1.6 bits: byte j holds weights 5j..5j+4 as base-3 digits (w+1),
// the first weight least significant; a valid byte is at most 242.
struct BlockT3 {
  std::uint8_t qs[4];
};
static_assert(sizeof(BlockT3) == 4);
inline constexpr int kT3BlockWeights = 20;

struct SectionRef {
  std::uint64_t offset;
  std::uint64_t size;
};
static_assert(sizeof(SectionRef) == 16);

struct FileHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t flags;
  std::uint64_t file_size;
  std::uint32_t value_count;
  std::uint32_t tensor_count;
  std::uint32_t op_count;
  std::uint32_t input_count;
  std::uint32_t output_count;
  std::uint32_t reserved;
  SectionRef values;
  SectionRef tensors;
  SectionRef ops;
  SectionRef io;
  SectionRef data;
};
static_assert(sizeof(FileHeader) == 128);

struct ValueRecord {
  std::uint32_t rank;
  std::uint32_t flags;  // bit 0: dimension 0 is the batch
  std::int64_t dims[kMaxValueRank];
};
static_assert(sizeof(ValueRecord) == 56);

enum class TensorKind : std::uint32_t { kFloat32 = 0, kTernary2 = 1, kTernary3 = 2 };

struct TensorRecord {
  std::uint32_t kind;
  std::uint32_t rank;
  std::int64_t dims[kMaxTensorRank];
  std::uint64_t offset;  // inside the data section
  std::uint64_t size;
};
static_assert(sizeof(TensorRecord) == 56);

// Followed by u32 inputs[], u32 outputs[], i32 ints[], f32 floats[], u32 tensors[].
struct OpHeader {
  std::uint32_t kind;
  std::uint32_t fused_activation;
  std::uint32_t input_count;
  std::uint32_t output_count;
  std::uint32_t int_count;
  std::uint32_t float_count;
  std::uint32_t tensor_count;
  std::uint32_t record_size;
};
static_assert(sizeof(OpHeader) == 32);

inline std::uint64_t t2_row_bytes(std::uint64_t cols) {
  return (cols + kT2BlockWeights - 1) / kT2BlockWeights * sizeof(BlockT2);
}
inline std::uint64_t t3_row_bytes(std::uint64_t cols) {
  return (cols + kT3BlockWeights - 1) / kT3BlockWeights * sizeof(BlockT3);
}

}  // namespace triton_rt::format

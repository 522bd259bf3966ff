// A protobuf wire-format encoder, just large enough to write ONNX files without linking
// libprotobuf (docs/architecture.md, "The ONNX backend"). A message is written field by
// field into a byte string: varints (int32/int64/enum/bool), fixed32 (float),
// length-delimited fields (strings, bytes, nested messages, packed repeated scalars).
// Nested messages are encoded into their own writer first and appended with their length,
// so no field needs its size computed in advance. Field order is the caller's: protobuf
// readers accept any order, and writing in field-number order keeps files deterministic.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace triton::codegen::proto {

enum class WireType : uint32_t { Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5 };

class Writer {
 public:
  // Field `field` holding an integer (int32, int64, enum, bool). Negative values take ten
  // bytes, as protobuf encodes int32/int64 (not zigzag: ONNX uses no sint types).
  void varint_field(uint32_t field, int64_t value);
  void float_field(uint32_t field, float value);
  // A string, a bytes field or an already encoded nested message.
  void bytes_field(uint32_t field, std::string_view bytes);
  void message_field(uint32_t field, const Writer& message) { bytes_field(field, message.bytes()); }
  // A packed repeated field: one length-delimited record of concatenated values.
  void packed_varints(uint32_t field, std::span<const int64_t> values);
  void packed_floats(uint32_t field, std::span<const float> values);

  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

  // The raw encodings, exposed for tests.
  static void append_varint(std::string& out, uint64_t value);
  static void append_fixed32(std::string& out, uint32_t value);

 private:
  void tag(uint32_t field, WireType type);
  std::string out_;
};

}  // namespace triton::codegen::proto

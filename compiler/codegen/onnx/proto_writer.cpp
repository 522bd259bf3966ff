// Implements the protobuf wire-format encoder (proto_writer.h): a field is a varint key
// (field number << 3 | wire type) followed by its payload; fixed-width values are little
// endian whatever the host's byte order.
#include "codegen/onnx/proto_writer.h"

#include <bit>
#include <cstring>

namespace triton::codegen::proto {

void Writer::append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void Writer::append_fixed32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void Writer::tag(uint32_t field, WireType type) {
  append_varint(out_, (static_cast<uint64_t>(field) << 3) | static_cast<uint32_t>(type));
}

void Writer::varint_field(uint32_t field, int64_t value) {
  tag(field, WireType::Varint);
  append_varint(out_, static_cast<uint64_t>(value));
}

void Writer::float_field(uint32_t field, float value) {
  tag(field, WireType::Fixed32);
  append_fixed32(out_, std::bit_cast<uint32_t>(value));
}

void Writer::bytes_field(uint32_t field, std::string_view bytes) {
  tag(field, WireType::LengthDelimited);
  append_varint(out_, bytes.size());
  out_.append(bytes);
}

void Writer::packed_varints(uint32_t field, std::span<const int64_t> values) {
  std::string payload;
  for (int64_t v : values) append_varint(payload, static_cast<uint64_t>(v));
  bytes_field(field, payload);
}

void Writer::packed_floats(uint32_t field, std::span<const float> values) {
  std::string payload;
  payload.reserve(values.size() * 4);
  for (float v : values) append_fixed32(payload, std::bit_cast<uint32_t>(v));
  bytes_field(field, payload);
}

}  // namespace triton::codegen::proto

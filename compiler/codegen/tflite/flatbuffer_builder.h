// A minimal FlatBuffers builder: enough of the binary format to write a TFLite model without
// libflatbuffers. Like the official builder it fills a buffer from the back to the front, so
// every offset it stores points forward (FlatBuffers offsets are unsigned). It writes tables
// with vtables, strings, vectors of scalars and of offsets, and aligns each object to its
// natural size or to a larger alignment asked for (TFLite's buffer data wants 16 bytes).
//
// Usage: create the children first (strings, vectors, nested tables), then
// `start_table`, `add_*` the fields by their id in the schema, `end_table`; `finish` with
// the root table and a 4-character file identifier. Offsets returned by the builder are
// opaque handles (the object's distance from the end of the buffer).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace triton::codegen::tflite {

class FlatBufferBuilder {
 public:
  using Offset = uint32_t;

  // A string: length, bytes, a terminating zero.
  Offset create_string(std::string_view text);
  // A vector of bytes whose first byte is aligned to `alignment` (a power of two >= 4).
  Offset create_byte_vector(std::string_view bytes, size_t alignment);
  // A vector of little-endian scalars (int32, int64, float, uint8, ...).
  template <typename T>
  Offset create_scalar_vector(const std::vector<T>& values) {
    static_assert(std::is_arithmetic_v<T>);
    start_vector(values.size(), sizeof(T), sizeof(T));
    for (size_t i = values.size(); i-- > 0;) push_scalar(values[i]);
    return end_vector(values.size());
  }
  // A vector of offsets to tables or strings.
  Offset create_offset_vector(const std::vector<Offset>& offsets);

  void start_table();
  // A scalar field; left out of the table when it equals the schema's default.
  template <typename T>
  void add_scalar(uint16_t field_id, T value, T default_value) {
    static_assert(std::is_arithmetic_v<T>);
    if (value == default_value) return;
    align(sizeof(T), 0);
    push_scalar(value);
    fields_.push_back({field_id, size()});
  }
  // An offset field (string, vector, table); 0 means absent.
  void add_offset(uint16_t field_id, Offset target);
  Offset end_table();

  // The finished buffer: root offset, file identifier, then the objects.
  std::string finish(Offset root, std::string_view file_identifier);

 private:
  struct FieldLocation {
    uint16_t id;
    uint32_t offset;
  };

  uint32_t size() const { return static_cast<uint32_t>(buffer_.size() - head_); }
  void grow(size_t needed);
  void push_bytes(const void* data, size_t count);
  template <typename T>
  void push_scalar(T value) {
    push_bytes(&value, sizeof(T));  // the hosts we build for are little endian
  }
  // Pads so that after `additional` more bytes the size is a multiple of `alignment`.
  void align(size_t alignment, size_t additional);
  void start_vector(size_t count, size_t element_size, size_t alignment);
  Offset end_vector(size_t count);
  void push_offset(Offset target);
  uint8_t* at(uint32_t offset) { return buffer_.data() + buffer_.size() - offset; }

  std::vector<uint8_t> buffer_;  // the bytes in use are [head_, buffer_.size())
  size_t head_ = 0;
  size_t max_alignment_ = 4;
  std::vector<FieldLocation> fields_;
  uint32_t table_start_ = 0;
  bool in_table_ = false;
};

}  // namespace triton::codegen::tflite

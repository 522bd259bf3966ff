// Implements the back-to-front FlatBuffers builder of flatbuffer_builder.h. A position is
// kept as the distance from the end of the buffer, which does not change when the buffer
// grows at the front; the final size is padded to the largest alignment used, so an object
// aligned relative to the end is aligned in the file.
#include "codegen/tflite/flatbuffer_builder.h"

#include <algorithm>

#include "diag/internal_error.h"

namespace triton::codegen::tflite {

void FlatBufferBuilder::grow(size_t needed) {
  if (head_ >= needed) return;
  const size_t used = buffer_.size() - head_;
  const size_t capacity = std::max<size_t>({1024, buffer_.size() * 2, used + needed});
  std::vector<uint8_t> bigger(capacity, 0);
  if (used != 0) std::memcpy(bigger.data() + capacity - used, buffer_.data() + head_, used);
  buffer_ = std::move(bigger);
  head_ = capacity - used;
}

void FlatBufferBuilder::push_bytes(const void* data, size_t count) {
  grow(count);
  head_ -= count;
  if (count != 0) std::memcpy(buffer_.data() + head_, data, count);
}

void FlatBufferBuilder::align(size_t alignment, size_t additional) {
  max_alignment_ = std::max(max_alignment_, alignment);
  const size_t padding = (alignment - (size() + additional) % alignment) % alignment;
  grow(padding);
  for (size_t i = 0; i < padding; ++i) buffer_[--head_] = 0;
}

void FlatBufferBuilder::push_offset(Offset target) {
  align(4, 0);
  // The stored value is the distance from the offset's own position forward to the target.
  const uint32_t relative = size() + 4 - target;
  push_scalar(relative);
}

FlatBufferBuilder::Offset FlatBufferBuilder::create_string(std::string_view text) {
  align(4, text.size() + 1);
  const uint8_t zero = 0;
  push_bytes(&zero, 1);
  push_bytes(text.data(), text.size());
  push_scalar(static_cast<uint32_t>(text.size()));
  return size();
}

void FlatBufferBuilder::start_vector(size_t count, size_t element_size, size_t alignment) {
  if (in_table_) internal_error("flatbuffer vector created inside a table");
  align(4, count * element_size);
  align(alignment, count * element_size);
}

FlatBufferBuilder::Offset FlatBufferBuilder::end_vector(size_t count) {
  align(4, 0);
  push_scalar(static_cast<uint32_t>(count));
  return size();
}

FlatBufferBuilder::Offset FlatBufferBuilder::create_byte_vector(std::string_view bytes, size_t alignment) {
  start_vector(bytes.size(), 1, alignment);
  push_bytes(bytes.data(), bytes.size());
  return end_vector(bytes.size());
}

FlatBufferBuilder::Offset FlatBufferBuilder::create_offset_vector(const std::vector<Offset>& offsets) {
  start_vector(offsets.size(), 4, 4);
  for (size_t i = offsets.size(); i-- > 0;) push_offset(offsets[i]);
  return end_vector(offsets.size());
}

void FlatBufferBuilder::start_table() {
  if (in_table_) internal_error("flatbuffer tables cannot nest while being built");
  in_table_ = true;
  fields_.clear();
  table_start_ = size();
}

void FlatBufferBuilder::add_offset(uint16_t field_id, Offset target) {
  if (target == 0) return;
  push_offset(target);
  fields_.push_back({field_id, size()});
}

FlatBufferBuilder::Offset FlatBufferBuilder::end_table() {
  if (!in_table_) internal_error("flatbuffer end_table without start_table");
  // The table starts with a signed offset to its vtable, patched below.
  align(4, 0);
  push_scalar(int32_t{0});
  const uint32_t table = size();
  uint16_t field_count = 0;
  for (const FieldLocation& f : fields_) field_count = std::max<uint16_t>(field_count, f.id + 1);
  std::vector<uint16_t> vtable(2 + field_count, 0);
  vtable[0] = static_cast<uint16_t>(vtable.size() * 2);
  vtable[1] = static_cast<uint16_t>(table - table_start_);
  for (const FieldLocation& f : fields_) vtable[2 + f.id] = static_cast<uint16_t>(table - f.offset);
  for (size_t i = vtable.size(); i-- > 0;) push_scalar(vtable[i]);
  const uint32_t vtable_offset = size();
  // vtable position = table position - soffset; the vtable lies before the table.
  const int32_t to_vtable = static_cast<int32_t>(vtable_offset - table);
  std::memcpy(at(table), &to_vtable, 4);
  in_table_ = false;
  return table;
}

std::string FlatBufferBuilder::finish(Offset root, std::string_view file_identifier) {
  if (file_identifier.size() != 4) internal_error("flatbuffer file identifier must have 4 characters");
  align(max_alignment_, 8);
  push_bytes(file_identifier.data(), 4);
  push_offset(root);
  return std::string(reinterpret_cast<const char*>(buffer_.data() + head_), size());
}

}  // namespace triton::codegen::tflite

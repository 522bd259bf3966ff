// A reader of safetensors files (the format of huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the bytes after the
// header), then the tensors' raw little-endian bytes. `--weights FILE` of the ONNX backend
// reads the file the generated program writes with `--export-weights`. Everything in a file
// is checked before it is used (lengths, offsets inside the data, sizes matching
// shape x dtype, no overlap), so a truncated or hostile file is an error message, never an
// out-of-bounds read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace triton::codegen::onnx {

struct SafeTensor {
  std::string dtype;  // "F32", "I8", "I64", ...
  std::vector<int64_t> shape;
  std::string data;   // raw little-endian bytes, size = elements x dtype size

  int64_t element_count() const;
  std::vector<float> as_floats() const;  // F32 only (checked by the caller)
};

struct SafeTensorsFile {
  std::map<std::string, SafeTensor> tensors;  // ordered by name: deterministic iteration
  std::map<std::string, std::string> metadata;  // "__metadata__", string values
};

// Parses a whole file's bytes; on failure returns nullopt and sets `error` (lowercase).
std::optional<SafeTensorsFile> parse_safetensors(std::string_view bytes, std::string* error);
std::optional<SafeTensorsFile> read_safetensors(const std::string& path, std::string* error);

}  // namespace triton::codegen::onnx

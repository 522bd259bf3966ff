// Implements the safetensors reader (safetensors.h) with a small JSON parser that accepts
// exactly the JSON grammar (objects, arrays, strings with escapes, numbers, literals) and
// keeps what the header uses: strings, integer arrays and objects.
#include "codegen/onnx/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <tuple>
#include <utility>

namespace triton::codegen::onnx {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // as the reference implementation
constexpr int kMaxJsonDepth = 16;

struct Json {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  double number = 0;
  bool integral = false;
  int64_t integer = 0;
  std::string text;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}
  std::optional<Json> document(std::string* error) {
    auto v = value(0);
    skip_space();
    if (v && pos_ != s_.size()) fail("trailing characters after the JSON header");
    if (!error_.empty()) {
      *error = error_;
      return std::nullopt;
    }
    return v;
  }

 private:
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message) + " (at byte " + std::to_string(pos_) + " of the header)";
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::optional<std::string> string() {
    if (!eat('"')) {
      fail("expected a string");
      return std::nullopt;
    }
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (static_cast<unsigned char>(c) < 0x20) {
        fail("control character in a string");
        return std::nullopt;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out.push_back(e); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > s_.size()) {
            fail("truncated \\u escape");
            return std::nullopt;
          }
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            code <<= 4;
            if (h >= '0' && h <= '9') code |= h - '0';
            else if (h >= 'a' && h <= 'f') code |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F') code |= h - 'A' + 10;
            else {
              fail("bad \\u escape");
              return std::nullopt;
            }
          }
          // Names are ASCII in practice; other code points are kept as UTF-8 (surrogate
          // pairs are not joined, which only matters for names outside the BMP).
          if (code < 0x80) out.push_back(static_cast<char>(code));
          else if (code < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
          } else {
            out.push_back(static_cast<char>(0xe0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
          }
          break;
        }
        default: fail("bad escape in a string"); return std::nullopt;
      }
    }
    if (pos_ >= s_.size()) {
      fail("unterminated string");
      return std::nullopt;
    }
    ++pos_;
    return out;
  }
  std::optional<Json> value(int depth) {
    if (depth > kMaxJsonDepth) {
      fail("the JSON header nests too deeply");
      return std::nullopt;
    }
    skip_space();
    if (pos_ >= s_.size()) {
      fail("unexpected end of the JSON header");
      return std::nullopt;
    }
    Json j;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      j.kind = Json::Kind::Object;
      if (eat('}')) return j;
      do {
        auto key = string();
        if (!key) return std::nullopt;
        if (!eat(':')) {
          fail("expected `:`");
          return std::nullopt;
        }
        auto v = value(depth + 1);
        if (!v) return std::nullopt;
        j.members.emplace_back(std::move(*key), std::move(*v));
      } while (eat(','));
      if (!eat('}')) {
        fail("expected `,` or `}`");
        return std::nullopt;
      }
      return j;
    }
    if (c == '[') {
      ++pos_;
      j.kind = Json::Kind::Array;
      if (eat(']')) return j;
      do {
        auto v = value(depth + 1);
        if (!v) return std::nullopt;
        j.items.push_back(std::move(*v));
      } while (eat(','));
      if (!eat(']')) {
        fail("expected `,` or `]`");
        return std::nullopt;
      }
      return j;
    }
    if (c == '"') {
      auto s = string();
      if (!s) return std::nullopt;
      j.kind = Json::Kind::String;
      j.text = std::move(*s);
      return j;
    }
    for (auto [word, kind, truth] : {std::tuple{"true", Json::Kind::Bool, true}, std::tuple{"false", Json::Kind::Bool, false},
                                     std::tuple{"null", Json::Kind::Null, false}}) {
      const size_t n = std::strlen(word);
      if (s_.substr(pos_, n) == word) {
        pos_ += n;
        j.kind = kind;
        j.integral = truth;
        return j;
      }
    }
    // A number: integers are read exactly (offsets can exceed 2^53 in a hostile file).
    const size_t start = pos_;
    bool negative = false;
    if (s_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    bool digits = false, overflow = false, fraction = false;
    uint64_t magnitude = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      digits = true;
      const unsigned d = s_[pos_++] - '0';
      if (magnitude > (UINT64_MAX - d) / 10) overflow = true;
      else magnitude = magnitude * 10 + d;
    }
    while (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '+' ||
                                s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9'))) {
      fraction = true;
      ++pos_;
    }
    if (!digits) {
      fail("unexpected character in the JSON header");
      return std::nullopt;
    }
    j.kind = Json::Kind::Number;
    j.integral = !fraction && !overflow && magnitude <= static_cast<uint64_t>(INT64_MAX);
    j.integer = j.integral ? (negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude)) : 0;
    (void)start;
    return j;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

int64_t dtype_size(std::string_view dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

const Json* member(const Json& object, std::string_view key) {
  for (const auto& [k, v] : object.members)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace

int64_t SafeTensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> SafeTensor::as_floats() const {
  std::vector<float> out(data.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b) u |= static_cast<uint32_t>(static_cast<unsigned char>(data[4 * i + b])) << (8 * b);
    out[i] = std::bit_cast<float>(u);
  }
  return out;
}

std::optional<SafeTensorsFile> parse_safetensors(std::string_view bytes, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<SafeTensorsFile> {
    *error = std::move(message);
    return std::nullopt;
  };
  if (bytes.size() < 8) return fail("not a safetensors file: shorter than its 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (header_size > kMaxHeaderBytes || header_size > bytes.size() - 8)
    return fail("not a safetensors file: its header length " + std::to_string(header_size) + " exceeds the file");
  std::string json_error;
  auto header = JsonParser(bytes.substr(8, header_size)).document(&json_error);
  if (!header) return fail("bad safetensors header: " + json_error);
  if (header->kind != Json::Kind::Object) return fail("bad safetensors header: not a JSON object");
  const std::string_view data = bytes.substr(8 + header_size);
  SafeTensorsFile file;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const auto& [name, entry] : header->members) {
    if (name == "__metadata__") {
      if (entry.kind != Json::Kind::Object) return fail("bad safetensors header: `__metadata__` is not an object");
      for (const auto& [k, v] : entry.members) {
        if (v.kind != Json::Kind::String) return fail("bad safetensors header: metadata `" + k + "` is not a string");
        file.metadata[k] = v.text;
      }
      continue;
    }
    const std::string where = "tensor `" + name + "`";
    if (entry.kind != Json::Kind::Object) return fail(where + " is not described by an object");
    const Json* dtype = member(entry, "dtype");
    const Json* shape = member(entry, "shape");
    const Json* offsets = member(entry, "data_offsets");
    if (!dtype || dtype->kind != Json::Kind::String || !shape || shape->kind != Json::Kind::Array || !offsets ||
        offsets->kind != Json::Kind::Array || offsets->items.size() != 2)
      return fail(where + " needs `dtype`, `shape` and two `data_offsets`");
    SafeTensor t;
    t.dtype = dtype->text;
    const int64_t size = dtype_size(t.dtype);
    if (size == 0) return fail(where + " has an unknown dtype `" + t.dtype + "`");
    int64_t elements = 1;
    for (const Json& d : shape->items) {
      if (d.kind != Json::Kind::Number || !d.integral || d.integer < 0) return fail(where + " has a bad shape");
      t.shape.push_back(d.integer);
      if (d.integer != 0 && elements > (INT64_MAX / 8) / d.integer) return fail(where + " is too large");
      elements *= d.integer;
    }
    const Json& b = offsets->items[0];
    const Json& e = offsets->items[1];
    if (b.kind != Json::Kind::Number || e.kind != Json::Kind::Number || !b.integral || !e.integral || b.integer < 0 ||
        e.integer < b.integer || static_cast<uint64_t>(e.integer) > data.size())
      return fail(where + " has data offsets outside the file");
    if (e.integer - b.integer != elements * size)
      return fail(where + " holds " + std::to_string(e.integer - b.integer) + " bytes; its shape and dtype need " +
                  std::to_string(elements * size));
    t.data = std::string(data.substr(static_cast<size_t>(b.integer), static_cast<size_t>(e.integer - b.integer)));
    ranges.emplace_back(b.integer, e.integer);
    if (!file.tensors.emplace(name, std::move(t)).second) return fail(where + " appears twice");
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) return fail("bad safetensors file: two tensors share bytes");
  return file;
}

std::optional<SafeTensorsFile> read_safetensors(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "`" + path + "`: cannot open it";
    return std::nullopt;
  }
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    *error = "`" + path + "`: cannot read it";
    return std::nullopt;
  }
  auto file = parse_safetensors(bytes, error);
  if (!file) *error = "`" + path + "`: " + *error;
  return file;
}

}  // namespace triton::codegen::onnx

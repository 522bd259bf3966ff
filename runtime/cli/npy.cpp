// .npy v1/v2/v3 header parsing (the dict literal with 'descr', 'fortran_order', 'shape') and
// the size checks that come before any allocation (see npy.h).
#include "cli/npy.h"

#include <cstring>
#include <fstream>
#include <string_view>

#include "format/file_bytes.h"

namespace triton_rt {
namespace {

std::string field(const std::string& header, const std::string& key) {
  const std::size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return {};
  std::size_t v = header.find(':', k);
  if (v == std::string::npos) return {};
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  std::size_t end = v;
  if (v < header.size() && header[v] == '(') {
    end = header.find(')', v);
    return end == std::string::npos ? std::string() : header.substr(v, end - v + 1);
  }
  end = header.find(',', v);
  return header.substr(v, end == std::string::npos ? std::string::npos : end - v);
}

// The dimensions of a shape tuple such as "(2, 1, 28, 28)" or "(3,)" or "()"; false when
// it is not a tuple of non-negative decimal integers below 2^62.
bool parse_shape(const std::string& text, std::vector<std::int64_t>& dims) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') return false;
  const std::string_view body(text.data() + 1, text.size() - 2);
  std::size_t i = 0;
  auto skip_spaces = [&] {
    while (i < body.size() && body[i] == ' ') ++i;
  };
  while (true) {
    skip_spaces();
    if (i == body.size()) return true;
    std::int64_t d = 0;
    const std::size_t start = i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') {
      if (d > (std::int64_t{1} << 62) / 10) return false;
      d = 10 * d + (body[i] - '0');
      ++i;
    }
    if (i == start) return false;
    dims.push_back(d);
    skip_spaces();
    if (i == body.size()) return true;
    if (body[i] != ',') return false;
    ++i;
  }
}

}  // namespace

Expected<Tensor> parse_npy(std::span<const std::uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    return Status::error(name + " is not a .npy file");
  }
  const int major = bytes[6];
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = bytes[8] | static_cast<std::size_t>(bytes[9]) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::error(name + ": truncated .npy header");
    std::uint32_t len = 0;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    start = 12;
  } else {
    return Status::error(name + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > bytes.size() - start) return Status::error(name + ": truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + start, header_len);
  const std::string descr = field(header, "descr");
  std::size_t width = 0;
  if (descr == "'<f4'") {
    width = 4;
  } else if (descr == "'<f8'" || descr == "'<i8'") {
    width = 8;
  } else {
    return Status::error(name + ": unsupported dtype " + (descr.empty() ? "(none)" : descr) +
                         " (use float32)");
  }
  if (field(header, "fortran_order").rfind("True", 0) == 0) {
    return Status::error(name + ": Fortran-order arrays are not supported");
  }
  const std::string shape = field(header, "shape");
  Tensor t;
  if (!parse_shape(shape, t.shape)) {
    return Status::error(name + ": bad shape " + (shape.empty() ? "(none)" : shape) +
                         "; expected a tuple of non-negative integers");
  }
  const std::int64_t n = t.numel();
  const std::size_t avail = bytes.size() - start - header_len;
  // Checked before allocating: the data must be in the file, so a header cannot ask for
  // more memory than the file's own size.
  if (n < 0 || static_cast<std::uint64_t>(n) > avail / width) {
    return Status::error(name + ": shape " + shape_string(t.shape) + " needs " +
                         (n < 0 ? std::string("more than 2^63") : std::to_string(n)) + " elements of " +
                         std::to_string(width) + " bytes, the file holds " + std::to_string(avail) +
                         " data bytes");
  }
  const std::uint8_t* data = bytes.data() + start + header_len;
  t.data.resize(static_cast<std::size_t>(n));
  if (width == 4) {
    if (n > 0) std::memcpy(t.data.data(), data, 4 * static_cast<std::size_t>(n));
  } else if (descr == "'<f8'") {
    for (std::int64_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, data + 8 * i, 8);
      t.data[i] = static_cast<float>(v);
    }
  } else {
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t v;
      std::memcpy(&v, data + 8 * i, 8);
      t.data[i] = static_cast<float>(v);
    }
  }
  return t;
}

Expected<Tensor> read_npy(const std::string& path) {
  auto bytes = read_file_bytes(path, kMaxNpyBytes);
  if (!bytes.ok()) return bytes.status();
  return parse_npy(bytes.value(), path);
}

Status write_npy(const std::string& path, const Tensor& t) {
  std::string shape = "(";
  for (std::size_t i = 0; i < t.shape.size(); ++i) {
    shape += (i ? ", " : "") + std::to_string(t.shape[i]);
  }
  shape += t.shape.size() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::error("cannot write " + path);
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xFF));
  out.put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(t.data.data()),
            static_cast<std::streamsize>(4 * t.data.size()));
  if (!out) return Status::error("cannot write " + path);
  return {};
}

}  // namespace triton_rt

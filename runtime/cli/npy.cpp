// .npy v1/v2 header parsing (the dict literal with 'descr', 'fortran_order', 'shape').
#include "cli/npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

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

}  // namespace

Expected<Tensor> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error("cannot open " + path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    return Status::error(path + " is not a .npy file");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    start = 10;
  } else {
    if (bytes.size() < 12) return Status::error(path + ": truncated .npy header");
    std::uint32_t len = 0;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    start = 12;
  }
  if (start + header_len > bytes.size()) return Status::error(path + ": truncated .npy header");
  const std::string header = bytes.substr(start, header_len);
  const std::string descr = field(header, "descr");
  if (field(header, "fortran_order").rfind("True", 0) == 0) {
    return Status::error(path + ": Fortran-order arrays are not supported");
  }
  Tensor t;
  const std::string shape = field(header, "shape");
  std::stringstream dims(shape.size() > 2 ? shape.substr(1, shape.size() - 2) : "");
  std::string item;
  while (std::getline(dims, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    try {
      t.shape.push_back(std::stoll(item));
    } catch (...) {
      return Status::error(path + ": bad shape " + shape);
    }
  }
  const std::int64_t n = t.numel();
  const char* data = bytes.data() + start + header_len;
  const std::size_t avail = bytes.size() - start - header_len;
  auto need = [&](std::size_t width) { return avail >= width * static_cast<std::size_t>(n); };
  t.data.resize(n);
  if (descr == "'<f4'" && need(4)) {
    std::memcpy(t.data.data(), data, 4 * n);
  } else if (descr == "'<f8'" && need(8)) {
    for (std::int64_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, data + 8 * i, 8);
      t.data[i] = static_cast<float>(v);
    }
  } else if (descr == "'<i8'" && need(8)) {
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t v;
      std::memcpy(&v, data + 8 * i, 8);
      t.data[i] = static_cast<float>(v);
    }
  } else {
    return Status::error(path + ": unsupported dtype " + descr +
                         " or truncated data (use float32)");
  }
  return t;
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

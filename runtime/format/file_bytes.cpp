// read_file_bytes (see file_bytes.h): checks the path and the file's type and size with
// std::filesystem first, then reads exactly that many bytes.
#include "format/file_bytes.h"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace triton_rt {

Expected<std::vector<std::uint8_t>> read_file_bytes(const std::string& path,
                                                    std::uint64_t max_bytes) {
  if (path.find('\0') != std::string::npos) {
    return Status::error("path `" + path.substr(0, path.find('\0')) + "...` contains a NUL byte");
  }
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) return Status::error("cannot open " + path);
  if (std::filesystem::is_directory(st)) return Status::error(path + " is a directory, not a file");
  if (!std::filesystem::is_regular_file(st)) return Status::error(path + " is not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::error("cannot read " + path);
  if (size > max_bytes) {
    return Status::error(path + " has " + std::to_string(size) + " bytes, more than the limit of " +
                         std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error("cannot open " + path);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    return Status::error("cannot read " + path);
  }
  return bytes;
}

}  // namespace triton_rt

// Implements atomic output with mkstemp + rename (POSIX rename within one directory is
// atomic). The temporary file is removed on every failure path.
#include "driver/output_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace triton::driver {
namespace {
std::string reason(int error_number) {
  std::string text = std::strerror(error_number);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}
}  // namespace

bool write_output_atomically(const std::string& path, std::string_view contents, std::string* error,
                             const std::string& source) {
  if (path == "-") {
    std::cout << contents;
    std::cout.flush();
    if (!std::cout) {
      *error = "cannot write to standard output";
      return false;
    }
    return true;
  }
  // stat (not lstat): a symbolic link to /dev/null is as much a device as /dev/null. A target
  // swapped between this check and the rename is outside what a compiler can prevent.
  struct stat target {};
  if (::stat(path.c_str(), &target) == 0) {
    if (!S_ISREG(target.st_mode)) {
      *error = S_ISDIR(target.st_mode) ? "it is a directory" : "it is not a regular file";
      return false;
    }
    struct stat input {};
    if (!source.empty() && source != "-" && ::stat(source.c_str(), &input) == 0 && input.st_dev == target.st_dev &&
        input.st_ino == target.st_ino) {
      *error = "it is the input file";
      return false;
    }
  }
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string pattern = (slash == std::string::npos ? std::string() : directory) + "." + base + ".tmp.XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    *error = reason(errno);
    return false;
  }
  const std::string temp(name.data());
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = reason(errno);
      ::close(fd);
      ::unlink(temp.c_str());
      return false;
    }
    written += static_cast<size_t>(n);
  }
  // mkstemp creates 0600; give the file the permissions a plain open() would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0) {
    *error = reason(errno);
    ::unlink(temp.c_str());
    return false;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    *error = reason(errno);
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace triton::driver

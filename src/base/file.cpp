#include "base/file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

namespace parley {

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::fmt("cannot open %s: %s", path.c_str(), std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Error::fmt("cannot stat %s: %s", path.c_str(), std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error::fmt("%s is not a regular file", path.c_str());
  }
  MappedFile f;
  f.path_ = path;
  f.size_ = static_cast<uint64_t>(st.st_size);
  if (f.size_ > 0) {
    void* p = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return Error::fmt("cannot map %s: %s", path.c_str(), std::strerror(e));
    }
    f.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return f;
}

Result<std::string> read_file(const std::string& path, uint64_t max_bytes) {
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) return Error::fmt("cannot open %s: %s", path.c_str(), std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) {
    out.append(buf, n);
    if (out.size() > max_bytes) {
      std::fclose(fp);
      return Error::fmt("%s is larger than %llu bytes", path.c_str(),
                        static_cast<unsigned long long>(max_bytes));
    }
  }
  bool failed = std::ferror(fp) != 0;
  std::fclose(fp);
  if (failed) return Error::fmt("error reading %s", path.c_str());
  return out;
}

Status write_file(const std::string& path, std::string_view bytes) {
  FILE* fp = std::fopen(path.c_str(), "wb");
  if (fp == nullptr) return Error::fmt("cannot create %s: %s", path.c_str(), std::strerror(errno));
  size_t n = std::fwrite(bytes.data(), 1, bytes.size(), fp);
  bool failed = n != bytes.size() || std::fclose(fp) != 0;
  if (failed) return Error::fmt("error writing %s", path.c_str());
  return {};
}

}  // namespace parley

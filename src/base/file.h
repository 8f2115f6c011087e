// Files: a read-only memory map (weights stay in the page cache, never copied) and whole-file
// reads for small text inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/result.h"

namespace parley {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps the whole file read-only. An empty file maps to size() == 0 and data() == nullptr.
  static Result<MappedFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

// Reads a whole file (text inputs: JSON, templates). Refuses files larger than max_bytes.
Result<std::string> read_file(const std::string& path, uint64_t max_bytes = 1ull << 30);
Status write_file(const std::string& path, std::string_view bytes);

}  // namespace parley

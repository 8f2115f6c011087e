// XXH64 (Yann Collet's xxHash, 64-bit): a fast non-cryptographic checksum for bulk data that
// must be checked on every read, such as the KV bytes of the prefix cache's files on disk
// (SHA-256 would cost more than the disk read). Streaming and one-shot forms give the same value;
// tested against the reference vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parley {

class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  uint64_t digest() const;  // the hash of everything so far (update may continue)

 private:
  uint64_t v_[4];
  uint64_t seed_;
  uint64_t n_total_ = 0;
  uint8_t buf_[32];
  size_t n_buf_ = 0;
};

// No default seed: xxh64("text", 5) must not read 5 bytes of a pointer.
uint64_t xxh64(const void* data, size_t n, uint64_t seed);
inline uint64_t xxh64(std::string_view s, uint64_t seed = 0) {
  return xxh64(s.data(), s.size(), seed);
}

}  // namespace parley

// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for signing thinking blocks: small, no
// dependency, tested against the standard vectors and Python's hashlib/hmac.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  Sha256Digest finish();  // the object must not be used afterwards

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t n_buf_ = 0;
  uint64_t n_bytes_ = 0;
};

Sha256Digest sha256(std::string_view data);
Sha256Digest hmac_sha256(std::string_view key, std::string_view message);

std::string to_hex(const Sha256Digest& d);
// Standard base64 with '=' padding (RFC 4648 §4).
std::string base64_encode(std::string_view bytes);

}  // namespace parley

// Signatures of thinking blocks: HMAC-SHA256 under a per-server secret (`--signing-key`, or one
// generated at start). A client that sends a thinking block back must send the signature it
// got with it; a block this server did not produce, or whose text was changed, is refused.
#pragma once

#include <string>
#include <string_view>

namespace parley::api {

class ThinkingSigner {
 public:
  explicit ThinkingSigner(std::string key) : key_(std::move(key)) {}

  // "parley1." + base64(HMAC-SHA256(key, thinking)).
  std::string sign(std::string_view thinking) const;
  // Constant-time comparison with what sign() gives.
  bool verify(std::string_view thinking, std::string_view signature) const;

 private:
  std::string key_;
};

}  // namespace parley::api

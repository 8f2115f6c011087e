#include "api/thinking-signer.h"

#include "base/sha256.h"

namespace parley::api {

std::string ThinkingSigner::sign(std::string_view thinking) const {
  // The context string keeps these MACs apart from any other use of the same key.
  std::string message = "parley thinking block\n";
  message += thinking;
  Sha256Digest d = hmac_sha256(key_, message);
  return "parley1." + base64_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

bool ThinkingSigner::verify(std::string_view thinking, std::string_view signature) const {
  const std::string expected = sign(thinking);
  if (expected.size() != signature.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < expected.size(); i++) {
    diff |= static_cast<unsigned>(static_cast<unsigned char>(expected[i]) ^ static_cast<unsigned char>(signature[i]));
  }
  return diff == 0;
}

}  // namespace parley::api

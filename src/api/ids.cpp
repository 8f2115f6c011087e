#include "api/ids.h"

namespace parley::api {
namespace {

// splitmix64's finalizer: a bijection on 64-bit values, so distinct counters give distinct ids.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void append_base62(std::string& out, uint64_t v, int n) {
  static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < n; i++) {
    out += digits[v % 62];
    v /= 62;
  }
}

}  // namespace

std::string IdGenerator::next(std::string_view prefix) {
  uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
  uint64_t a = mix(n ^ mix(key_));              // unique per counter value (a bijection of n)
  uint64_t b = mix(a + 0x9e3779b97f4a7c15ull);  // more letters, no extra uniqueness needed
  std::string id(prefix);
  append_base62(id, a, 11);  // 62^11 > 2^64: all of a
  append_base62(id, b, 13);
  return id;
}

}  // namespace parley::api

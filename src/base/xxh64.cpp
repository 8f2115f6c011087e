#include "base/xxh64.h"

#include <cstring>

namespace parley {
namespace {

constexpr uint64_t P1 = 11400714785074694791ull;
constexpr uint64_t P2 = 14029467366897019727ull;
constexpr uint64_t P3 = 1609587929392839161ull;
constexpr uint64_t P4 = 9650029242287828579ull;
constexpr uint64_t P5 = 2870177450012600261ull;

inline uint64_t rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}
inline uint64_t read64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian hosts only (x86-64, aarch64)
  return v;
}
inline uint32_t read32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t mix_round(uint64_t acc, uint64_t input) {
  acc += input * P2;
  acc = rotl(acc, 31);
  return acc * P1;
}
inline uint64_t merge(uint64_t acc, uint64_t v) {
  acc ^= mix_round(0, v);
  return acc * P1 + P4;
}

}  // namespace

Xxh64::Xxh64(uint64_t seed) : v_{seed + P1 + P2, seed + P2, seed, seed - P1}, seed_(seed) {}

void Xxh64::update(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  n_total_ += n;
  if (n_buf_ + n < 32) {
    if (n > 0) std::memcpy(buf_ + n_buf_, p, n);
    n_buf_ += n;
    return;
  }
  if (n_buf_ > 0) {
    size_t take = 32 - n_buf_;
    std::memcpy(buf_ + n_buf_, p, take);
    for (int i = 0; i < 4; i++) v_[i] = mix_round(v_[i], read64(buf_ + 8 * i));
    p += take;
    n -= take;
    n_buf_ = 0;
  }
  uint64_t v0 = v_[0], v1 = v_[1], v2 = v_[2], v3 = v_[3];
  while (n >= 32) {
    v0 = mix_round(v0, read64(p));
    v1 = mix_round(v1, read64(p + 8));
    v2 = mix_round(v2, read64(p + 16));
    v3 = mix_round(v3, read64(p + 24));
    p += 32;
    n -= 32;
  }
  v_[0] = v0, v_[1] = v1, v_[2] = v2, v_[3] = v3;
  if (n > 0) std::memcpy(buf_, p, n);
  n_buf_ = n;
}

uint64_t Xxh64::digest() const {
  uint64_t h;
  if (n_total_ >= 32) {
    h = rotl(v_[0], 1) + rotl(v_[1], 7) + rotl(v_[2], 12) + rotl(v_[3], 18);
    for (int i = 0; i < 4; i++) h = merge(h, v_[i]);
  } else {
    h = seed_ + P5;
  }
  h += n_total_;
  const uint8_t* p = buf_;
  size_t n = n_buf_;
  while (n >= 8) {
    h ^= mix_round(0, read64(p));
    h = rotl(h, 27) * P1 + P4;
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    h ^= static_cast<uint64_t>(read32(p)) * P1;
    h = rotl(h, 23) * P2 + P3;
    p += 4;
    n -= 4;
  }
  while (n > 0) {
    h ^= static_cast<uint64_t>(*p) * P5;
    h = rotl(h, 11) * P1;
    p++;
    n--;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

uint64_t xxh64(const void* data, size_t n, uint64_t seed) {
  Xxh64 h(seed);
  h.update(data, n);
  return h.digest();
}

}  // namespace parley

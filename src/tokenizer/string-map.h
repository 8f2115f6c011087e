// Flat hash maps for the tokenizer hot path: byte strings -> id (strings kept in one arena, looked
// up by string_view, no allocation per lookup) and (id, id) pairs -> merge. Open addressing with
// linear probing; sizes fixed at load, never resized while encoding.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace parley::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
  }
  h ^= h >> 32;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

class StringIdMap {
 public:
  StringIdMap() { rehash(16); }

  // Sets key -> id (a key set twice keeps the last id, as llama.cpp's token map does).
  void set(std::string_view key, int32_t id) {
    if ((count_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    uint64_t h = hash_bytes(key);
    size_t i = h & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.length == kEmpty) {
        s.hash = static_cast<uint32_t>(h);
        s.offset = arena_.size();
        s.length = static_cast<uint32_t>(key.size());
        s.id = id;
        arena_.append(key);
        count_++;
        return;
      }
      if (s.hash == static_cast<uint32_t>(h) && view(s) == key) {
        s.id = id;
        return;
      }
      i = (i + 1) & mask_;
    }
  }

  // Id of key; when absent, inserts it with `id` and returns -1 (one probe sequence for both).
  int32_t find_or_insert(std::string_view key, int32_t id) {
    if ((count_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    uint64_t h = hash_bytes(key);
    size_t i = h & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.length == kEmpty) {
        s.hash = static_cast<uint32_t>(h);
        s.offset = arena_.size();
        s.length = static_cast<uint32_t>(key.size());
        s.id = id;
        arena_.append(key);
        count_++;
        return -1;
      }
      if (s.hash == static_cast<uint32_t>(h) && view(s) == key) return s.id;
      i = (i + 1) & mask_;
    }
  }

  // Id of key, or -1.
  int32_t find(std::string_view key) const {
    uint64_t h = hash_bytes(key);
    size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.length == kEmpty) return -1;
      if (s.hash == static_cast<uint32_t>(h) && s.length == key.size() &&
          std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        return s.id;
      }
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return count_; }

  void reserve(size_t n) {
    size_t want = 16;
    while (want * 3 < n * 4 + 4) want *= 2;
    if (want > slots_.size()) rehash(want);
  }

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    uint64_t offset = 0;
    uint32_t length = kEmpty;
    uint32_t hash = 0;
    int32_t id = -1;
  };

  std::string_view view(const Slot& s) const { return {arena_.data() + s.offset, s.length}; }

  void rehash(size_t n) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    for (const Slot& s : old) {
      if (s.length == kEmpty) continue;
      size_t i = hash_bytes(view(s)) & mask_;
      while (slots_[i].length != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

// (left, right) symbol pair -> merge rank and merged symbol. The first insertion of a pair wins
// (the lowest rank), as llama.cpp's std::map::emplace does.
class PairMap {
 public:
  struct Value {
    int32_t rank = -1;
    int32_t result = -1;
  };

  PairMap() { rehash(16); }

  void reserve(size_t n) {
    size_t want = 16;
    while (want * 3 < n * 4 + 4) want *= 2;
    if (want > slots_.size()) rehash(want);
  }

  bool insert(uint32_t a, uint32_t b, Value v) {
    if ((count_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    uint64_t key = (static_cast<uint64_t>(a) << 32) | b;
    size_t i = mix(key) & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.key == kEmpty) {
        s.key = key;
        s.value = v;
        count_++;
        return true;
      }
      if (s.key == key) return false;
      i = (i + 1) & mask_;
    }
  }

  const Value* find(uint32_t a, uint32_t b) const {
    uint64_t key = (static_cast<uint64_t>(a) << 32) | b;
    size_t i = mix(key) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key = kEmpty;
    Value value;
  };
  static uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return x;
  }
  void rehash(size_t n) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = mix(s.key) & mask_;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace parley::tokenizer

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
    size_t i = probe(key);
    if (slots_[i].tag != 0) {
      slots_[i].value = id;
      return;
    }
    insert(key, id);
  }

  // Id of key; when absent, inserts it with `id` and returns -1.
  int32_t find_or_insert(std::string_view key, int32_t id) {
    size_t i = probe(key);
    if (slots_[i].tag != 0) return slots_[i].value;
    insert(key, id);
    return -1;
  }

  // Id of key, or -1.
  int32_t find(std::string_view key) const {
    const Slot& s = slots_[probe(key)];
    return s.tag != 0 ? s.value : -1;
  }

  size_t size() const { return entries_.size(); }

  void reserve(size_t n) {
    size_t want = 16;
    while (want * 3 < n * 4 + 4) want *= 2;
    if (want > slots_.size()) rehash(want);
    entries_.reserve(n);
  }

 private:
  // A slot holds the first 8 key bytes, a tag (hash bits, the length up to 9, never 0) and the
  // value: a key of up to 8 bytes (most lookups while merging) is found and compared within
  // one cache line. Longer keys are compared against the arena through slot_entry_.
  struct Slot {
    uint64_t prefix = 0;
    uint32_t tag = 0;  // 0: empty
    int32_t value = -1;
  };
  struct Entry {
    uint64_t offset;
    uint32_t length;
  };

  static uint32_t make_tag(uint64_t h, size_t len) {
    return (static_cast<uint32_t>(h >> 32) & ~0x1Fu) | 0x10u | static_cast<uint32_t>(len < 9 ? len : 9);
  }
  static uint64_t prefix_of(std::string_view key) {
    uint64_t p = 0;
    std::memcpy(&p, key.data(), key.size() < 8 ? key.size() : 8);
    return p;
  }

  // The slot holding key, or the empty slot where it would go.
  size_t probe(std::string_view key) const {
    uint64_t h = hash_bytes(key);
    uint32_t tag = make_tag(h, key.size());
    uint64_t prefix = prefix_of(key);
    size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return i;
      if (s.tag == tag && s.prefix == prefix) {
        if (key.size() <= 8) return i;
        const Entry& e = entries_[slot_entry_[i]];
        if (e.length == key.size() && std::memcmp(arena_.data() + e.offset, key.data(), key.size()) == 0) {
          return i;
        }
      }
      i = (i + 1) & mask_;
    }
  }

  void insert(std::string_view key, int32_t id) {
    if ((entries_.size() + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    size_t i = probe(key);
    uint64_t h = hash_bytes(key);
    slots_[i] = {prefix_of(key), make_tag(h, key.size()), id};
    slot_entry_[i] = static_cast<uint32_t>(entries_.size());
    entries_.push_back({arena_.size(), static_cast<uint32_t>(key.size())});
    arena_.append(key);
  }

  void rehash(size_t n) {
    std::vector<Slot> old_slots(n);
    std::vector<uint32_t> old_entry(n);
    old_slots.swap(slots_);
    old_entry.swap(slot_entry_);
    mask_ = n - 1;
    for (size_t k = 0; k < old_slots.size(); k++) {
      if (old_slots[k].tag == 0) continue;
      const Entry& e = entries_[old_entry[k]];
      size_t i = hash_bytes(std::string_view(arena_.data() + e.offset, e.length)) & mask_;
      while (slots_[i].tag != 0) i = (i + 1) & mask_;
      slots_[i] = old_slots[k];
      slot_entry_[i] = old_entry[k];
    }
  }

  std::vector<Slot> slots_;
  std::vector<uint32_t> slot_entry_;  // entry of each slot (key bytes in the arena)
  std::vector<Entry> entries_;
  std::string arena_;
  size_t mask_ = 0;
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

// Token ids of pieces already encoded during one encode call: a request repeats most of its
// words, and a hit costs one hash lookup instead of a merge loop. Pieces longer than kMaxKey
// are not kept.
class PieceCache {
 public:
  static constexpr size_t kMaxKey = 128;

  // Room for about n pieces without rehashing.
  void reserve(size_t n) {
    map_.reserve(n);
    ranges_.reserve(n);
  }

  // Appends the cached ids of key to out; false when key is not cached.
  bool get(std::string_view key, std::vector<int32_t>& out) const {
    int32_t i = map_.find(key);
    if (i < 0) return false;
    const auto [start, len] = ranges_[static_cast<size_t>(i)];
    out.insert(out.end(), ids_.begin() + start, ids_.begin() + start + len);
    return true;
  }
  // Remembers that key encodes to ids[from..].
  void put(std::string_view key, const std::vector<int32_t>& ids, size_t from) {
    if (key.size() > kMaxKey) return;
    map_.set(key, static_cast<int32_t>(ranges_.size()));
    ranges_.push_back({static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(ids.size() - from)});
    ids_.insert(ids_.end(), ids.begin() + static_cast<std::ptrdiff_t>(from), ids.end());
  }

 private:
  StringIdMap map_;
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
  std::vector<int32_t> ids_;
};

}  // namespace parley::tokenizer

// Splitting user text at special tokens, with llama.cpp's exact precedence: the special tokens
// are taken longest first; for each, its occurrences are claimed left to right inside the
// stretches that are still raw text. Occurrences are found in one scan of the text (bucketed
// by first byte), then applied token by token in one merge-like pass over the fragments.
#include <algorithm>
#include <cstring>

#include "tokenizer/tokenizer-impl.h"

namespace parley::tokenizer {
namespace {

bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

struct Occurrence {
  uint32_t rank;  // position of the token in index.order
  size_t pos;
};

// Whether [pos, pos + len) shares a byte with one of the sorted, disjoint ranges.
bool touches(std::span<const TextRange> ranges, size_t pos, size_t len) {
  auto it = std::lower_bound(ranges.begin(), ranges.end(), pos,
                             [](const TextRange& r, size_t p) { return r.end <= p; });
  return it != ranges.end() && it->begin < pos + len;
}

}  // namespace

void split_special(const Tokenizer::Impl& impl, const SpecialIndex& index, std::string_view text,
                   std::vector<Fragment>& out, std::span<const TextRange> plain) {
  out.clear();
  if (text.empty()) return;
  out.push_back({-1, 0, text.size()});
  if (!index.any) return;

  std::vector<Occurrence> occ;
  for (size_t pos = 0; pos < text.size(); pos++) {
    const auto& bucket = index.by_first_byte[static_cast<unsigned char>(text[pos])];
    for (const SpecialIndex::Entry& e : bucket) {
      const std::string& t = impl.text[static_cast<size_t>(e.id)];
      if (t.size() <= text.size() - pos && std::memcmp(text.data() + pos, t.data(), t.size()) == 0 &&
          (plain.empty() || !touches(plain, pos, t.size()))) {
        occ.push_back({e.rank, pos});
      }
    }
  }
  if (occ.empty()) return;
  std::sort(occ.begin(), occ.end(), [](const Occurrence& a, const Occurrence& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
  });

  std::vector<Fragment> next;
  for (size_t i = 0; i < occ.size();) {
    size_t j = i;
    while (j < occ.size() && occ[j].rank == occ[i].rank) j++;
    TokenId id = index.order[occ[i].rank];
    const size_t len = impl.text[static_cast<size_t>(id)].size();
    const uint32_t a = impl.attr[static_cast<size_t>(id)];
    next.clear();
    size_t k = i;  // next occurrence of this token
    for (const Fragment& f : out) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const size_t end = f.offset + f.length;
      size_t cursor = f.offset;
      while (k < j && occ[k].pos < cursor) k++;
      while (k < j && occ[k].pos + len <= end) {
        size_t p = occ[k].pos;
        if (p < cursor) {
          k++;
          continue;
        }
        size_t left_len = p - cursor;
        if (a & kAttrLstrip) {
          while (left_len > 0 && is_ascii_space(text[cursor + left_len - 1])) left_len--;
        }
        if (left_len > 0) next.push_back({-1, cursor, left_len});
        next.push_back({id, p, len});
        cursor = p + len;
        if (a & kAttrRstrip) {
          while (cursor < end && is_ascii_space(text[cursor])) cursor++;
        }
        k++;
      }
      if (cursor < end) next.push_back({-1, cursor, end - cursor});
      while (k < j && occ[k].pos < end) k++;
    }
    out.swap(next);
    i = j;
  }
}

}  // namespace parley::tokenizer

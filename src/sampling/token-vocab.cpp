#include "sampling/token-vocab.h"

#include <algorithm>

#include "base/check.h"
#include "base/utf8.h"

namespace parley::sampling {

namespace {

TokenTrie build_trie(const TokenVocab& v, std::vector<TokenId> ids) {
  std::sort(ids.begin(), ids.end(), [&](TokenId a, TokenId b) {
    auto x = v.bytes(a), y = v.bytes(b);
    return x != y ? x < y : a < b;
  });
  TokenTrie t;
  t.tokens = ids;
  std::vector<uint32_t> path;  // node index per depth - 1
  std::string_view prev;
  for (size_t k = 0; k < ids.size(); k++) {
    std::string_view s = v.bytes(ids[k]);
    size_t lcp = 0;
    while (lcp < s.size() && lcp < prev.size() && s[lcp] == prev[lcp]) lcp++;
    // Identical bytes: the same node gets one more token.
    while (path.size() > lcp) {
      t.nodes[path.back()].end = static_cast<uint32_t>(t.nodes.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < s.size(); d++) {
      TokenTrie::Node n;
      n.byte = static_cast<uint8_t>(s[d]);
      n.depth = static_cast<uint16_t>(d + 1);
      path.push_back(static_cast<uint32_t>(t.nodes.size()));
      t.nodes.push_back(n);
    }
    TokenTrie::Node& last = t.nodes[path.back()];
    if (last.tok_count == 0) last.tok_begin = static_cast<uint32_t>(k);
    last.tok_count++;
    t.max_depth = std::max(t.max_depth, s.size());
    prev = s;
  }
  while (!path.empty()) {
    t.nodes[path.back()].end = static_cast<uint32_t>(t.nodes.size());
    path.pop_back();
  }
  return t;
}

// Whether s (1-3 bytes) can begin a valid UTF-8 sequence: a lead byte and continuation bytes
// inside the ranges RFC 3629 allows (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8_prefix(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  int n = utf8::sequence_length(b(0));
  if (n < 2 || s.size() >= static_cast<size_t>(n)) return false;
  if (s.size() >= 2) {
    unsigned char lo = 0x80, hi = 0xBF;
    if (b(0) == 0xE0) lo = 0xA0;
    if (b(0) == 0xED) hi = 0x9F;
    if (b(0) == 0xF0) lo = 0x90;
    if (b(0) == 0xF4) hi = 0x8F;
    if (b(1) < lo || b(1) > hi) return false;
  }
  return s.size() < 3 || (b(2) >= 0x80 && b(2) <= 0xBF);
}

// Code points in s when s can sit inside a JSON string from a character boundary: whole code
// points none of which is '"', '\\' or below U+0020, optionally ending with the valid start of
// one more (counted: it begins a character); 0 otherwise.
uint32_t string_safe_length(std::string_view s) {
  uint32_t n = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c < 0x20) return 0;
    size_t len = 0;
    if (utf8::decode(s, i, &len) < 0) return valid_utf8_prefix(s.substr(i)) ? n + 1 : 0;
    i += len;
    n++;
  }
  return n;
}

}  // namespace

TokenVocab TokenVocab::from_tokenizer(const tokenizer::Tokenizer& tok) {
  std::vector<std::string> pieces(static_cast<size_t>(tok.n_vocab()));
  std::vector<Kind> kinds(pieces.size(), Kind::text);
  for (TokenId id = 0; id < tok.n_vocab(); id++) {
    pieces[id] = std::string(tok.piece_view(id, true));
    if (tok.is_eog(id)) {
      kinds[id] = Kind::eog;
    } else if (pieces[id].empty()) {
      kinds[id] = Kind::none;
    } else if (tok.is_special(id) || tok.is_control(id)) {
      kinds[id] = Kind::special;
    }
  }
  return from_pieces(std::move(pieces), std::move(kinds));
}

TokenVocab TokenVocab::from_pieces(std::vector<std::string> pieces, std::vector<Kind> kinds) {
  PARLEY_CHECK(pieces.size() == kinds.size());
  TokenVocab v;
  v.offsets_.push_back(0);
  for (size_t i = 0; i < pieces.size(); i++) {
    if (kinds[i] != Kind::eog && pieces[i].empty()) kinds[i] = Kind::none;
    v.pool_ += pieces[i];
    v.offsets_.push_back(static_cast<uint32_t>(v.pool_.size()));
  }
  v.kinds_ = std::move(kinds);
  v.index();
  return v;
}

void TokenVocab::index() {
  std::vector<TokenId> text, unsafe;
  safe_mask_.assign(n_mask_words(), 0);
  for (TokenId id = 0; id < n_vocab(); id++) {
    max_bytes_ = std::max(max_bytes_, bytes(id).size());
    switch (kinds_[id]) {
      case Kind::special: special_.push_back(id); break;
      case Kind::eog: eog_.push_back(id); break;
      case Kind::none: break;
      case Kind::text: {
        text.push_back(id);
        uint32_t n = string_safe_length(bytes(id));
        if (n == 0) {
          unsafe.push_back(id);
        } else {
          safe_mask_[id >> 5] |= uint32_t{1} << (id & 31);
          safe_by_len_.push_back({n, id});
        }
        break;
      }
    }
  }
  std::sort(safe_by_len_.begin(), safe_by_len_.end(),
            [](auto a, auto b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  all_ = build_trie(*this, std::move(text));
  unsafe_ = build_trie(*this, std::move(unsafe));
}

}  // namespace parley::sampling

#include "tokenizer/spm-model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

namespace parley::tokenizer {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581
// Segments up to this many characters merge by scanning; longer ones use a heap.
constexpr size_t kLinearMax = 32;
constexpr size_t kMemoSize = 16384;

// Bytes a UTF-8 sequence claims from its first byte (llama.cpp's table: continuation and
// invalid lead bytes count as 1, 0xF8..0xFF as 4; clipped at the end of the text).
size_t char_len(unsigned char c) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[c >> 4];
}

}  // namespace

SpmModel SpmModel::build(const std::vector<std::string>& tokens, const std::vector<float>& scores,
                         int32_t unk_id) {
  SpmModel m;
  m.map_.reserve(tokens.size());
  for (size_t id = 0; id < tokens.size(); id++) m.map_.set(tokens[id], static_cast<int32_t>(id));
  m.scores_ = scores;
  m.scores_.resize(tokens.size(), 0.0f);
  m.unk_id_ = unk_id;
  for (int b = 0; b < 256; b++) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    int32_t id = m.map_.find(hex);
    if (id < 0) {
      char c = static_cast<char>(b);
      id = m.map_.find(std::string_view(&c, 1));
    }
    m.byte_token_[b] = id;
  }
  for (const std::string& t : tokens) {
    for (size_t k = t.find(kSpace, 1); k != std::string::npos; k = t.find(kSpace, k + 1)) {
      m.joins_space_[static_cast<unsigned char>(t[k - 1])] = true;
    }
  }
  return m;
}

void SpmModel::emit(std::string_view text, uint32_t start, uint32_t len,
                    std::vector<int32_t>& out) const {
  int32_t id = map_.find(text.substr(start, len));
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  for (uint32_t i = start; i < start + len; i++) {
    int32_t b = byte_token_[static_cast<unsigned char>(text[i])];
    if (b < 0) b = unk_id_;
    if (b >= 0) out.push_back(b);
  }
}

int32_t SpmModel::lookup(std::string_view piece, SpmScratch& s) const {
  if (piece.size() > 7) return map_.find(piece);
  uint64_t key = static_cast<uint64_t>(piece.size()) << 56;
  std::memcpy(&key, piece.data(), piece.size());
  key |= static_cast<uint64_t>(piece.size()) << 56;
  uint64_t h = key * 0x9E3779B97F4A7C15ull;
  SpmScratch::Memo& m = s.memo[(h >> 52) & (kMemoSize - 1)];
  if (m.key != key) {
    m.key = key;
    m.id = map_.find(piece);
  }
  return m.id;
}

void SpmModel::encode(std::string_view text, SpmScratch& s, std::vector<int32_t>& out) const {
  if (s.memo.empty()) s.memo.resize(kMemoSize);
  size_t seg = 0;
  for (size_t p = text.find(kSpace, 1); p != std::string_view::npos; p = text.find(kSpace, p + 1)) {
    if (joins_space_[static_cast<unsigned char>(text[p - 1])]) continue;
    encode_segment(text.substr(seg, p - seg), s, out);
    seg = p;
  }
  encode_segment(text.substr(seg), s, out);
}

void SpmModel::encode_segment(std::string_view text, SpmScratch& s, std::vector<int32_t>& out) const {
  if (text.empty() || s.cache.get(text, out)) return;
  const size_t first = out.size();
  s.start.clear();
  s.len.clear();
  for (size_t pos = 0; pos < text.size();) {
    size_t n = std::min(char_len(static_cast<unsigned char>(text[pos])), text.size() - pos);
    s.start.push_back(static_cast<uint32_t>(pos));
    s.len.push_back(static_cast<uint32_t>(n));
    pos += n;
  }
  if (s.start.size() <= kLinearMax) {
    encode_linear(text, s, out);
  } else {
    encode_heap(text, s, out);
  }
  s.cache.put(text, out, first);
}

// Repeatedly merges the adjacent pair whose concatenation is the best-scoring entry (the
// leftmost on a tie): the order llama.cpp's priority queue pops them in.
void SpmModel::encode_linear(std::string_view text, SpmScratch& s, std::vector<int32_t>& out) const {
  size_t n = s.start.size();
  s.score.resize(n);
  std::vector<int32_t>& ok = s.next;  // 1 when the pair (i, i+1) is a vocabulary entry
  ok.resize(n);
  auto look = [&](size_t i) {
    int32_t id = lookup(text.substr(s.start[i], s.len[i] + s.len[i + 1]), s);
    ok[i] = id >= 0;
    if (id >= 0) s.score[i] = scores_[static_cast<size_t>(id)];
  };
  for (size_t i = 0; i + 1 < n; i++) look(i);
  while (n > 1) {
    size_t best = n;
    for (size_t i = 0; i + 1 < n; i++) {
      if (ok[i] && (best == n || s.score[i] > s.score[best])) best = i;
    }
    if (best == n) break;
    s.len[best] += s.len[best + 1];
    for (size_t i = best + 1; i + 1 < n; i++) {
      s.start[i] = s.start[i + 1];
      s.len[i] = s.len[i + 1];
      s.score[i] = s.score[i + 1];
      ok[i] = ok[i + 1];
    }
    n--;
    if (best > 0) look(best - 1);
    if (best + 1 < n) look(best);
  }
  for (size_t i = 0; i < n; i++) emit(text, s.start[i], s.len[i], out);
}

void SpmModel::encode_heap(std::string_view text, SpmScratch& s, std::vector<int32_t>& out) const {
  const auto count = static_cast<int32_t>(s.start.size());
  s.prev.resize(static_cast<size_t>(count));
  s.next.resize(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; i++) {
    s.prev[static_cast<size_t>(i)] = i - 1;
    s.next[static_cast<size_t>(i)] = i + 1 < count ? i + 1 : -1;
  }
  s.heap.clear();
  // Max-heap on score; on a tie the smaller left index comes first.
  auto before = [](const SpmScratch::Bigram& a, const SpmScratch::Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  auto push = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    uint32_t start = s.start[static_cast<size_t>(left)];
    uint32_t size = s.len[static_cast<size_t>(left)] + s.len[static_cast<size_t>(right)];
    int32_t id = lookup(text.substr(start, size), s);
    if (id < 0) return;
    s.heap.push_back({scores_[static_cast<size_t>(id)], left, right, size});
    std::push_heap(s.heap.begin(), s.heap.end(), before);
  };
  for (int32_t i = 0; i + 1 < count; i++) push(i, i + 1);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), before);
    SpmScratch::Bigram b = s.heap.back();
    s.heap.pop_back();
    auto L = static_cast<size_t>(b.left), R = static_cast<size_t>(b.right);
    // Outdated when a side was merged away or has grown (llama.cpp's check).
    if (s.len[L] == 0 || s.len[R] == 0 || s.len[L] + s.len[R] != b.size) continue;
    s.len[L] += s.len[R];
    s.len[R] = 0;
    s.next[L] = s.next[R];
    if (s.next[R] >= 0) s.prev[static_cast<size_t>(s.next[R])] = b.left;
    push(s.prev[L], b.left);
    push(b.left, s.next[L]);
  }
  for (int32_t i = 0; i >= 0; i = s.next[static_cast<size_t>(i)]) {
    auto k = static_cast<size_t>(i);
    emit(text, s.start[k], s.len[k], out);
  }
}

}  // namespace parley::tokenizer

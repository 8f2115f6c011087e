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
constexpr size_t kMemoSize = 8192;

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
  const size_t n = tokens.size();
  m.map_.reserve(n);
  for (size_t id = 0; id < n; id++) m.map_.set(tokens[id], static_cast<int32_t>(id));
  m.scores_ = scores;
  m.scores_.resize(n, 0.0f);
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
  // Symbols: the entries (by the id their text maps to), then the characters inside them.
  m.syms_.reserve(n + 4096);
  m.token_sym_.assign(n, -1);
  auto intern = [&](std::string_view text) {
    auto next = static_cast<int32_t>(m.sym_token_.size());
    int32_t s = m.syms_.find_or_insert(text, next);
    if (s >= 0) return s;
    m.sym_token_.push_back(-1);
    return next;
  };
  for (size_t id = 0; id < n; id++) {
    int32_t s = intern(tokens[id]);
    if (m.map_.find(tokens[id]) == static_cast<int32_t>(id)) m.sym_token_[static_cast<size_t>(s)] = static_cast<int32_t>(id);
    m.token_sym_[id] = s;
  }
  for (const std::string& t : tokens) {
    for (size_t pos = 0; pos < t.size();) {
      size_t len = std::min(char_len(static_cast<unsigned char>(t[pos])), t.size() - pos);
      intern(std::string_view(t).substr(pos, len));
      pos += len;
    }
  }
  for (int c = 0; c < 128; c++) {
    char ch = static_cast<char>(c);
    m.ascii_sym_[c] = m.syms_.find(std::string_view(&ch, 1));
  }
  // Every split of an entry into two symbols, at a character boundary, is a candidate merge.
  for (size_t id = 0; id < n; id++) {
    const std::string& t = tokens[id];
    if (m.map_.find(t) != static_cast<int32_t>(id)) continue;  // a repeated text: the last id
    for (size_t k = std::min(char_len(static_cast<unsigned char>(t[0])), t.size()); k < t.size();) {
      int32_t a = m.syms_.find(std::string_view(t).substr(0, k));
      int32_t b = a < 0 ? -1 : m.syms_.find(std::string_view(t).substr(k));
      if (b >= 0) {
        int32_t bits;
        std::memcpy(&bits, &m.scores_[id], sizeof bits);
        m.pairs_.insert(static_cast<uint32_t>(a), static_cast<uint32_t>(b), {bits, static_cast<int32_t>(id)});
      }
      k += std::min(char_len(static_cast<unsigned char>(t[k])), t.size() - k);
    }
  }
  return m;
}

int32_t SpmModel::pair_token(int32_t a, int32_t b, float* score, SpmScratch& s) const {
  if (a < 0 || b < 0) return -1;
  uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  SpmScratch::Memo& m = s.memo[((key * 0x9E3779B97F4A7C15ull) >> 40) & (kMemoSize - 1)];
  if (m.key != key) {
    const PairMap::Value* v = pairs_.find(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
    m.key = key;
    m.token = v ? v->result : -1;
    if (v) std::memcpy(&m.score, &v->rank, sizeof m.score);
  }
  *score = m.score;
  return m.token;
}

void SpmModel::emit(std::string_view text, uint32_t start, uint32_t len, int32_t sym,
                    std::vector<int32_t>& out) const {
  int32_t id = sym >= 0 ? sym_token_[static_cast<size_t>(sym)] : -1;
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
  s.sym.clear();
  for (size_t pos = 0; pos < text.size();) {
    auto c = static_cast<unsigned char>(text[pos]);
    size_t n = std::min(char_len(c), text.size() - pos);
    s.start.push_back(static_cast<uint32_t>(pos));
    s.len.push_back(static_cast<uint32_t>(n));
    s.sym.push_back(c < 0x80 ? ascii_sym_[c] : syms_.find(text.substr(pos, n)));
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
  s.pair.resize(n);
  auto look = [&](size_t i) { s.pair[i] = pair_token(s.sym[i], s.sym[i + 1], &s.score[i], s); };
  for (size_t i = 0; i + 1 < n; i++) look(i);
  while (n > 1) {
    size_t best = n;
    for (size_t i = 0; i + 1 < n; i++) {
      if (s.pair[i] >= 0 && (best == n || s.score[i] > s.score[best])) best = i;
    }
    if (best == n) break;
    s.len[best] += s.len[best + 1];
    s.sym[best] = token_sym_[static_cast<size_t>(s.pair[best])];
    for (size_t i = best + 1; i + 1 < n; i++) {
      s.start[i] = s.start[i + 1];
      s.len[i] = s.len[i + 1];
      s.sym[i] = s.sym[i + 1];
      s.score[i] = s.score[i + 1];
      s.pair[i] = s.pair[i + 1];
    }
    n--;
    if (best > 0) look(best - 1);
    if (best + 1 < n) look(best);
  }
  for (size_t i = 0; i < n; i++) emit(text, s.start[i], s.len[i], s.sym[i], out);
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
    float score = 0;
    int32_t token = pair_token(s.sym[static_cast<size_t>(left)], s.sym[static_cast<size_t>(right)], &score, s);
    if (token < 0) return;
    uint32_t size = s.len[static_cast<size_t>(left)] + s.len[static_cast<size_t>(right)];
    s.heap.push_back({score, left, right, size, token});
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
    s.sym[L] = token_sym_[static_cast<size_t>(b.token)];
    s.next[L] = s.next[R];
    if (s.next[R] >= 0) s.prev[static_cast<size_t>(s.next[R])] = b.left;
    push(s.prev[L], b.left);
    push(b.left, s.next[L]);
  }
  for (int32_t i = 0; i >= 0; i = s.next[static_cast<size_t>(i)]) {
    auto k = static_cast<size_t>(i);
    emit(text, s.start[k], s.len[k], s.sym[k], out);
  }
}

}  // namespace parley::tokenizer

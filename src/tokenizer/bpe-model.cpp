#include "tokenizer/bpe-model.h"

#include <algorithm>
#include <array>
#include <climits>

#include "base/check.h"
#include "base/utf8.h"

namespace parley::tokenizer {
namespace {

// Bytes GPT-2 shows as themselves: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF. The other 68
// bytes map, in byte order, to U+0100 and up.
bool printable(uint8_t b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

struct Gpt2Table {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 0x144> to_byte{};  // code points below 0x144 only
  Gpt2Table() {
    to_byte.fill(-1);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; b++) {
      uint32_t cp = printable(static_cast<uint8_t>(b)) ? static_cast<uint32_t>(b) : next++;
      to_cp[static_cast<size_t>(b)] = cp;
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const Gpt2Table& gpt2_table() {
  static const Gpt2Table table;
  return table;
}

// Linear merging is quadratic but has no heap overhead; long pieces use the heap.
constexpr size_t kLinearMax = 48;

}  // namespace

uint32_t gpt2_byte_to_cp(uint8_t b) { return gpt2_table().to_cp[b]; }

int gpt2_cp_to_byte(uint32_t cp) {
  return cp < gpt2_table().to_byte.size() ? gpt2_table().to_byte[cp] : -1;
}

bool gpt2_unmap(std::string_view mapped, std::string& out) {
  out.clear();
  for (size_t pos = 0; pos < mapped.size();) {
    size_t len = 1;
    int32_t cp = utf8::decode(mapped, pos, &len);
    int b = cp < 0 ? -1 : gpt2_cp_to_byte(static_cast<uint32_t>(cp));
    if (b < 0) return false;
    out += static_cast<char>(b);
    pos += len;
  }
  return true;
}

std::string gpt2_map(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) utf8::append(out, gpt2_byte_to_cp(c));
  return out;
}

int32_t BpeModel::intern(std::string_view raw) {
  auto next = static_cast<int32_t>(sym_token_.size());
  int32_t s = syms_.find_or_insert(raw, next);
  if (s >= 0) return s;
  sym_token_.push_back(-1);
  return next;
}

BpeModel BpeModel::build(const std::vector<std::string>& tokens,
                         const std::vector<std::string>& merges, bool byte_encode) {
  BpeModel m;
  m.byte_pairs_.assign(256 * 256, PairMap::Value{});
  m.syms_.reserve(tokens.size() + 256);
  m.sym_token_.reserve(tokens.size() + 256);
  std::string raw, left, right, joined;
  std::array<int32_t, 256> one_char;  // token whose stored text is exactly this one byte
  one_char.fill(-1);
  std::array<int32_t, 256> hex_byte;  // <0xNN> tokens
  hex_byte.fill(-1);
  // Single bytes first: their symbols are 0..255, so pairs of bytes use a direct table.
  for (int b = 0; b < 256; b++) {
    char c = static_cast<char>(b);
    m.byte_sym_[b] = m.intern(std::string_view(&c, 1));
  }
  for (size_t id = 0; id < tokens.size(); id++) {
    const std::string& t = tokens[id];
    if (t.size() == 1) one_char[static_cast<unsigned char>(t[0])] = static_cast<int32_t>(id);
    if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
      unsigned v = 0;
      if (std::sscanf(t.c_str() + 3, "%2X", &v) == 1) hex_byte[v & 0xFF] = static_cast<int32_t>(id);
    }
    bool ok = byte_encode ? gpt2_unmap(t, raw) : (raw = t, true);
    if (!ok) continue;  // not representable as bytes: never produced by merging
    int32_t s = m.intern(raw);
    m.sym_token_[static_cast<size_t>(s)] = static_cast<int32_t>(id);
  }
  for (int b = 0; b < 256; b++) {
    if (byte_encode) {
      std::string mapped;
      utf8::append(mapped, gpt2_byte_to_cp(static_cast<uint8_t>(b)));
      for (unsigned char u : mapped) {
        if (one_char[u] >= 0) m.fallback_[b].push_back(one_char[u]);
      }
    } else if (hex_byte[static_cast<size_t>(b)] >= 0) {
      m.fallback_[b].push_back(hex_byte[static_cast<size_t>(b)]);
    }
  }
  m.merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); r++) {
    const std::string& line = merges[r];
    // llama.cpp splits at the first space after the first character.
    size_t sp = line.find(' ', 1);
    if (sp == std::string::npos) continue;
    std::string_view a(line.data(), sp), b(line.data() + sp + 1, line.size() - sp - 1);
    if (byte_encode) {
      if (!gpt2_unmap(a, left) || !gpt2_unmap(b, right)) continue;
    } else {
      left = a;
      right = b;
    }
    if (left.empty() || right.empty()) continue;
    int32_t sa = m.intern(left), sb = m.intern(right);
    joined.assign(left).append(right);
    int32_t sc = m.intern(joined);
    if (m.merges_.insert(static_cast<uint32_t>(sa), static_cast<uint32_t>(sb),
                         {static_cast<int32_t>(r), sc})) {
      m.n_merges_++;
      if (sa < 256 && sb < 256) m.byte_pairs_[static_cast<size_t>(sa * 256 + sb)] = {static_cast<int32_t>(r), sc};
    }
  }
  return m;
}

int32_t BpeModel::rank_of(int32_t a, int32_t b, int32_t* result) const {
  if ((a | b) < 256) {
    const PairMap::Value& v = byte_pairs_[static_cast<size_t>(a * 256 + b)];
    if (v.rank < 0) return INT32_MAX;
    *result = v.result;
    return v.rank;
  }
  const PairMap::Value* v = merges_.find(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
  if (v == nullptr) return INT32_MAX;
  *result = v->result;
  return v->rank;
}

void BpeModel::emit(std::string_view piece, uint32_t start, uint32_t len, int32_t sym,
                    std::vector<int32_t>& out) const {
  int32_t tok = sym_token_[static_cast<size_t>(sym)];
  if (tok >= 0) {
    out.push_back(tok);
    return;
  }
  for (uint32_t i = start; i < start + len; i++) {
    for (int32_t id : fallback_[static_cast<unsigned char>(piece[i])]) out.push_back(id);
  }
}

void BpeModel::encode(std::string_view piece, bool ignore_merges, BpeScratch& scratch,
                      std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges || piece.size() == 1) {
    int32_t s = syms_.find(piece);
    if (s >= 0 && sym_token_[static_cast<size_t>(s)] >= 0) {
      out.push_back(sym_token_[static_cast<size_t>(s)]);
      return;
    }
    if (piece.size() == 1) {
      emit(piece, 0, 1, byte_sym_[static_cast<unsigned char>(piece[0])], out);
      return;
    }
  }
  if (scratch.cache.get(piece, out)) return;
  const size_t first = out.size();
  if (piece.size() <= kLinearMax) {
    encode_linear(piece, scratch, out);
  } else {
    encode_heap(piece, scratch, out);
  }
  scratch.cache.put(piece, out, first);
}

// Repeatedly merges the adjacent pair with the lowest rank (the leftmost on a tie), which is
// the order llama.cpp's priority queue pops them in.
void BpeModel::encode_linear(std::string_view piece, BpeScratch& s,
                             std::vector<int32_t>& out) const {
  size_t n = piece.size();
  s.sym.resize(n);
  s.start.resize(n);
  s.rank.resize(n);
  s.prev.resize(n);  // merged symbol of pair (i, i+1)
  for (size_t i = 0; i < n; i++) {
    s.sym[i] = byte_sym_[static_cast<unsigned char>(piece[i])];
    s.start[i] = static_cast<uint32_t>(i);
  }
  for (size_t i = 0; i + 1 < n; i++) s.rank[i] = rank_of(s.sym[i], s.sym[i + 1], &s.prev[i]);
  while (n > 1) {
    size_t best = 0;
    int32_t best_rank = INT32_MAX;
    for (size_t i = 0; i + 1 < n; i++) {
      if (s.rank[i] < best_rank) {
        best_rank = s.rank[i];
        best = i;
      }
    }
    if (best_rank == INT32_MAX) break;
    s.sym[best] = s.prev[best];
    for (size_t i = best + 1; i + 1 < n; i++) {
      s.sym[i] = s.sym[i + 1];
      s.start[i] = s.start[i + 1];
      s.rank[i] = s.rank[i + 1];
      s.prev[i] = s.prev[i + 1];
    }
    n--;
    if (best > 0) s.rank[best - 1] = rank_of(s.sym[best - 1], s.sym[best], &s.prev[best - 1]);
    if (best + 1 < n) s.rank[best] = rank_of(s.sym[best], s.sym[best + 1], &s.prev[best]);
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t end = i + 1 < n ? s.start[i + 1] : static_cast<uint32_t>(piece.size());
    emit(piece, s.start[i], end - s.start[i], s.sym[i], out);
  }
}

void BpeModel::encode_heap(std::string_view piece, BpeScratch& s,
                           std::vector<int32_t>& out) const {
  const int32_t n = static_cast<int32_t>(piece.size());
  s.sym.resize(static_cast<size_t>(n));
  s.start.resize(static_cast<size_t>(n));
  s.len.resize(static_cast<size_t>(n));
  s.prev.resize(static_cast<size_t>(n));
  s.next.resize(static_cast<size_t>(n));
  s.heap.clear();
  for (int32_t i = 0; i < n; i++) {
    s.sym[static_cast<size_t>(i)] = byte_sym_[static_cast<unsigned char>(piece[static_cast<size_t>(i)])];
    s.start[static_cast<size_t>(i)] = static_cast<uint32_t>(i);
    s.len[static_cast<size_t>(i)] = 1;
    s.prev[static_cast<size_t>(i)] = i - 1;
    s.next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
  }
  // Min-heap on (rank, left).
  auto later = [](const BpeScratch::Bigram& a, const BpeScratch::Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  auto push = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    int32_t result = -1;
    int32_t sl = s.sym[static_cast<size_t>(left)], sr = s.sym[static_cast<size_t>(right)];
    int32_t rank = rank_of(sl, sr, &result);
    if (rank == INT32_MAX) return;
    s.heap.push_back({rank, left, right, sl, sr});
    std::push_heap(s.heap.begin(), s.heap.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; i++) push(i, i + 1);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), later);
    BpeScratch::Bigram b = s.heap.back();
    s.heap.pop_back();
    auto L = static_cast<size_t>(b.left), R = static_cast<size_t>(b.right);
    // Outdated when either side has changed since the pair was queued.
    if (s.sym[L] != b.sym_left || s.next[L] != b.right || s.sym[R] != b.sym_right) continue;
    int32_t result = -1;
    rank_of(b.sym_left, b.sym_right, &result);
    s.sym[L] = result;
    s.len[L] += s.len[R];
    s.sym[R] = -1;
    s.next[L] = s.next[R];
    if (s.next[R] >= 0) s.prev[static_cast<size_t>(s.next[R])] = b.left;
    push(s.prev[L], b.left);
    push(b.left, s.next[L]);
  }
  for (int32_t i = 0; i >= 0; i = s.next[static_cast<size_t>(i)]) {
    auto k = static_cast<size_t>(i);
    emit(piece, s.start[k], s.len[k], s.sym[k], out);
  }
}

}  // namespace parley::tokenizer

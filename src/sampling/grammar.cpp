#include "sampling/grammar.h"

#include <algorithm>
#include <unordered_map>

#include "base/check.h"

namespace parley::sampling {

namespace {

constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// Sorted, merged ranges with the surrogates (U+D800..U+DFFF) taken out.
std::vector<CodepointRange> normalize(std::span<const CodepointRange> in, bool negated) {
  std::vector<CodepointRange> r;
  for (auto c : in) {
    if (c.lo > c.hi || c.lo > kMaxCodepoint) continue;
    r.push_back({c.lo, std::min(c.hi, kMaxCodepoint)});
  }
  std::sort(r.begin(), r.end(), [](auto a, auto b) { return a.lo < b.lo; });
  std::vector<CodepointRange> merged;
  for (auto c : r) {
    if (!merged.empty() && c.lo <= merged.back().hi + 1) {
      merged.back().hi = std::max(merged.back().hi, c.hi);
    } else {
      merged.push_back(c);
    }
  }
  if (negated) {
    std::vector<CodepointRange> comp;
    uint32_t next = 0;
    for (auto c : merged) {
      if (c.lo > next) comp.push_back({next, c.lo - 1});
      next = c.hi + 1;
    }
    if (next <= kMaxCodepoint) comp.push_back({next, kMaxCodepoint});
    merged.swap(comp);
  }
  std::vector<CodepointRange> out;
  for (auto c : merged) {
    if (c.hi < 0xD800 || c.lo > 0xDFFF) {
      out.push_back(c);
      continue;
    }
    if (c.lo < 0xD800) out.push_back({c.lo, 0xD7FF});
    if (c.hi > 0xDFFF) out.push_back({0xE000, c.hi});
  }
  return out;
}

int utf8_len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

std::array<uint8_t, 4> utf8_bytes(uint32_t cp, int n) {
  std::array<uint8_t, 4> b{};
  if (n == 1) {
    b[0] = static_cast<uint8_t>(cp);
    return b;
  }
  for (int i = n - 1; i > 0; i--) {
    b[i] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    cp >>= 6;
  }
  static constexpr uint8_t lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
  b[0] = static_cast<uint8_t>(lead[n] | cp);
  return b;
}

}  // namespace

GrammarBuilder::GrammarBuilder() { empty_ = add(Node{}); }

NodeId GrammarBuilder::add(Node n) {
  nodes_.push_back(std::move(n));
  return static_cast<NodeId>(nodes_.size() - 1);
}

NodeId GrammarBuilder::literal(std::string_view bytes) {
  if (bytes.empty()) return empty_;
  Node n;
  n.kind = NodeKind::literal;
  n.text = std::string(bytes);
  return add(std::move(n));
}

NodeId GrammarBuilder::byte_set(const ByteSet& set) {
  Node n;
  n.kind = NodeKind::byte_set;
  n.bytes = set;
  return add(std::move(n));
}

NodeId GrammarBuilder::byte_range(uint8_t lo, uint8_t hi) {
  ByteSet s;
  s.add_range(lo, hi);
  return byte_set(s);
}

// UTF-8 sequences for code points [lo, hi] of one encoded length n, as a choice of sequences of
// byte ranges (the classic split: the first byte where lo and hi differ is cut into a low edge,
// a full middle and a high edge).
namespace {
void split_utf8(GrammarBuilder& b, const uint8_t* lo, const uint8_t* hi, int n,
                std::vector<NodeId>& out) {
  if (n == 1) {
    out.push_back(b.byte_range(lo[0], hi[0]));
    return;
  }
  auto tail = [&](const uint8_t* l, const uint8_t* h) {
    std::vector<NodeId> alts;
    split_utf8(b, l, h, n - 1, alts);
    return alts.size() == 1 ? alts[0] : b.choice(alts);
  };
  if (lo[0] == hi[0]) {
    out.push_back(b.seq({b.byte_range(lo[0], lo[0]), tail(lo + 1, hi + 1)}));
    return;
  }
  uint8_t min_tail[3] = {0x80, 0x80, 0x80};
  uint8_t max_tail[3] = {0xBF, 0xBF, 0xBF};
  bool lo_full = std::equal(lo + 1, lo + n, min_tail);
  bool hi_full = std::equal(hi + 1, hi + n, max_tail);
  uint8_t mid_lo = lo_full ? lo[0] : static_cast<uint8_t>(lo[0] + 1);
  uint8_t mid_hi = hi_full ? hi[0] : static_cast<uint8_t>(hi[0] - 1);
  if (!lo_full) out.push_back(b.seq({b.byte_range(lo[0], lo[0]), tail(lo + 1, max_tail)}));
  if (mid_lo <= mid_hi) {
    std::vector<NodeId> parts{b.byte_range(mid_lo, mid_hi)};
    for (int i = 1; i < n; i++) parts.push_back(b.byte_range(0x80, 0xBF));
    out.push_back(b.seq(parts));
  }
  if (!hi_full) out.push_back(b.seq({b.byte_range(hi[0], hi[0]), tail(min_tail, hi + 1)}));
}
}  // namespace

NodeId GrammarBuilder::char_class(std::span<const CodepointRange> ranges, bool negated) {
  std::vector<NodeId> alts;
  ByteSet ascii;
  for (auto r : normalize(ranges, negated)) {
    for (int n = 1; n <= 4; n++) {
      static constexpr uint32_t first[5] = {0, 0, 0x80, 0x800, 0x10000};
      static constexpr uint32_t last[5] = {0, 0x7F, 0x7FF, 0xFFFF, kMaxCodepoint};
      uint32_t lo = std::max(r.lo, first[n]);
      uint32_t hi = std::min(r.hi, last[n]);
      if (lo > hi) continue;
      if (n == 1) {
        ascii.add_range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi));
        continue;
      }
      auto lb = utf8_bytes(lo, utf8_len(lo));
      auto hb = utf8_bytes(hi, utf8_len(hi));
      split_utf8(*this, lb.data(), hb.data(), n, alts);
    }
  }
  if (!ascii.empty()) alts.insert(alts.begin(), byte_set(ascii));
  if (alts.empty()) return byte_set(ByteSet{});  // matches nothing
  return alts.size() == 1 ? alts[0] : choice(std::move(alts));
}

NodeId GrammarBuilder::seq(std::vector<NodeId> children) {
  std::erase(children, empty_);
  if (children.empty()) return empty_;
  if (children.size() == 1) return children[0];
  Node n;
  n.kind = NodeKind::sequence;
  n.children = std::move(children);
  return add(std::move(n));
}

NodeId GrammarBuilder::choice(std::vector<NodeId> children) {
  if (children.size() == 1) return children[0];
  Node n;
  n.kind = NodeKind::choice;
  n.children = std::move(children);
  return add(std::move(n));
}

NodeId GrammarBuilder::repeat(NodeId child, uint32_t min, uint32_t max) {
  if (max == 0 || child == empty_) return empty_;
  if (min == 1 && max == 1) return child;
  Node n;
  n.kind = NodeKind::repeat;
  n.min = std::min(min, max);
  n.max = max;
  n.children = {child};
  return add(std::move(n));
}

NodeId GrammarBuilder::text_until(std::string_view terminator) {
  PARLEY_CHECK(!terminator.empty());
  Node n;
  n.kind = NodeKind::text_until;
  n.text = std::string(terminator);
  return add(std::move(n));
}

RuleId GrammarBuilder::declare_rule(std::string name) {
  rule_names_.push_back(std::move(name));
  rule_bodies_.push_back(kUnbounded);
  return static_cast<RuleId>(rule_names_.size() - 1);
}

void GrammarBuilder::define_rule(RuleId rule, NodeId body) {
  PARLEY_CHECK(rule < rule_bodies_.size() && rule_bodies_[rule] == kUnbounded);
  rule_bodies_[rule] = body;
}

bool GrammarBuilder::rule_defined(RuleId rule) const {
  return rule < rule_bodies_.size() && rule_bodies_[rule] != kUnbounded;
}

NodeId GrammarBuilder::ref(RuleId rule) {
  PARLEY_CHECK(rule < rule_bodies_.size());
  Node n;
  n.kind = NodeKind::rule_ref;
  n.rule = rule;
  return add(std::move(n));
}

}  // namespace parley::sampling

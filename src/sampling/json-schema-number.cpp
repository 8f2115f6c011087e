// Decimal integer ranges as grammars: [lo, hi] split by digit count, then each same-length range
// cut at the first digit where its ends differ (the classic range-to-regex construction).
#include <string>

#include "sampling/json-schema-compiler.h"

namespace parley::sampling {

namespace {

// Open-ended integers get at most this many digits: every such value is an int64, so readers
// (ours included) never see an out-of-range number.
constexpr uint32_t kMaxDigits = 18;

NodeId digits(GrammarBuilder& b, char lo, char hi) {
  return b.byte_range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi));
}

NodeId any_digits(GrammarBuilder& b, size_t n) {
  if (n == 0) return b.empty();
  return b.repeat(digits(b, '0', '9'), static_cast<uint32_t>(n), static_cast<uint32_t>(n));
}

// Strings of |lo| == |hi| digits from lo to hi (lexicographic = numeric order).
NodeId same_length(GrammarBuilder& b, const std::string& lo, const std::string& hi, size_t at) {
  if (at == lo.size()) return b.empty();
  if (lo[at] == hi[at]) {
    return b.seq({digits(b, lo[at], lo[at]), same_length(b, lo, hi, at + 1)});
  }
  size_t rest = lo.size() - at - 1;
  bool lo_min = lo.find_first_not_of('0', at + 1) == std::string::npos;
  bool hi_max = hi.find_first_not_of('9', at + 1) == std::string::npos;
  std::vector<NodeId> alts;
  char mid_lo = lo_min ? lo[at] : static_cast<char>(lo[at] + 1);
  char mid_hi = hi_max ? hi[at] : static_cast<char>(hi[at] - 1);
  if (!lo_min) {
    std::string lo2 = lo, hi2 = lo;
    for (size_t i = at + 1; i < hi2.size(); i++) hi2[i] = '9';
    alts.push_back(b.seq({digits(b, lo[at], lo[at]), same_length(b, lo2, hi2, at + 1)}));
  }
  if (mid_lo <= mid_hi) alts.push_back(b.seq({digits(b, mid_lo, mid_hi), any_digits(b, rest)}));
  if (!hi_max) {
    std::string lo2 = hi;
    for (size_t i = at + 1; i < lo2.size(); i++) lo2[i] = '0';
    alts.push_back(b.seq({digits(b, hi[at], hi[at]), same_length(b, lo2, hi, at + 1)}));
  }
  return b.choice(std::move(alts));
}

uint64_t pow10(size_t n) {
  uint64_t p = 1;
  for (size_t i = 0; i < n; i++) p *= 10;
  return p;
}

}  // namespace

NodeId unsigned_range(GrammarBuilder& b, uint64_t lo, uint64_t hi, bool hi_inf) {
  std::vector<NodeId> alts;
  if (hi_inf && std::to_string(lo).size() > kMaxDigits) return b.byte_set(ByteSet{});
  size_t lo_len = std::to_string(lo).size();
  size_t hi_len = hi_inf ? kMaxDigits : std::to_string(hi).size();
  for (size_t len = lo_len; len <= hi_len && len <= 20; len++) {
    uint64_t first = len == 1 ? 0 : pow10(len - 1);
    uint64_t last = len >= 20 ? UINT64_MAX : pow10(len) - 1;
    uint64_t a = std::max(lo, first);
    uint64_t z = hi_inf ? last : std::min(hi, last);
    if (a > z) continue;
    if (hi_inf && len == lo_len + 1 && a == first) {
      // Every longer number: [1-9][0-9]{len-1,}.
      alts.push_back(b.seq({digits(b, '1', '9'),
                            b.repeat(digits(b, '0', '9'), static_cast<uint32_t>(len - 1), kMaxDigits - 1)}));
      break;
    }
    if (hi_inf && len == lo_len && len == 1 && a == 0) {
      alts.push_back(b.literal("0"));
      alts.push_back(b.seq({digits(b, '1', '9'), b.repeat(digits(b, '0', '9'), 0, kMaxDigits - 1)}));
      break;
    }
    alts.push_back(same_length(b, std::to_string(a), std::to_string(z), 0));
  }
  if (alts.empty()) return b.byte_set(ByteSet{});  // empty range: matches nothing
  return b.choice(std::move(alts));
}

NodeId integer_range(GrammarBuilder& b, bool has_lo, int64_t lo, bool has_hi, int64_t hi) {
  auto magnitude = [](int64_t v) {  // |v| for v < 0, without overflow at INT64_MIN
    return static_cast<uint64_t>(-(v + 1)) + 1;
  };
  std::vector<NodeId> alts;
  // Non-negative part: [max(lo, 0), hi].
  if (!has_hi || hi >= 0) {
    uint64_t a = has_lo && lo > 0 ? static_cast<uint64_t>(lo) : 0;
    alts.push_back(unsigned_range(b, a, has_hi ? static_cast<uint64_t>(hi) : 0, !has_hi));
  }
  // Negative part: -[max(-hi, 1), -lo].
  if (!has_lo || lo < 0) {
    uint64_t a = has_hi && hi < 0 ? magnitude(hi) : 1;
    uint64_t z = has_lo ? magnitude(lo) : 0;
    alts.push_back(b.seq({b.literal("-"), unsigned_range(b, a, z, !has_lo)}));
  }
  return b.choice(std::move(alts));
}

}  // namespace parley::sampling

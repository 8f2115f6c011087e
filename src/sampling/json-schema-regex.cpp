// JSON Schema `pattern` (and the format patterns) -> grammar of JSON string content.
//
// Supported: literals, . [..] [^..] with ranges, \d \w \s \D \W \S, \n \r \t \f \v \0 \xHH \uHHHH
// and escaped punctuation, groups ( ) (?: ) (?<name> ), |, * + ? {n} {n,} {n,m} (lazy forms
// too), ^ at the start and $ at the end of a top-level alternative. Refused: lookaround,
// backreferences, \b, anchors elsewhere, repeating a group that can be empty.
//
// The generated strings must match under both ECMA-262 (the schema's dialect) and Python's re
// (what validators use), so classes are narrow: \d \w \s are ASCII, and what their negations and
// negated classes holding them admit is ASCII too; . excludes \n \r U+2028 U+2029.
#include <algorithm>

#include "base/utf8.h"
#include "sampling/json-schema-compiler.h"

namespace parley::sampling {

namespace {

using Ranges = std::vector<CodepointRange>;

Ranges merged(Ranges r) {
  std::sort(r.begin(), r.end(), [](auto a, auto b) { return a.lo < b.lo; });
  Ranges out;
  for (auto c : r) {
    if (!out.empty() && c.lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, c.hi);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Ranges complement(const Ranges& in) {
  Ranges out;
  uint32_t next = 0;
  for (auto c : merged(in)) {
    if (c.lo > next) out.push_back({next, c.lo - 1});
    next = c.hi + 1;
  }
  if (next <= 0x10FFFF) out.push_back({next, 0x10FFFF});
  return out;
}

// Class escapes: narrow (ASCII) for use as is, wide (ASCII plus every non-ASCII code point) for
// use under a negation, so that every variant stays inside both dialects' meaning.
Ranges class_escape(char e, bool wide) {
  Ranges r;
  char lower = static_cast<char>(e | 0x20);
  if (lower == 'd') r = {{'0', '9'}};
  if (lower == 'w') r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
  if (lower == 's') r = {{'\t', '\r'}, {' ', ' '}};
  bool negate = e != lower;
  // \D narrow = complement of \d wide, so the widening flips with the negation.
  if (wide != negate) r.push_back({0x80, 0x10FFFF});
  return negate ? complement(r) : r;
}

class RegexCompiler {
 public:
  RegexCompiler(GrammarBuilder& b, std::string_view p) : b_(b), p_(p) {}

  Result<NodeId> top() {
    std::vector<NodeId> alts;
    while (true) {
      bool anchored_start = peek('^');
      if (anchored_start) i_++;
      PARLEY_TRY(Piece body, sequence(true));
      bool anchored_end = peek('$');
      if (anchored_end) i_++;
      NodeId any = b_.star(json_class({{0, 0x10FFFF}}, false));
      alts.push_back(b_.seq({anchored_start ? b_.empty() : any, body.node,
                             anchored_end ? b_.empty() : any}));
      if (i_ == p_.size()) break;
      if (!peek('|')) return fail("unexpected character");
      i_++;
    }
    return b_.choice(std::move(alts));
  }

 private:
  struct Piece {
    NodeId node;
    bool nullable;
  };

  bool peek(char c) const { return i_ < p_.size() && p_[i_] == c; }
  Error fail(const std::string& what) const {
    return Error::fmt("pattern: %s at offset %zu", what.c_str(), i_);
  }

  // One code point class as JSON string content: raw characters, plus the escapes of the
  // included ones that JSON cannot hold raw ('"', '\\', controls).
  NodeId json_class(const Ranges& ranges, bool negated) {
    Ranges r = negated ? complement(ranges) : merged(ranges);
    std::vector<NodeId> alts;
    Ranges raw;
    auto contains = [&](uint32_t c) {
      return std::any_of(r.begin(), r.end(), [&](auto x) { return x.lo <= c && c <= x.hi; });
    };
    for (auto x : r) {
      // Cut out 0x00-0x1F, '"' and '\\'.
      uint32_t lo = std::max<uint32_t>(x.lo, 0x20);
      for (uint32_t cut : {uint32_t{'"'}, uint32_t{'\\'}}) {
        if (lo <= cut && cut <= x.hi) {
          if (lo < cut) raw.push_back({lo, cut - 1});
          lo = cut + 1;
        }
      }
      if (lo <= x.hi) raw.push_back({lo, x.hi});
    }
    if (!raw.empty()) alts.push_back(b_.char_class(raw));
    if (contains('"')) alts.push_back(b_.literal("\\\""));
    if (contains('\\')) alts.push_back(b_.literal("\\\\"));
    for (uint32_t c = 0; c < 0x20; c++) {
      if (!contains(c)) continue;
      static const char* named[] = {"b", "t", "n", nullptr, "f", "r"};
      std::string e = c >= 8 && c <= 13 && named[c - 8] ? std::string("\\") + named[c - 8]
                                                         : str_printf("\\u%04x", c);
      alts.push_back(b_.literal(e));
    }
    if (alts.empty()) return b_.byte_set(ByteSet{});
    return b_.choice(std::move(alts));
  }

  Result<Piece> sequence(bool top) {
    std::vector<NodeId> parts;
    bool nullable = true;
    while (i_ < p_.size() && !peek('|') && !peek(')')) {
      if (peek('$')) {
        if (top && (i_ + 1 == p_.size() || p_[i_ + 1] == '|')) break;
        return fail("'$' inside the pattern is not supported");
      }
      if (peek('^')) return fail("'^' inside the pattern is not supported");
      PARLEY_TRY(Piece atom, quantified());
      parts.push_back(atom.node);
      nullable = nullable && atom.nullable;
    }
    return Piece{b_.seq(std::move(parts)), nullable};
  }

  Result<Piece> alternation() {
    std::vector<NodeId> alts;
    bool nullable = false;
    while (true) {
      PARLEY_TRY(Piece s, sequence(false));
      alts.push_back(s.node);
      nullable = nullable || s.nullable;
      if (!peek('|')) break;
      i_++;
    }
    return Piece{b_.choice(std::move(alts)), nullable};
  }

  bool read_int(uint32_t* out) {
    size_t start = i_;
    uint64_t v = 0;
    while (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9' && v < 1000000) {
      v = v * 10 + static_cast<uint64_t>(p_[i_] - '0');
      i_++;
    }
    *out = static_cast<uint32_t>(v);
    return i_ > start;
  }

  // {n} {n,} {n,m}: false (position restored) when the brace is not a quantifier.
  bool braces(uint32_t* min, uint32_t* max) {
    size_t save = i_;
    i_++;
    if (!read_int(min)) {
      i_ = save;
      return false;
    }
    *max = *min;
    if (peek(',')) {
      i_++;
      if (!read_int(max)) *max = kUnbounded;
    }
    if (!peek('}')) {
      i_ = save;
      return false;
    }
    i_++;
    return true;
  }

  Result<Piece> quantified() {
    PARLEY_TRY(Piece atom, single());
    uint32_t min = 1, max = 1;
    if (peek('*')) {
      min = 0, max = kUnbounded, i_++;
    } else if (peek('+')) {
      min = 1, max = kUnbounded, i_++;
    } else if (peek('?')) {
      min = 0, max = 1, i_++;
    } else if (peek('{') && braces(&min, &max)) {
      if (min > max) return fail("bad {n,m}");
      if (min > 100000 || (max != kUnbounded && max > 100000)) return fail("repeat count too large");
    } else {
      return atom;
    }
    if (peek('?')) i_++;  // lazy: the same language
    if (peek('+')) return fail("possessive quantifiers are not supported");
    if (peek('*') || peek('{')) return fail("nested quantifier");
    if (atom.nullable && max > 1) return fail("repeating a group that can be empty");
    return Piece{b_.repeat(atom.node, min, max), atom.nullable || min == 0};
  }

  Result<uint32_t> hex(size_t n) {
    if (i_ + n > p_.size()) return fail("truncated escape");
    uint32_t v = 0;
    for (size_t k = 0; k < n; k++) {
      char c = p_[i_ + k];
      int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
      if (d < 0) return fail("bad hex escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    i_ += n;
    return v;
  }

  // An escape after '\\' (i_ at the escaped character): a class, or one code point.
  Result<Ranges> escape(bool wide) {
    if (i_ >= p_.size()) return fail("trailing backslash");
    char c = p_[i_++];
    switch (c) {
      case 'd': case 'D': case 'w': case 'W': case 's': case 'S': return class_escape(c, wide);
      case 'n': return Ranges{{'\n', '\n'}};
      case 'r': return Ranges{{'\r', '\r'}};
      case 't': return Ranges{{'\t', '\t'}};
      case 'f': return Ranges{{'\f', '\f'}};
      case 'v': return Ranges{{'\v', '\v'}};
      case '0': return Ranges{{0, 0}};
      case 'x': {
        PARLEY_TRY(uint32_t v, hex(2));
        return Ranges{{v, v}};
      }
      case 'u': {
        PARLEY_TRY(uint32_t v, hex(4));
        return Ranges{{v, v}};
      }
      default: break;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '1' && c <= '9')) {
      i_--;
      return fail(std::string("escape \\") + c + " is not supported");
    }
    i_--;
    return code_point();
  }

  Result<Ranges> code_point() {
    size_t len = 0;
    int32_t cp = utf8::decode(p_, i_, &len);
    if (cp < 0) return fail("invalid UTF-8");
    i_ += len;
    uint32_t u = static_cast<uint32_t>(cp);
    return Ranges{{u, u}};
  }

  Result<Piece> char_set() {
    i_++;  // '['
    bool negated = peek('^');
    if (negated) i_++;
    if (peek(']')) return fail("empty or ']'-first class");
    Ranges r;
    while (!peek(']')) {
      if (i_ >= p_.size()) return fail("unterminated class");
      Ranges lo_r;
      if (peek('\\')) {
        i_++;
        PARLEY_TRY(lo_r, escape(negated));
      } else {
        PARLEY_TRY(lo_r, code_point());
      }
      if (lo_r.size() == 1 && lo_r[0].lo == lo_r[0].hi && peek('-') && i_ + 1 < p_.size() &&
          p_[i_ + 1] != ']') {
        i_++;
        Ranges hi_r;
        if (peek('\\')) {
          i_++;
          PARLEY_TRY(hi_r, escape(negated));
        } else {
          PARLEY_TRY(hi_r, code_point());
        }
        if (hi_r.size() != 1 || hi_r[0].lo != hi_r[0].hi || hi_r[0].lo < lo_r[0].lo) {
          return fail("bad class range");
        }
        r.push_back({lo_r[0].lo, hi_r[0].lo});
      } else {
        r.insert(r.end(), lo_r.begin(), lo_r.end());
      }
    }
    i_++;  // ']'
    return Piece{json_class(r, negated), false};
  }

  Result<Piece> single() {
    char c = p_[i_];
    if (c == '(') {
      i_++;
      if (peek('?')) {
        if (i_ + 1 < p_.size() && p_[i_ + 1] == ':') {
          i_ += 2;
        } else if (i_ + 2 < p_.size() && (p_[i_ + 1] == '<' || p_[i_ + 1] == 'P') &&
                   p_[i_ + 2] != '=' && p_[i_ + 2] != '!') {
          size_t close = p_.find('>', i_);
          if (close == std::string_view::npos) return fail("bad group name");
          i_ = close + 1;
        } else {
          return fail("lookaround and inline flags are not supported");
        }
      }
      PARLEY_TRY(Piece inner, alternation());
      if (!peek(')')) return fail("missing ')'");
      i_++;
      return inner;
    }
    if (c == '[') return char_set();
    if (c == '.') {
      i_++;
      return Piece{json_class({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}, true), false};
    }
    if (c == '*' || c == '+' || c == '?') return fail("nothing to repeat");
    if (c == '\\') {
      i_++;
      PARLEY_TRY(Ranges r, escape(false));
      return Piece{json_class(r, false), false};
    }
    PARLEY_TRY(Ranges r, code_point());
    return Piece{json_class(r, false), false};
  }

  GrammarBuilder& b_;
  std::string_view p_;
  size_t i_ = 0;
};

}  // namespace

Result<NodeId> add_json_string_pattern(GrammarBuilder& b, std::string_view pattern) {
  RegexCompiler rc(b, pattern);
  return rc.top();
}

}  // namespace parley::sampling

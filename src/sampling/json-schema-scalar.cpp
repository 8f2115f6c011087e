// Strings (length, format, pattern) and numbers (integer ranges exact, number ranges narrowed).
#include <cmath>
#include <map>

#include "sampling/json-schema-compiler.h"

namespace parley::sampling {

namespace {

// Format grammars as patterns of the string content; each is a subset of what the format allows.
const char* format_pattern(std::string_view format) {
#define PARLEY_DATE                                                                           \
  "[1-9][0-9]{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|" \
  "(?:0[13578]|1[02])-31)"
#define PARLEY_TIME \
  "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
#define PARLEY_OCTET "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
  static const std::map<std::string_view, const char*> patterns{
      {"date", "^" PARLEY_DATE "$"},
      {"time", "^" PARLEY_TIME "$"},
      {"date-time", "^" PARLEY_DATE "T" PARLEY_TIME "$"},
      {"uuid", "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
      {"email", "^[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9]{1,63}(?:\\.[A-Za-z0-9]{1,63}){1,4}$"},
      {"hostname", "^[A-Za-z0-9]{1,63}(?:\\.[A-Za-z0-9]{1,63}){0,8}$"},
      {"ipv4", "^" PARLEY_OCTET "(?:\\." PARLEY_OCTET "){3}$"},
      {"uri", "^[A-Za-z][A-Za-z0-9+.-]{0,15}:[A-Za-z0-9._~:/?#@!$&'()*+,;=-]{1,2048}$"},
      {"uri-reference", "^[A-Za-z0-9._~:/?#@!$&'()*+,;=-]{0,2048}$"},
  };
#undef PARLEY_DATE
#undef PARLEY_TIME
#undef PARLEY_OCTET
  auto it = patterns.find(format);
  return it == patterns.end() ? nullptr : it->second;
}

// Integer bounds from minimum / maximum / exclusive* (numbers, or draft 4 booleans); bounds
// beyond +-9e18 are treated as absent (they cannot matter to generated text).
struct IntBounds {
  bool has_lo = false, has_hi = false;
  int64_t lo = 0, hi = 0;
  bool rounded = false;  // a fractional bound was rounded inward
};

IntBounds int_bounds(const json::Value& s) {
  IntBounds b;
  auto num = [&](const char* k) -> const json::Value* {
    const json::Value* v = s.find(k);
    return v && v->is_number() && std::fabs(v->as_double()) <= 9e18 ? v : nullptr;
  };
  auto flag = [&](const char* k) {
    const json::Value* v = s.find(k);
    return v && v->is_bool() && v->as_bool();
  };
  auto lower = [&](double v, bool exclusive) {
    double c = exclusive ? std::floor(v) + 1 : std::ceil(v);
    b.rounded = b.rounded || c != v;
    if (!b.has_lo || static_cast<int64_t>(c) > b.lo) b.lo = static_cast<int64_t>(c);
    b.has_lo = true;
  };
  auto upper = [&](double v, bool exclusive) {
    double c = exclusive ? std::ceil(v) - 1 : std::floor(v);
    b.rounded = b.rounded || c != v;
    if (!b.has_hi || static_cast<int64_t>(c) < b.hi) b.hi = static_cast<int64_t>(c);
    b.has_hi = true;
  };
  if (auto* v = num("minimum")) lower(v->as_double(), flag("exclusiveMinimum"));
  if (auto* v = num("maximum")) upper(v->as_double(), flag("exclusiveMaximum"));
  if (auto* v = num("exclusiveMinimum")) lower(v->as_double(), true);
  if (auto* v = num("exclusiveMaximum")) upper(v->as_double(), true);
  return b;
}

}  // namespace

uint32_t length_bound(const json::Value& s, const char* key, uint32_t fallback) {
  const json::Value* v = s.find(key);
  if (!v || !v->is_number()) return fallback;
  double d = v->as_double();
  if (d <= 0) return 0;
  if (d >= 4e9) return kUnbounded;
  return static_cast<uint32_t>(d);
}

Result<NodeId> SchemaCompiler::compile_string(const json::Value& s, const std::string& path) {
  uint32_t min = length_bound(s, "minLength", 0);
  uint32_t max = length_bound(s, "maxLength", kUnbounded);
  if (min > max) return Error{join(options_.path, path) + ": minLength > maxLength"};
  bool lengths = s.find("minLength") || s.find("maxLength");
  const json::Value* pattern = s.find("pattern");
  const json::Value* format = s.find("format");
  std::string regex;
  std::string where;
  if (pattern && pattern->is_string()) {
    regex = pattern->as_string();
    where = join(path, "pattern");
  } else if (format && format->is_string()) {
    const char* p = format_pattern(format->as_string());
    if (p) {
      regex = p;
      where = join(path, "format");
    } else {
      warnings_.push_back(join(options_.path, join(path, "format")) + ": format '" +
                          format->as_string() + "' not enforced");
    }
  }
  if (!where.empty()) {
    auto content = add_json_string_pattern(b_, regex);
    if (!content.ok()) {
      PARLEY_CHECK_OK(issue(where, content.error().message));
      return string_of(min, max);
    }
    if (lengths) PARLEY_CHECK_OK(issue(path, "minLength/maxLength not enforced with " + where));
    return b_.seq({b_.literal("\""), *content, b_.literal("\"")});
  }
  return string_of(min, max);
}

Result<NodeId> SchemaCompiler::compile_integer(const json::Value& s, const std::string& path) {
  IntBounds b = int_bounds(s);
  if (b.has_lo && b.has_hi && b.lo > b.hi) {
    return Error{join(options_.path, path) + ": no integer within the bounds"};
  }
  return integer_range(b_, b.has_lo, b.lo, b.has_hi, b.hi);
}

// Bounded numbers: an integer part in range, with a fraction only where every fraction stays in
// range, no exponent. Unbounded: the full JSON number syntax.
Result<NodeId> SchemaCompiler::compile_number(const json::Value& s, const std::string& path) {
  IntBounds b = int_bounds(s);
  ByteSet digits;
  digits.add_range('0', '9');
  NodeId frac = b_.seq({b_.literal("."), b_.plus(b_.byte_set(digits))});
  if (!b.has_lo && !b.has_hi) {
    ByteSet e, sign;
    e.add('e');
    e.add('E');
    sign.add('+');
    sign.add('-');
    NodeId exp = b_.seq({b_.byte_set(e), b_.optional(b_.byte_set(sign)), b_.repeat(b_.byte_set(digits), 1, 2)});
    return b_.seq({integer_range(b_, false, 0, false, 0), b_.optional(frac), b_.optional(exp)});
  }
  if (b.has_lo && b.has_hi && b.lo > b.hi) {
    return Error{join(options_.path, path) + ": no number within the bounds (integer-rounded)"};
  }
  if (b.rounded) {
    warnings_.push_back(join(options_.path, path) + ": fractional number bounds rounded inward");
  }
  std::vector<NodeId> alts;
  // Non-negative x[.f]: x in [max(lo, 0), hi] without fraction, [max(lo, 0), hi - 1] with one.
  if (!b.has_hi || b.hi >= 0) {
    uint64_t a = b.has_lo && b.lo > 0 ? static_cast<uint64_t>(b.lo) : 0;
    uint64_t z = b.has_hi ? static_cast<uint64_t>(b.hi) : 0;
    alts.push_back(unsigned_range(b_, a, z, !b.has_hi));
    if (!b.has_hi || (b.hi >= 1 && static_cast<uint64_t>(b.hi - 1) >= a)) {
      alts.push_back(b_.seq({unsigned_range(b_, a, b.has_hi ? z - 1 : 0, !b.has_hi), frac}));
    }
  }
  // Negative -x[.f]: x in [max(-hi, 1), -lo] without fraction, [max(-hi, 0), -lo - 1] with one.
  if (!b.has_lo || b.lo < 0) {
    uint64_t z = b.has_lo ? static_cast<uint64_t>(-b.lo) : 0;
    uint64_t a_int = b.has_hi && b.hi < 0 ? static_cast<uint64_t>(-b.hi) : 1;
    uint64_t a_frac = b.has_hi && b.hi < 0 ? static_cast<uint64_t>(-b.hi) : 0;
    if (!b.has_lo || a_int <= z) {
      alts.push_back(b_.seq({b_.literal("-"), unsigned_range(b_, a_int, z, !b.has_lo)}));
    }
    if (!b.has_lo || (z >= 1 && a_frac <= z - 1)) {
      alts.push_back(b_.seq({b_.literal("-"), unsigned_range(b_, a_frac, b.has_lo ? z - 1 : 0, !b.has_lo), frac}));
    }
  }
  if (alts.empty()) return Error{join(options_.path, path) + ": no number within the bounds"};
  return b_.choice(std::move(alts));
}

}  // namespace parley::sampling

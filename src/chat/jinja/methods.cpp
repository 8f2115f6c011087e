// Methods of str, list and dict values, and the Python string helpers they share with filters.
#include <algorithm>
#include <cstring>

#include "base/utf8.h"
#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/format.h"
#include "chat/jinja/interp.h"
#include "chat/jinja/ops.h"

namespace parley::chat::jinja {
namespace {

constexpr std::string_view kStrMethods[] = {
    "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find",
    "format", "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
    "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join",
    "ljust", "lower", "lstrip", "maketrans", "partition", "removeprefix", "removesuffix", "replace",
    "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill"};
constexpr std::string_view kListSafe[] = {"copy", "count", "index"};
constexpr std::string_view kListUnsafe[] = {"append", "clear", "extend", "insert", "pop", "remove",
                                   "reverse", "sort"};
constexpr std::string_view kTupleSafe[] = {"count", "index"};
constexpr std::string_view kDictSafe[] = {"copy", "fromkeys", "get", "items", "keys", "values"};
constexpr std::string_view kDictUnsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};

template <size_t N>
const char* find_name(const std::string_view (&names)[N], std::string_view name) {
  for (const std::string_view& n : names) {
    // The tables are literals, so data() is NUL-terminated and lives forever.
    if (name.size() == n.size() && name == n) return n.data();
  }
  return nullptr;
}

// Cheap pre-check before the table scans: every method name starts with a lower-case letter
// from this set and is 3..12 characters long.
bool could_be_method(std::string_view name) {
  if (name.size() < 3 || name.size() > 12) return false;
  switch (name[0]) {
    case 'a': case 'c': case 'e': case 'f': case 'g': case 'i': case 'j': case 'k': case 'l':
    case 'm': case 'p': case 'r': case 's': case 't': case 'u': case 'v': case 'z': return true;
    default: return false;
  }
}

const char* static_method_name(const Value& self, std::string_view name) {
  if (!could_be_method(name)) return nullptr;
  if (self.is_string()) return find_name(kStrMethods, name);
  if (self.is_dict()) return find_name(kDictSafe, name);
  if (self.is_list()) {
    if (self.list().kind == ListKind::list) return find_name(kListSafe, name);
    if (self.list().kind == ListKind::tuple) return find_name(kTupleSafe, name);
  }
  return nullptr;
}

// ---- Unicode case mapping for the scripts chat text uses (ASCII, Latin, Greek, Cyrillic) ----

uint32_t to_upper_cp(uint32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (c == 0x130 || c == 0x138 || c == 0x149 || c == 0x178) return c;
    if (odd_upper) return (c & 1) ? c : c - 1;
    return (c & 1) ? c - 1 : c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 32;
  return c;
}

uint32_t to_lower_cp(uint32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper) return (c & 1) ? c + 1 : c;
    return (c & 1) ? c : c + 1;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return c;
}

bool is_cased(uint32_t c) { return to_upper_cp(c) != c || to_lower_cp(c) != c || c == 0xDF; }
bool is_upper_cp(uint32_t c) { return to_lower_cp(c) != c; }
bool is_lower_cp(uint32_t c) { return to_upper_cp(c) != c || c == 0xDF; }
bool is_alpha_cp(uint32_t c) {
  if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
  return is_cased(c) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3040 && c <= 0x30FF) ||
         (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x0600 && c <= 0x06FF && c != 0x060C);
}
bool is_digit_cp(uint32_t c) { return c >= '0' && c <= '9'; }

std::vector<uint32_t> decode_all(std::string_view s) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    int32_t cp = utf8::decode(s, i, &len);
    out.push_back(cp < 0 ? 0xFFFD : static_cast<uint32_t>(cp));
    i += len;
  }
  return out;
}

template <class F>
std::string map_cps(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(f(c, out));
      i++;
      continue;
    }
    size_t len = 0;
    int32_t cp = utf8::decode(s, i, &len);
    uint32_t m = f(cp < 0 ? 0xFFFDu : static_cast<uint32_t>(cp), out);
    if (m != 0) utf8::append(out, m);
    i += len;
  }
  return out;
}

std::string py_title_method(std::string_view s) {
  bool prev_cased = false;
  return map_cps(s, [&](uint32_t c, std::string&) {
    bool cased = is_cased(c);
    uint32_t r = cased ? (prev_cased ? to_lower_cp(c) : to_upper_cp(c)) : c;
    prev_cased = cased;
    return r;
  });
}

std::string py_capitalize(std::string_view s) {
  bool first = true;
  return map_cps(s, [&](uint32_t c, std::string&) {
    uint32_t r = first ? to_upper_cp(c) : to_lower_cp(c);
    first = false;
    return r;
  });
}

bool all_cps(std::string_view s, bool (*pred)(uint32_t)) {
  if (s.empty()) return false;
  for (uint32_t c : decode_all(s)) {
    if (!pred(c)) return false;
  }
  return true;
}

// Python's str.islower()/isupper(): at least one cased char and none of the other case.
bool py_case_test(std::string_view s, bool upper) {
  bool any = false;
  for (uint32_t c : decode_all(s)) {
    if (upper ? is_lower_cp(c) : is_upper_cp(c)) return false;
    if (is_cased(c)) any = true;
  }
  return any;
}

std::string arg_str(const std::optional<Value>& v, const char* func, const char* what) {
  if (!v || !v->is_string()) {
    runtime_error(std::string(func) + "() argument must be str, not " +
                  (v ? type_name(*v) : std::string("missing")) + " (" + what + ")");
  }
  return v->str();
}

int64_t arg_int(const std::optional<Value>& v, int64_t dflt, const char* func) {
  if (!v || v->is_none()) return dflt;
  if (!v->is_integral()) {
    runtime_error(std::string("'") + type_name(*v) + "' object cannot be interpreted as an integer (" +
                  func + ")");
  }
  return v->integral();
}

// The [start:end] window of a str method on code points -> byte offsets.
std::pair<size_t, size_t> window(std::string_view s, const std::optional<Value>& start,
                                 const std::optional<Value>& end) {
  bool ascii = is_ascii(s);
  auto n = static_cast<int64_t>(ascii ? s.size() : count_code_points(s));
  std::optional<int64_t> a, b;
  if (start && !start->is_none()) a = arg_int(start, 0, "slice");
  if (end && !end->is_none()) b = arg_int(end, n, "slice");
  SliceRange r = resolve_slice(n, a, b, 1);
  if (r.stop < r.start) r.stop = r.start;
  if (ascii) return {static_cast<size_t>(r.start), static_cast<size_t>(r.stop)};
  return {code_point_offset(s, static_cast<size_t>(r.start)),
          code_point_offset(s, static_cast<size_t>(r.stop))};
}

Value byte_to_cp_index(std::string_view s, size_t byte_pos) {
  return Value::integer(static_cast<int64_t>(count_code_points(s.substr(0, byte_pos))));
}

std::vector<std::string> py_split(std::string_view s, std::string_view sep, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    size_t f = s.find(sep, pos);
    if (f == std::string_view::npos) break;
    out.emplace_back(s.substr(pos, f - pos));
    pos = f + sep.size();
  }
  out.emplace_back(s.substr(pos));
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, std::string_view sep, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t end = s.size();
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    if (end < sep.size()) break;
    size_t f = s.rfind(sep, end - sep.size());
    if (f == std::string_view::npos) break;
    out.emplace_back(s.substr(f + sep.size(), end - f - sep.size()));
    end = f;
  }
  out.emplace_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> py_rsplit_whitespace(std::string_view s, int64_t maxsplit) {
  // Split the reversed code points, then reverse back.
  std::vector<uint32_t> cps = decode_all(s);
  std::vector<std::string> out;
  int64_t i = static_cast<int64_t>(cps.size()) - 1;
  while (i >= 0 && is_py_space(cps[static_cast<size_t>(i)])) i--;
  while (i >= 0) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      std::string rest;
      for (int64_t k = 0; k <= i; k++) utf8::append(rest, cps[static_cast<size_t>(k)]);
      out.push_back(rest);
      break;
    }
    int64_t j = i;
    while (j >= 0 && !is_py_space(cps[static_cast<size_t>(j)])) j--;
    std::string word;
    for (int64_t k = j + 1; k <= i; k++) utf8::append(word, cps[static_cast<size_t>(k)]);
    out.push_back(word);
    i = j;
    while (i >= 0 && is_py_space(cps[static_cast<size_t>(i)])) i--;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Value str_list(Interp& in, const std::vector<std::string>& parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  size_t bytes = 0;
  for (const auto& p : parts) {
    bytes += p.size();
    items.push_back(Value::string(p));
  }
  in.charge(bytes + items.size() * sizeof(Value));
  in.step(items.size());
  return Value::list(std::move(items));
}

std::string pad(std::string_view s, int64_t width, const std::optional<Value>& fill, int where) {
  std::string f = " ";
  if (fill) {
    if (!fill->is_string() || count_code_points(fill->str()) != 1) {
      runtime_error("The fill character must be exactly one character long");
    }
    f = fill->str();
  }
  auto len = static_cast<int64_t>(count_code_points(s));
  if (width <= len) return std::string(s);
  int64_t total = width - len;
  int64_t left = where < 0 ? 0 : where > 0 ? total : total / 2 + (total & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; i++) out += f;
  out += s;
  for (int64_t i = 0; i < total - left; i++) out += f;
  return out;
}

bool prefix_match(std::string_view s, const Value& p, bool suffix, const char* func) {
  auto test = [&](const Value& x) {
    if (!x.is_string()) {
      runtime_error(std::string(func) + " first arg must be str or a tuple of str, not " +
                    type_name(x));
    }
    return suffix ? (s.size() >= x.str().size() && s.substr(s.size() - x.str().size()) == x.str())
                  : s.substr(0, x.str().size()) == x.str();
  };
  if (p.is_list() && p.list().kind == ListKind::tuple) {
    for (size_t i = p.list().pos; i < p.list().items.size(); i++) {
      if (test(p.list().items[i])) return true;
    }
    return false;
  }
  return test(p);
}

Value str_method(Interp& in, const std::string& s, std::string_view name, CallArgs& a) {
  const std::string fn(name);
  auto check_size = [&](size_t n) {
    if (n > in.max_bytes()) throw_error(ErrorKind::limit, "string too long");
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto p = bind_args(a, fn.c_str(), {"chars"});
    const Value* chars = p[0] && !p[0]->is_none() ? &*p[0] : nullptr;
    if (chars && !chars->is_string()) runtime_error(fn + " arg must be None or str");
    return in.make_string(py_strip(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    auto p = bind_args(a, fn.c_str(), {"sep", "maxsplit"});
    int64_t maxsplit = arg_int(p[1], -1, fn.c_str());
    if (!p[0] || p[0]->is_none()) {
      return str_list(in, name == "split" ? py_split_whitespace(s, maxsplit)
                                          : py_rsplit_whitespace(s, maxsplit));
    }
    std::string sep = arg_str(p[0], fn.c_str(), "sep");
    if (sep.empty()) runtime_error("empty separator");
    return str_list(in, name == "split" ? py_split(s, sep, maxsplit) : py_rsplit(s, sep, maxsplit));
  }
  if (name == "splitlines") {
    auto p = bind_args(a, fn.c_str(), {"keepends"});
    return str_list(in, py_splitlines(s, p[0] && truthy(*p[0])));
  }
  if (name == "startswith" || name == "endswith") {
    auto p = bind_args(a, fn.c_str(), {"prefix", "start", "end"});
    if (!p[0]) runtime_error(fn + "() takes at least 1 argument (0 given)");
    auto [b, e] = window(s, p[1], p[2]);
    return Value::boolean(prefix_match(std::string_view(s).substr(b, e - b), *p[0],
                                       name == "endswith", fn.c_str()));
  }
  if (name == "replace") {
    auto p = bind_args(a, fn.c_str(), {"old", "new", "count"});
    std::string old = arg_str(p[0], "replace", "old"), repl = arg_str(p[1], "replace", "new");
    std::string r = py_replace(s, old, repl, arg_int(p[2], -1, "replace"));
    return in.make_string(std::move(r));
  }
  if (name == "upper") return in.make_string(py_upper(s));
  if (name == "lower" || name == "casefold") return in.make_string(py_lower(s));
  if (name == "title") return in.make_string(py_title_method(s));
  if (name == "capitalize") return in.make_string(py_capitalize(s));
  if (name == "swapcase") {
    return in.make_string(map_cps(s, [](uint32_t c, std::string&) {
      return is_upper_cp(c) ? to_lower_cp(c) : to_upper_cp(c);
    }));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    auto p = bind_args(a, fn.c_str(), {"sub", "start", "end"});
    std::string sub = arg_str(p[0], fn.c_str(), "sub");
    auto [b, e] = window(s, p[1], p[2]);
    std::string_view w = std::string_view(s).substr(b, e - b);
    in.step(w.size() / 16 + 1);
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(count_code_points(w)) + 1);
      int64_t n = 0;
      for (size_t pos = w.find(sub); pos != std::string_view::npos; pos = w.find(sub, pos + sub.size())) n++;
      return Value::integer(n);
    }
    size_t f = name[0] == 'r' ? w.rfind(sub) : w.find(sub);
    if (f == std::string_view::npos) {
      if (name == "index" || name == "rindex") runtime_error("substring not found");
      return Value::integer(-1);
    }
    return byte_to_cp_index(s, b + f);
  }
  if (name == "join") {
    auto p = bind_args(a, fn.c_str(), {"iterable"});
    if (!p[0]) runtime_error("join() takes exactly one argument (0 given)");
    Seq seq = in.iterate(*p[0]);
    std::string out;
    for (size_t i = 0; i < seq.size; i++) {
      if (!seq[i].is_string()) {
        runtime_error("sequence item " + std::to_string(i) + ": expected str instance, " +
                      type_name(seq[i]) + " found");
      }
      if (i) out += s;
      out += seq[i].str();
      check_size(out.size());
    }
    return in.make_string(std::move(out));
  }
  if (name == "format") return in.make_string(py_str_format(in, s, a));
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") {
    return Value::boolean(all_cps(s, is_digit_cp));
  }
  if (name == "isalpha") return Value::boolean(all_cps(s, is_alpha_cp));
  if (name == "isalnum") {
    return Value::boolean(all_cps(s, [](uint32_t c) { return is_alpha_cp(c) || is_digit_cp(c); }));
  }
  if (name == "isspace") return Value::boolean(all_cps(s, is_py_space));
  if (name == "isupper") return Value::boolean(py_case_test(s, true));
  if (name == "islower") return Value::boolean(py_case_test(s, false));
  if (name == "isascii") return Value::boolean(is_ascii(s));
  if (name == "istitle") {
    bool prev_cased = false, any = false;
    for (uint32_t c : decode_all(s)) {
      if (is_upper_cp(c) || is_lower_cp(c)) {
        if (is_upper_cp(c) == prev_cased) return Value::boolean(false);
        prev_cased = any = true;
      } else {
        prev_cased = false;
      }
    }
    return Value::boolean(any);
  }
  if (name == "isidentifier") {
    bool ok = !s.empty() && !is_digit_cp(static_cast<unsigned char>(s[0]));
    for (char c : s) ok = ok && (c == '_' || is_alpha_cp(static_cast<unsigned char>(c)) || is_digit_cp(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80);
    return Value::boolean(ok);
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    auto p = bind_args(a, fn.c_str(), {"width", "fillchar"});
    int64_t width = arg_int(p[0], 0, fn.c_str());
    check_size(static_cast<size_t>(std::max<int64_t>(width, 0)) * 4);
    return in.make_string(pad(s, width, p[1], name == "center" ? 0 : name == "ljust" ? -1 : 1));
  }
  if (name == "zfill") {
    auto p = bind_args(a, fn.c_str(), {"width"});
    int64_t width = arg_int(p[0], 0, "zfill");
    check_size(static_cast<size_t>(std::max<int64_t>(width, 0)));
    auto len = static_cast<int64_t>(count_code_points(s));
    if (width <= len) return Value::string(s);
    std::string out;
    size_t sign = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    out += s.substr(0, sign);
    out.append(static_cast<size_t>(width - len), '0');
    out += s.substr(sign);
    return in.make_string(std::move(out));
  }
  if (name == "partition" || name == "rpartition") {
    auto p = bind_args(a, fn.c_str(), {"sep"});
    std::string sep = arg_str(p[0], fn.c_str(), "sep");
    if (sep.empty()) runtime_error("empty separator");
    size_t f = name == "partition" ? s.find(sep) : s.rfind(sep);
    std::vector<Value> parts;
    if (f == std::string::npos) {
      if (name == "partition") {
        parts = {Value::string(s), Value::string(""), Value::string("")};
      } else {
        parts = {Value::string(""), Value::string(""), Value::string(s)};
      }
    } else {
      parts = {Value::string(s.substr(0, f)), Value::string(sep), Value::string(s.substr(f + sep.size()))};
    }
    return Value::list(std::move(parts), ListKind::tuple);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    auto p = bind_args(a, fn.c_str(), {"affix"});
    std::string x = arg_str(p[0], fn.c_str(), "affix");
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value::string(s.substr(x.size()));
    if (name == "removesuffix" && !x.empty() && s.size() >= x.size() &&
        s.compare(s.size() - x.size(), x.size(), x) == 0) {
      return Value::string(s.substr(0, s.size() - x.size()));
    }
    return Value::string(s);
  }
  if (name == "expandtabs") {
    auto p = bind_args(a, fn.c_str(), {"tabsize"});
    int64_t ts = arg_int(p[0], 8, "expandtabs");
    std::string out;
    int64_t col = 0;
    for (uint32_t c : decode_all(s)) {
      if (c == '\t') {
        if (ts > 0) {
          int64_t n = ts - col % ts;
          out.append(static_cast<size_t>(n), ' ');
          col += n;
        }
      } else {
        utf8::append(out, c);
        col = (c == '\n' || c == '\r') ? 0 : col + 1;
      }
      check_size(out.size());
    }
    return in.make_string(std::move(out));
  }
  runtime_error("str." + fn + "() is not supported in chat templates");
}

Value dict_method(Interp& in, const Value& self, std::string_view name, CallArgs& a) {
  const Dict& d = self.dict();
  if (name == "get") {
    auto p = bind_args(a, "get", {"key", "default"});
    if (!p[0]) runtime_error("get expected at least 1 argument, got 0");
    if (const Value* v = d.find(*p[0])) return *v;
    return p[1] ? *p[1] : Value::none();
  }
  bind_args(a, std::string(name).c_str(), {});
  in.step(d.items.size());
  in.charge(d.items.size() * sizeof(Value));
  if (name == "items") {
    std::vector<Value> items;
    items.reserve(d.items.size());
    for (const auto& [k, v] : d.items) items.push_back(Value::list({k, v}, ListKind::tuple));
    return Value::list(std::move(items), ListKind::dict_items);
  }
  if (name == "keys" || name == "values") {
    std::vector<Value> items;
    items.reserve(d.items.size());
    for (const auto& [k, v] : d.items) items.push_back(name == "keys" ? k : v);
    return Value::list(std::move(items), name == "keys" ? ListKind::dict_keys : ListKind::dict_values);
  }
  if (name == "copy") return Value::dict(std::make_shared<Dict>(d));
  runtime_error("dict." + std::string(name) + "() is not supported in chat templates");
}

Value list_method(Interp& in, const Value& self, std::string_view name, CallArgs& a) {
  const List& l = self.list();
  if (name == "copy") {
    bind_args(a, "copy", {});
    in.charge(l.size() * sizeof(Value));
    return Value::list(std::vector<Value>(l.items.begin() + static_cast<std::ptrdiff_t>(l.pos), l.items.end()));
  }
  auto p = bind_args(a, std::string(name).c_str(), {"value"});
  if (!p[0]) runtime_error(std::string(name) + "() takes exactly one argument (0 given)");
  in.step(l.size());
  int64_t count = 0;
  for (size_t i = l.pos; i < l.items.size(); i++) {
    if (equals(l.items[i], *p[0])) {
      if (name == "index") return Value::integer(static_cast<int64_t>(i - l.pos));
      count++;
    }
  }
  if (name == "index") {
    runtime_error(to_repr(*p[0], 200) + " is not in " + type_name(self));
  }
  return Value::integer(count);
}

void escape_string_args(CallArgs& args) {
  auto esc = [](Value& v) {
    if (v.is_string() && !v.is_markup()) v = Value::string(html_escape(v.str()));
  };
  for (auto& v : args.pos) esc(v);
  for (auto& kv : args.kw) esc(kv.second);
}

Value to_markup(const Value& v) {
  if (v.is_string()) return Value::markup(v.str_ptr());
  if (v.is_list()) {
    std::vector<Value> items;
    for (size_t i = v.list().pos; i < v.list().items.size(); i++) items.push_back(to_markup(v.list().items[i]));
    return Value::list(std::move(items), v.list().kind);
  }
  return v;
}

// markupsafe.Markup's methods: most escape their string arguments and return Markup.
Value markup_method(Interp& in, const Value& self, std::string_view name, CallArgs& args) {
  static constexpr std::string_view kWrapped[] = {"capitalize", "title", "lower", "upper", "replace",
                                         "ljust", "rjust", "lstrip", "rstrip", "center", "strip",
                                         "expandtabs", "swapcase", "zfill", "format", "partition",
                                         "rpartition"};
  static constexpr std::string_view kParts[] = {"split", "rsplit", "splitlines"};
  if (find_name(kWrapped, name)) {
    escape_string_args(args);
    return to_markup(str_method(in, self.str(), name, args));
  }
  if (find_name(kParts, name)) return to_markup(str_method(in, self.str(), name, args));
  if (name == "join" && args.pos.size() == 1 && args.kw.empty()) {
    Seq seq = in.iterate(args.pos[0]);
    std::vector<Value> escaped;
    for (size_t i = 0; i < seq.size; i++) {
      const Value& x = seq[i];
      escaped.push_back(x.is_markup() ? x : Value::string(html_escape(x.is_string() ? x.str() : to_str(x, in.max_bytes()))));
    }
    args.pos[0] = Value::list(std::move(escaped));
    return to_markup(str_method(in, self.str(), name, args));
  }
  return str_method(in, self.str(), name, args);
}

Value call_bound(Interp& in, const Value& self, CallArgs& args, const char* name) {
  return call_method(in, self, name, args);
}

}  // namespace

std::vector<std::optional<Value>> bind_args(CallArgs& args, const char* func,
                                            std::initializer_list<const char*> params) {
  std::vector<std::optional<Value>> out(params.size());
  if (args.pos.size() > params.size()) {
    runtime_error(std::string(func) + "() takes at most " + std::to_string(params.size()) +
                  " argument(s) (" + std::to_string(args.pos.size()) + " given)");
  }
  for (size_t i = 0; i < args.pos.size(); i++) out[i] = args.pos[i];
  for (auto& [k, v] : args.kw) {
    size_t i = 0;
    for (const char* p : params) {
      if (k == p) break;
      i++;
    }
    if (i == params.size()) {
      runtime_error(std::string(func) + "() got an unexpected keyword argument '" + k + "'");
    }
    if (out[i]) runtime_error(std::string(func) + "() got multiple values for argument '" + k + "'");
    out[i] = v;
  }
  return out;
}

MethodKind method_kind(const Value& self, std::string_view name) {
  if (!could_be_method(name)) return MethodKind::none;
  if (static_method_name(self, name)) return MethodKind::safe;
  if (self.is_dict() && find_name(kDictUnsafe, name)) return MethodKind::unsafe;
  if (self.is_list() && self.list().kind == ListKind::list && find_name(kListUnsafe, name)) {
    return MethodKind::unsafe;
  }
  return MethodKind::none;
}

Value bound_method(const Value& self, std::string_view name) {
  const char* n = static_method_name(self, name);
  return Value::object(std::make_shared<FunctionObject>(n, call_bound, self, "builtin_function_or_method"));
}

Value call_method(Interp& in, const Value& self, std::string_view name, CallArgs& args) {
  in.step();
  if (self.is_markup()) return markup_method(in, self, name, args);
  if (self.is_string()) return str_method(in, self.str(), name, args);
  if (self.is_dict()) return dict_method(in, self, name, args);
  return list_method(in, self, name, args);
}

std::string py_strip(std::string_view s, const Value* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars) set = decode_all(chars->str());
  auto strip_it = [&](uint32_t c) {
    if (!chars) return is_py_space(c);
    return std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      size_t len = 0;
      int32_t cp = utf8::decode(s, b, &len);
      if (cp < 0 || !strip_it(static_cast<uint32_t>(cp))) break;
      b += len;
    }
  }
  if (right) {
    while (e > b) {
      size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) start--;
      size_t len = 0;
      int32_t cp = utf8::decode(s, start, &len);
      if (cp < 0 || start + len != e || !strip_it(static_cast<uint32_t>(cp))) break;
      e = start;
    }
  }
  return std::string(s.substr(b, e - b));
}

std::string py_upper(std::string_view s) {
  return map_cps(s, [](uint32_t c, std::string& out) -> uint32_t {
    if (c == 0xDF) {  // ß -> SS
      out += 'S';
      return 'S';
    }
    return to_upper_cp(c);
  });
}

std::string py_lower(std::string_view s) {
  return map_cps(s, [](uint32_t c, std::string&) { return to_lower_cp(c); });
}

std::vector<std::string> py_split_whitespace(std::string_view s, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t i = 0;
  auto space_at = [&](size_t p, size_t* len) {
    int32_t cp = utf8::decode(s, p, len);
    return cp >= 0 && is_py_space(static_cast<uint32_t>(cp));
  };
  size_t len = 0;
  while (i < s.size() && space_at(i, &len)) i += len;
  while (i < s.size()) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      out.emplace_back(s.substr(i));
      break;
    }
    size_t j = i;
    while (j < s.size() && !space_at(j, &len)) j += len;
    out.emplace_back(s.substr(i, j - i));
    i = j;
    while (i < s.size() && space_at(i, &len)) i += len;
  }
  return out;
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < s.size()) {
    size_t len = 0;
    int32_t cp = utf8::decode(s, i, &len);
    bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
               cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!brk) {
      i += len;
      continue;
    }
    size_t end = i + len;
    if (cp == '\r' && end < s.size() && s[end] == '\n') end++;
    out.emplace_back(s.substr(start, (keepends ? end : i) - start));
    start = i = end;
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       int64_t count) {
  std::string out;
  if (old.empty()) {
    // Inserts repl before every code point and at the end, up to count times.
    int64_t done = 0;
    size_t i = 0;
    while (i <= s.size()) {
      if (count < 0 || done < count) {
        out += repl;
        done++;
      }
      if (i == s.size()) break;
      size_t j = i + 1;
      while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) j++;
      out += s.substr(i, j - i);
      i = j;
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    out += s.substr(pos, f - pos);
    out += repl;
    pos = f + old.size();
    done++;
  }
  out += s.substr(pos);
  return out;
}

}  // namespace parley::chat::jinja

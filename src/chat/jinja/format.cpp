#include "chat/jinja/format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "base/utf8.h"
#include "chat/jinja/error.h"

namespace parley::chat::jinja {
namespace {

void check_size(const std::string& out, size_t max_bytes) {
  if (out.size() > max_bytes) {
    throw_error(ErrorKind::limit,
                "output limit exceeded: text longer than " + std::to_string(max_bytes) + " bytes");
  }
}

// Python's str.isprintable() approximated for the code points that occur in text: the
// controls, separators, format characters, surrogates and private-use ranges are not printable.
bool is_printable(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  if (cp <= 0xA0 || cp == 0xAD) return false;
  if (cp == 0x061C || cp == 0x1680 || cp == 0x180E || cp == 0x3000 || cp == 0xFEFF) return false;
  if (cp >= 0x2000 && cp <= 0x200F) return false;
  if (cp >= 0x2028 && cp <= 0x202F) return false;
  if (cp >= 0x205F && cp <= 0x206F) return false;
  if (cp >= 0xD800 && cp <= 0xF8FF) return false;
  if (cp >= 0xFFF9 && cp <= 0xFFFB) return false;
  if (cp == 0xFFFE || cp == 0xFFFF) return false;
  if (cp >= 0x1D173 && cp <= 0x1D17A) return false;
  if (cp >= 0xE0000 && cp <= 0xE007F) return false;
  if (cp >= 0xF0000) return false;
  return true;
}

void append_hex(std::string& out, uint32_t v, int digits) {
  static const char* hex = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--) out += hex[(v >> (4 * i)) & 15];
}

void repr_impl(std::string& out, const Value& v, size_t max_bytes, int depth);

void repr_sequence(std::string& out, const List& l, size_t max_bytes, int depth) {
  for (size_t i = l.pos; i < l.items.size(); i++) {
    if (i > l.pos) out += ", ";
    repr_impl(out, l.items[i], max_bytes, depth + 1);
    check_size(out, max_bytes);
  }
}

void repr_impl(std::string& out, const Value& v, size_t max_bytes, int depth) {
  if (depth > 200) throw_error(ErrorKind::limit, "value nested too deeply to print");
  switch (v.kind()) {
    case Kind::undefined: out += "Undefined"; return;
    case Kind::none: out += "None"; return;
    case Kind::boolean: out += v.as_bool() ? "True" : "False"; return;
    case Kind::integer: append_int(out, v.as_int()); return;
    case Kind::floating: append_float(out, v.as_float()); return;
    case Kind::string:
      if (v.is_markup()) out += "Markup(";
      append_string_repr(out, v.str());
      if (v.is_markup()) out += ")";
      break;
    case Kind::list: {
      const List& l = v.list();
      switch (l.kind) {
        case ListKind::list:
          out += '[';
          repr_sequence(out, l, max_bytes, depth);
          out += ']';
          break;
        case ListKind::tuple:
          out += '(';
          repr_sequence(out, l, max_bytes, depth);
          if (l.size() == 1) out += ',';
          out += ')';
          break;
        case ListKind::generator: out += "<generator object>"; break;
        case ListKind::dict_keys:
        case ListKind::dict_values:
        case ListKind::dict_items:
          out += l.kind == ListKind::dict_keys     ? "dict_keys(["
                 : l.kind == ListKind::dict_values ? "dict_values(["
                                                   : "dict_items([";
          repr_sequence(out, l, max_bytes, depth);
          out += "])";
          break;
        case ListKind::range:
          out += "range(";
          append_int(out, l.range_start);
          out += ", ";
          append_int(out, l.range_stop);
          if (l.range_step != 1) {
            out += ", ";
            append_int(out, l.range_step);
          }
          out += ')';
          break;
      }
      break;
    }
    case Kind::dict: {
      out += '{';
      bool first = true;
      for (const auto& [k, val] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        repr_impl(out, k, max_bytes, depth + 1);
        out += ": ";
        repr_impl(out, val, max_bytes, depth + 1);
        check_size(out, max_bytes);
      }
      out += '}';
      break;
    }
    case Kind::object: v.object().repr(out, max_bytes); break;
  }
  check_size(out, max_bytes);
}

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Copy the run of characters that need no escape in one append.
    size_t j = i;
    while (j < s.size()) {
      auto d = static_cast<unsigned char>(s[j]);
      if (d < 0x20 || d == '"' || d == '\\' || (ensure_ascii && d >= 0x7F)) break;
      j++;
    }
    if (j > i) {
      out.append(s.data() + i, j - i);
      i = j;
      if (i >= s.size()) break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; i++; continue;
      case '\\': out += "\\\\"; i++; continue;
      case '\n': out += "\\n"; i++; continue;
      case '\r': out += "\\r"; i++; continue;
      case '\t': out += "\\t"; i++; continue;
      case '\b': out += "\\b"; i++; continue;
      case '\f': out += "\\f"; i++; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7F)) {
      out += "\\u";
      append_hex(out, c, 4);
      i++;
      continue;
    }
    if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
      i++;
      continue;
    }
    size_t len = 0;
    int32_t cp = utf8::decode(s, i, &len);
    if (cp < 0) cp = 0xFFFD;
    i += len;
    auto cp_u = static_cast<uint32_t>(cp);
    if (cp_u >= 0x10000) {
      cp_u -= 0x10000;
      out += "\\u";
      append_hex(out, 0xD800 + (cp_u >> 10), 4);
      out += "\\u";
      append_hex(out, 0xDC00 + (cp_u & 0x3FF), 4);
    } else {
      out += "\\u";
      append_hex(out, cp_u, 4);
    }
  }
  out += '"';
}

void json_float(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
  } else {
    append_float(out, d);
  }
}

// A dict key as JSON text (Python's json converts int/float/bool/None keys to strings).
std::string json_key(const Value& k) {
  std::string s;
  switch (k.kind()) {
    case Kind::string: return k.str();
    case Kind::boolean: return k.as_bool() ? "true" : "false";
    case Kind::none: return "null";
    case Kind::integer: append_int(s, k.as_int()); return s;
    case Kind::floating: json_float(s, k.as_float()); return s;
    default:
      runtime_error("keys must be str, int, float, bool or None, not " + type_name(k));
  }
}

void json_newline(std::string& out, const JsonStyle& st, int level) {
  if (!st.has_indent) return;
  out += '\n';
  for (int i = 0; i < level; i++) out += st.indent;
}

void json_impl(std::string& out, const Value& v, const JsonStyle& st, size_t max_bytes, int level) {
  if (level > 200) throw_error(ErrorKind::limit, "value nested too deeply for tojson");
  switch (v.kind()) {
    case Kind::none: out += "null"; return;
    case Kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Kind::integer: append_int(out, v.as_int()); return;
    case Kind::floating: json_float(out, v.as_float()); return;
    case Kind::string: json_string(out, v.str(), st.ensure_ascii); break;
    case Kind::list: {
      const List& l = v.list();
      if (l.kind != ListKind::list && l.kind != ListKind::tuple) {
        runtime_error("Object of type " + type_name(v) + " is not JSON serializable");
      }
      if (l.size() == 0) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = l.pos; i < l.items.size(); i++) {
        if (i > l.pos) out += st.item_separator;
        json_newline(out, st, level + 1);
        json_impl(out, l.items[i], st, max_bytes, level + 1);
      }
      json_newline(out, st, level);
      out += ']';
      break;
    }
    case Kind::dict: {
      const Dict& d = v.dict();
      if (d.items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> members;
      members.reserve(d.items.size());
      for (const auto& m : d.items) members.push_back(&m);
      if (st.sort_keys) {
        std::stable_sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
          return compare_values(a->first, b->first) < 0;
        });
      }
      out += '{';
      for (size_t i = 0; i < members.size(); i++) {
        if (i > 0) out += st.item_separator;
        json_newline(out, st, level + 1);
        json_string(out, json_key(members[i]->first), st.ensure_ascii);
        out += st.key_separator;
        json_impl(out, members[i]->second, st, max_bytes, level + 1);
      }
      json_newline(out, st, level);
      out += '}';
      break;
    }
    default:
      runtime_error("Object of type " + type_name(v) + " is not JSON serializable");
  }
  check_size(out, max_bytes);
}

}  // namespace

void append_int(std::string& out, int64_t i) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_float(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "inf" : "-inf";
    return;
  }
  // Shortest round-trip digits in scientific form "-d.ddde+XX", then laid out like Python's
  // repr: positional when -4 <= exponent < 16, else scientific with a 2-digit exponent.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  size_t e_pos = s.find('e');
  std::string digits;
  for (char c : s.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  int exp = std::atoi(std::string(s.substr(e_pos + 1)).c_str());
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (neg) out += '-';
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exp - 1), '0');
      out += digits;
    } else {
      auto int_len = static_cast<size_t>(exp + 1);
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out.append(digits, 0, int_len);
        out += '.';
        out.append(digits, int_len, std::string::npos);
      }
    }
    return;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out.append(digits, 1, std::string::npos);
  }
  out += 'e';
  out += exp < 0 ? '-' : '+';
  int a = exp < 0 ? -exp : exp;
  if (a < 10) out += '0';
  append_int(out, a);
}

void append_string_repr(std::string& out, std::string_view s) {
  char quote = '\'';
  if (s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos) quote = '"';
  out += quote;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      i++;
      if (c == static_cast<unsigned char>(quote) || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20 || c == 0x7F) {
        out += "\\x";
        append_hex(out, c, 2);
      } else {
        out += static_cast<char>(c);
      }
      continue;
    }
    size_t len = 0;
    int32_t cp = utf8::decode(s, i, &len);
    if (cp < 0) {
      out += "\\ufffd";
      i++;
      continue;
    }
    auto u = static_cast<uint32_t>(cp);
    if (is_printable(u)) {
      out.append(s.substr(i, len));
    } else if (u < 0x100) {
      out += "\\x";
      append_hex(out, u, 2);
    } else if (u < 0x10000) {
      out += "\\u";
      append_hex(out, u, 4);
    } else {
      out += "\\U";
      append_hex(out, u, 8);
    }
    i += len;
  }
  out += quote;
}

void append_str(std::string& out, const Value& v, size_t max_bytes) {
  switch (v.kind()) {
    case Kind::undefined: return;
    case Kind::string: out += v.str(); break;
    default: repr_impl(out, v, max_bytes, 0); return;
  }
  check_size(out, max_bytes);
}

void append_repr(std::string& out, const Value& v, size_t max_bytes) {
  repr_impl(out, v, max_bytes, 0);
}

std::string to_str(const Value& v, size_t max_bytes) {
  if (v.is_string()) return v.str();
  std::string s;
  append_str(s, v, max_bytes);
  return s;
}

std::string to_repr(const Value& v, size_t max_bytes) {
  std::string s;
  append_repr(s, v, max_bytes);
  return s;
}

void append_json(std::string& out, const Value& v, const JsonStyle& style, size_t max_bytes) {
  json_impl(out, v, style, max_bytes, 0);
}

int compare_values(const Value& a, const Value& b, const char* op) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.number(), y = b.number();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.integral(), y = b.integral();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order is code point order.
    int c = a.str().compare(b.str());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.list().kind == b.list().kind &&
      (a.list().kind == ListKind::list || a.list().kind == ListKind::tuple)) {
    const List& x = a.list();
    const List& y = b.list();
    size_t n = std::min(x.size(), y.size());
    for (size_t i = 0; i < n; i++) {
      const Value& p = x.items[x.pos + i];
      const Value& q = y.items[y.pos + i];
      if (equals(p, q)) continue;
      return compare_values(p, q, op);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  runtime_error(std::string("'") + op + "' not supported between instances of '" +
                type_name(a) + "' and '" + type_name(b) + "'");
}

}  // namespace parley::chat::jinja

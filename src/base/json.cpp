#include "base/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/utf8.h"

namespace parley::json {

std::string_view type_name(Type t) {
  switch (t) {
    case Type::null: return "null";
    case Type::boolean: return "boolean";
    case Type::integer: return "integer";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "?";
}

bool Value::as_bool() const { PARLEY_CHECK(is_bool()); return std::get<bool>(v_); }
int64_t Value::as_int() const { PARLEY_CHECK(is_int()); return std::get<int64_t>(v_); }
double Value::as_double() const {
  PARLEY_CHECK(is_number());
  return is_int() ? static_cast<double>(std::get<int64_t>(v_)) : std::get<double>(v_);
}
const std::string& Value::as_string() const { PARLEY_CHECK(is_string()); return std::get<std::string>(v_); }
std::string& Value::as_string() { PARLEY_CHECK(is_string()); return std::get<std::string>(v_); }
const Array& Value::as_array() const { PARLEY_CHECK(is_array()); return std::get<Array>(v_); }
Array& Value::as_array() { PARLEY_CHECK(is_array()); return std::get<Array>(v_); }
const Object& Value::as_object() const { PARLEY_CHECK(is_object()); return std::get<Object>(v_); }
Object& Value::as_object() { PARLEY_CHECK(is_object()); return std::get<Object>(v_); }

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  const Object& o = std::get<Object>(v_);
  for (auto it = o.rbegin(); it != o.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

Value& Value::operator[](std::string_view key) {
  if (is_null()) v_ = Object{};
  if (Value* v = find(key)) return *v;
  Object& o = as_object();
  o.emplace_back(std::string(key), Value());
  return o.back().second;
}

void Value::push_back(Value v) {
  if (is_null()) v_ = Array{};
  as_array().push_back(std::move(v));
}

size_t Value::size() const {
  if (is_array()) return as_array().size();
  if (is_object()) return as_object().size();
  return 0;
}

bool Value::operator==(const Value& other) const { return v_ == other.v_; }

// ---------------------------------------------------------------------------------------------
// Parser

namespace {

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options) : s_(text), opt_(options) {}

  Result<Value> parse_document() {
    skip_ws();
    Value v;
    if (!parse_value(v, 0)) return error_;
    skip_ws();
    if (pos_ != s_.size()) {
      fail("unexpected data after the JSON value");
      return error_;
    }
    return v;
  }

 private:
  bool fail(const char* what) { return fail_at(pos_, what); }
  bool fail_at(size_t at, const std::string& what) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < s_.size(); i++) {
      if (s_[i] == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    error_ = Error::fmt("invalid JSON at byte %zu (line %zu, column %zu): %s", at, line, col,
                        what.c_str());
    return false;
  }

  void skip_ws() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      pos_++;
    }
  }

  bool consume_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }

  bool parse_value(Value& out, size_t depth) {
    if (pos_ >= s_.size()) return fail("unexpected end of input, expected a value");
    char c = s_[pos_];
    switch (c) {
      case '{': return parse_object(out, depth + 1);
      case '[': return parse_array(out, depth + 1);
      case '"': {
        std::string str;
        if (!parse_string(str)) return false;
        out = Value(std::move(str));
        return true;
      }
      case 't':
        if (consume_literal("true")) { out = Value(true); return true; }
        return fail("invalid literal (expected true)");
      case 'f':
        if (consume_literal("false")) { out = Value(false); return true; }
        return fail("invalid literal (expected false)");
      case 'n':
        if (consume_literal("null")) { out = Value(nullptr); return true; }
        return fail("invalid literal (expected null)");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(out);
        return fail("expected a value");
    }
  }

  bool parse_object(Value& out, size_t depth) {
    if (depth > opt_.max_depth) return fail("nesting too deep");
    pos_++;  // {
    Object obj;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      pos_++;
      out = Value(std::move(obj));
      return true;
    }
    while (true) {
      skip_ws();
      if (pos_ >= s_.size()) return fail("unexpected end of input inside an object");
      if (s_[pos_] != '"') return fail("expected a string key");
      std::string key;
      if (!parse_string(key)) return false;
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':' after an object key");
      pos_++;
      skip_ws();
      Value v;
      if (!parse_value(v, depth)) return false;
      obj.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (pos_ >= s_.size()) return fail("unexpected end of input inside an object");
      if (s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (s_[pos_] == '}') {
        pos_++;
        out = Value(std::move(obj));
        return true;
      }
      return fail("expected ',' or '}' after an object member");
    }
  }

  bool parse_array(Value& out, size_t depth) {
    if (depth > opt_.max_depth) return fail("nesting too deep");
    pos_++;  // [
    Array arr;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      pos_++;
      out = Value(std::move(arr));
      return true;
    }
    while (true) {
      skip_ws();
      Value v;
      if (!parse_value(v, depth)) return false;
      arr.push_back(std::move(v));
      skip_ws();
      if (pos_ >= s_.size()) return fail("unexpected end of input inside an array");
      if (s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (s_[pos_] == ']') {
        pos_++;
        out = Value(std::move(arr));
        return true;
      }
      return fail("expected ',' or ']' after an array element");
    }
  }

  bool parse_hex4(uint32_t& v) {
    if (pos_ + 4 > s_.size()) return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; i++) {
      char c = s_[pos_ + static_cast<size_t>(i)];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return fail("invalid hex digit in \\u escape");
    }
    pos_ += 4;
    return true;
  }

  bool parse_string(std::string& out) {
    size_t start = pos_;
    pos_++;  // opening quote
    while (true) {
      // Copy the run of plain bytes in one go.
      size_t run = pos_;
      while (run < s_.size()) {
        unsigned char c = static_cast<unsigned char>(s_[run]);
        if (c == '"' || c == '\\' || c < 0x20) break;
        run++;
      }
      if (run > pos_) {
        std::string_view chunk = s_.substr(pos_, run - pos_);
        size_t valid = utf8::valid_prefix(chunk);
        if (valid != chunk.size()) return fail_at(pos_ + valid, "invalid UTF-8 in string");
        out.append(chunk);
        pos_ = run;
      }
      if (pos_ >= s_.size()) return fail_at(start, "unterminated string");
      char c = s_[pos_];
      if (c == '"') {
        pos_++;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string (must be escaped)");
      // backslash
      pos_++;
      if (pos_ >= s_.size()) return fail_at(start, "unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          size_t esc_at = pos_ - 2;
          uint32_t cp = 0;
          if (!parse_hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") return fail_at(esc_at, "lone high surrogate in \\u escape");
            pos_ += 2;
            uint32_t lo = 0;
            if (!parse_hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail_at(esc_at, "invalid surrogate pair in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail_at(esc_at, "lone low surrogate in \\u escape");
          }
          utf8::append(out, cp);
          break;
        }
        default:
          pos_--;
          return fail("invalid escape in string");
      }
    }
  }

  bool parse_number(Value& out) {
    size_t start = pos_;
    bool is_float = false;
    if (s_[pos_] == '-') pos_++;
    if (pos_ >= s_.size()) return fail("invalid number");
    if (s_[pos_] == '0') {
      pos_++;
    } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
    } else {
      return fail("invalid number");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      is_float = true;
      pos_++;
      size_t digits = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
      if (pos_ == digits) return fail("invalid number: digits expected after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      is_float = true;
      pos_++;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
      size_t digits = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
      if (pos_ == digits) return fail("invalid number: digits expected in exponent");
    }
    const char* b = s_.data() + start;
    const char* e = s_.data() + pos_;
    if (!is_float) {
      int64_t i = 0;
      auto r = std::from_chars(b, e, i);
      if (r.ec == std::errc() && r.ptr == e) {
        out = Value(i);
        return true;
      }
      // Too large for int64: falls through to double.
    }
    double d = 0;
    auto r = std::from_chars(b, e, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow to zero is harmless; overflow is not representable.
      bool tiny = false;
      for (const char* p = b; p < e; p++) {
        if (*p == 'e' || *p == 'E') { tiny = p + 1 < e && p[1] == '-'; break; }
      }
      if (!tiny) return fail_at(start, "number out of range");
      out = Value(0.0);
      return true;
    }
    if (r.ec != std::errc() || r.ptr != e) return fail_at(start, "invalid number");
    out = Value(d);
    return true;
  }

  std::string_view s_;
  const ParseOptions& opt_;
  size_t pos_ = 0;
  Error error_;
};

}  // namespace

Result<Value> parse(std::string_view text, const ParseOptions& options) {
  Parser p(text, options);
  return p.parse_document();
}

// ---------------------------------------------------------------------------------------------
// Writer

void write_string(std::string& out, std::string_view s, bool ensure_ascii) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      // Plain run.
      size_t j = i + 1;
      while (j < s.size()) {
        unsigned char d = static_cast<unsigned char>(s[j]);
        if (d < 0x20 || d == '"' || d == '\\' || d >= 0x80) break;
        j++;
      }
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
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
    if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
      i++;
      continue;
    }
    size_t len = 0;
    int32_t cp = utf8::decode(s, i, &len);
    if (cp < 0) {
      // Not valid UTF-8: emit U+FFFD so the output stays valid JSON.
      out += ensure_ascii ? "\\ufffd" : "\xEF\xBF\xBD";
      i++;
      continue;
    }
    if (!ensure_ascii) {
      out.append(s.substr(i, len));
    } else {
      auto put = [&](uint32_t u) {
        out += "\\u";
        out += hex[(u >> 12) & 15];
        out += hex[(u >> 8) & 15];
        out += hex[(u >> 4) & 15];
        out += hex[u & 15];
      };
      uint32_t u = static_cast<uint32_t>(cp);
      if (u >= 0x10000) {
        u -= 0x10000;
        put(0xD800 + (u >> 10));
        put(0xDC00 + (u & 0x3FF));
      } else {
        put(u);
      }
    }
    i += len;
  }
  out += '"';
}

void write_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  out.append(s);
  if (s.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

namespace {

void write_impl(std::string& out, const Value& v, const WriteOptions& opt, int level) {
  auto newline = [&](int lvl) {
    if (opt.indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(opt.indent * lvl), ' ');
  };
  switch (v.type()) {
    case Type::null: out += "null"; return;
    case Type::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Type::integer: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out.append(buf, static_cast<size_t>(r.ptr - buf));
      return;
    }
    case Type::number: write_double(out, v.as_double()); return;
    case Type::string: write_string(out, v.as_string(), opt.ensure_ascii); return;
    case Type::array: {
      const Array& a = v.as_array();
      out += '[';
      if (a.empty()) {
        out += ']';
        return;
      }
      for (size_t i = 0; i < a.size(); i++) {
        if (i > 0) out.append(opt.item_separator);
        newline(level + 1);
        write_impl(out, a[i], opt, level + 1);
      }
      newline(level);
      out += ']';
      return;
    }
    case Type::object: {
      const Object& o = v.as_object();
      out += '{';
      if (o.empty()) {
        out += '}';
        return;
      }
      std::vector<const Member*> members;
      members.reserve(o.size());
      for (const auto& m : o) members.push_back(&m);
      if (opt.sort_keys) {
        std::stable_sort(members.begin(), members.end(),
                         [](const Member* a, const Member* b) { return a->first < b->first; });
      }
      for (size_t i = 0; i < members.size(); i++) {
        if (i > 0) out.append(opt.item_separator);
        newline(level + 1);
        write_string(out, members[i]->first, opt.ensure_ascii);
        out.append(opt.key_separator);
        write_impl(out, members[i]->second, opt, level + 1);
      }
      newline(level);
      out += '}';
      return;
    }
  }
}

}  // namespace

void write(std::string& out, const Value& v, const WriteOptions& options) {
  write_impl(out, v, options, 0);
}

std::string write(const Value& v, const WriteOptions& options) {
  std::string out;
  write_impl(out, v, options, 0);
  return out;
}

}  // namespace parley::json

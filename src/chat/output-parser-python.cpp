// Python-literal tool-call arguments (output-parser-python.h), and the marker-driven parser's
// pythonic calls: [get_weather(city="Paris", days=3), get_time()] (LFM2).
#include "chat/output-parser-python.h"

#include <cctype>
#include <cstdio>

#include "base/json.h"
#include "chat/output-parser-markup.h"

namespace parley::chat::detail {
namespace {

using Status = JsonStreamer::Status;

bool is_ident_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || u >= 0x80;
}
bool is_token_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '.' || c == '+' || c == '-';
}
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
constexpr size_t kMaxDepth = 512;

}  // namespace

PythonArgsStreamer::PythonArgsStreamer(Shape shape) : shape_(shape) {}

Status PythonArgsStreamer::fail() {
  status_ = Status::error;
  return status_;
}

Status PythonArgsStreamer::to_json(std::string_view j, std::string& out) {
  for (char c : j) {
    if (status_ != Status::more) break;
    status_ = json_.feed(c, out);
  }
  return status_;
}

Status PythonArgsStreamer::feed(char c, std::string& out) {
  consumed_ = true;
  if (status_ != Status::more) {
    consumed_ = false;
    return status_;
  }
  if (shape_ == Shape::kwargs && !started_) {
    started_ = true;
    to_json("{", out);
  }
  if (quote_ != 0) {
    string_byte(c, out);
  } else if (shape_ == Shape::kwargs && stack_.empty() && expect_key_) {
    // keyword = value, or the call's ")"
    if (is_space(c)) {
      key_done_ = !key_.empty();
    } else if (is_ident_byte(c) && !key_done_) {
      key_ += c;
      if (key_.size() > kMaxName) fail();
    } else if (c == '=' && !key_.empty()) {
      std::string k;
      json::write_string(k, key_);
      k += ':';
      key_.clear();
      key_done_ = false;
      expect_key_ = false;
      to_json(k, out);
    } else if (c == ')' && key_.empty()) {
      to_json("}", out);
    } else {
      fail();  // a positional argument, or junk
    }
  } else if (is_token_byte(c)) {
    token_ += c;
    if (token_.size() > 4096) fail();
  } else {
    if (!token_.empty()) flush_token(out);
    if (status_ == Status::more) structural(c, out);
  }
  if (status_ == Status::error) consumed_ = false;
  return status_;
}

Status PythonArgsStreamer::flush_token(std::string& out) {
  const std::string t = token_;
  token_.clear();
  if (t.empty()) return status_;
  if (t == "True" || t == "true") return to_json("true", out);
  if (t == "False" || t == "false") return to_json("false", out);
  if (t == "None" || t == "null") return to_json("null", out);
  char first = t[0];
  if (!(std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' || first == '.')) {
    return fail();  // a name: not a literal
  }
  // Python number spellings JSON lacks: 1_000, +5, .5, 5.
  std::string n;
  for (char c : t) {
    if (c != '_') n += c;
  }
  if (!n.empty() && n[0] == '+') n.erase(0, 1);
  size_t digits_at = !n.empty() && n[0] == '-' ? 1 : 0;
  if (n.size() > digits_at && n[digits_at] == '.') n.insert(digits_at, "0");
  size_t dot = n.find('.');
  if (dot != std::string::npos && (dot + 1 == n.size() || n[dot + 1] == 'e' || n[dot + 1] == 'E')) {
    n.insert(dot + 1, "0");
  }
  return to_json(n, out);  // the JSON scanner refuses what is still not a number
}

Status PythonArgsStreamer::structural(char c, std::string& out) {
  if (is_space(c)) return status_;
  switch (c) {
    case '\'':
    case '"': quote_ = c; return to_json("\"", out);
    case '{':
    case '[':
    case '(':
      if (stack_.size() >= kMaxDepth) return fail();
      stack_.push_back(c);
      return to_json(c == '{' ? "{" : "[", out);
    case '}':
    case ']':
    case ')': {
      if (stack_.empty()) {
        if (shape_ == Shape::kwargs && c == ')') return to_json("}", out);
        return fail();
      }
      char open = stack_.back();
      if ((c == '}') != (open == '{') || (c == ']' && open != '[') || (c == ')' && open != '('))
        return fail();
      stack_.pop_back();
      return to_json(c == '}' ? "}" : "]", out);
    }
    case ',':
      if (shape_ == Shape::kwargs && stack_.empty()) expect_key_ = true;
      return to_json(",", out);
    case ':': return to_json(":", out);
    default: return fail();
  }
}

Status PythonArgsStreamer::string_byte(char c, std::string& out) {
  if (escape_ == 2) {
    int d = hex_digit(c);
    if (d < 0) return fail();
    hex_value_ = hex_value_ * 16 + static_cast<uint32_t>(d);
    if (--hex_left_ == 0) {
      escape_ = 0;
      return escape_done(hex_value_, out);
    }
    return status_;
  }
  if (escape_ == 1) {
    escape_ = 0;
    switch (c) {
      case 'n': return to_json("\\n", out);
      case 't': return to_json("\\t", out);
      case 'r': return to_json("\\r", out);
      case 'b': return to_json("\\b", out);
      case 'f': return to_json("\\f", out);
      case 'a': return to_json("\\u0007", out);
      case 'v': return to_json("\\u000b", out);
      case '0': return to_json("\\u0000", out);
      case '\\': return to_json("\\\\", out);
      case '"': return to_json("\\\"", out);
      case '\'': return to_json("'", out);
      case '\n': return status_;  // a line continuation
      case 'x':
      case 'u':
      case 'U':
        escape_ = 2;
        hex_left_ = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        hex_value_ = 0;
        return status_;
      default: {
        // Python keeps an unknown escape as it is: the backslash is text.
        to_json("\\\\", out);
        return string_byte(c, out);
      }
    }
  }
  if (c == '\\') {
    escape_ = 1;
    return status_;
  }
  if (c == quote_) {
    quote_ = 0;
    return to_json("\"", out);
  }
  if (c == '"') return to_json("\\\"", out);
  return to_json(std::string_view(&c, 1), out);  // control bytes and UTF-8: the JSON scanner's
}

// \xHH, \uHHHH, \UHHHHHHHH as JSON \u escapes (the JSON scanner pairs or replaces surrogates).
Status PythonArgsStreamer::escape_done(uint32_t cp, std::string& out) {
  if (cp > 0x10FFFF) return fail();
  char esc[16];
  if (cp < 0x10000) {
    std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(cp));
  } else {
    uint32_t v = cp - 0x10000;
    std::snprintf(esc, sizeof esc, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                  static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
  }
  return to_json(esc, out);
}

void PythonArgsStreamer::complete(std::string& out) {
  if (status_ == Status::more && quote_ == 0 && !token_.empty()) flush_token(out);
  json_.complete(out);
  status_ = Status::done;
}

}  // namespace parley::chat::detail

// The incremental JSON scanner of output-parser-json.h. It is lenient where models slip and the
// repair is unambiguous (raw control characters in strings are escaped, a trailing comma is
// dropped, invalid UTF-8 becomes U+FFFD, a lone surrogate escape becomes \ufffd) and stops at
// anything else, leaving a prefix that complete() closes.
#include "chat/output-parser-json.h"

#include <cstdio>

#include "base/json.h"
#include "base/utf8.h"

namespace parley::chat::detail {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
unsigned hex_value(std::string_view h) {
  unsigned v = 0;
  for (char c : h) {
    v <<= 4;
    v |= static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}
constexpr size_t kMaxDepth = 512;

}  // namespace

JsonStreamer::Status JsonStreamer::feed(char c, std::string& out) {
  consumed_ = true;
  if (done_) {
    consumed_ = false;
    return Status::done;
  }
  if (error_) {
    consumed_ = false;
    return Status::error;
  }
  Status st = Status::more;
  switch (state_) {
    case State::value: st = value_start(c, out); break;
    case State::key_or_end:
    case State::key:
      if (is_ws(c)) {
        (held_.empty() ? out : held_) += c;
      } else if (c == '"') {
        held_ += c;
        state_ = State::in_key;
      } else if (c == '}') {
        held_.clear();  // a trailing comma is dropped
        out += c;
        stack_.pop_back();
        close_value();
      } else {
        error_ = true;
      }
      break;
    case State::in_key: st = string_byte(c, out, held_); break;
    case State::colon:
      if (is_ws(c)) {
        held_ += c;
      } else if (c == ':') {
        out += held_;
        out += c;
        held_.clear();
        state_ = State::value;
      } else {
        error_ = true;
      }
      break;
    case State::in_string: st = string_byte(c, out, out); break;
    case State::number:
      if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        held_ += c;
        if (held_.size() > 4096) error_ = true;
      } else if (number_complete()) {
        out += held_;
        held_.clear();
        close_value();
        if (done_) {
          consumed_ = false;
        } else {
          return after_value(c, out);
        }
      } else {
        error_ = true;
      }
      break;
    case State::literal: {
      size_t n = 0;  // bytes of the literal held (after any held comma / whitespace)
      while (n < held_.size() && held_[held_.size() - 1 - n] != ',' && !is_ws(held_[held_.size() - 1 - n])) {
        n++;
      }
      if (n < literal_.size() && literal_[n] == c) {
        held_ += c;
        if (n + 1 == literal_.size()) {
          out += held_;
          held_.clear();
          close_value();
        }
      } else {
        error_ = true;
      }
      break;
    }
    case State::after_value: st = after_value(c, out); break;
  }
  if (error_) {
    consumed_ = false;
    return Status::error;
  }
  if (done_) return Status::done;
  return st;
}

JsonStreamer::Status JsonStreamer::value_start(char c, std::string& out) {
  if (is_ws(c)) {
    if (started_) (held_.empty() ? out : held_) += c;
    return Status::more;
  }
  if (object_only_ && !started_ && c != '{') {
    error_ = true;
    return Status::error;
  }
  started_ = true;
  if (c == '{' || c == '[') {
    if (stack_.size() >= kMaxDepth) {
      error_ = true;
      return Status::error;
    }
    out += held_;
    out += c;
    held_.clear();
    stack_.push_back(c);
    state_ = c == '{' ? State::key_or_end : State::value;
  } else if (c == ']' && !stack_.empty() && stack_.back() == '[') {
    held_.clear();  // empty array, or a trailing comma dropped
    out += c;
    stack_.pop_back();
    close_value();
  } else if (c == '"') {
    out += held_;
    out += c;
    held_.clear();
    state_ = State::in_string;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    held_ += c;
    state_ = State::number;
  } else if (c == 't' || c == 'f' || c == 'n') {
    literal_ = c == 't' ? "true" : c == 'f' ? "false" : "null";
    held_ += c;
    state_ = State::literal;
  } else {
    error_ = true;
    return Status::error;
  }
  return Status::more;
}

JsonStreamer::Status JsonStreamer::after_value(char c, std::string& out) {
  if (is_ws(c)) {
    out += c;
  } else if (c == ',') {
    held_ = ",";
    state_ = stack_.back() == '{' ? State::key : State::value;
  } else if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
    out += c;
    stack_.pop_back();
    close_value();
  } else {
    error_ = true;
    return Status::error;
  }
  return done_ ? Status::done : Status::more;
}

// One byte inside a string. dst gets the validated bytes (for a value string: the output; for
// a key: the held-back buffer).
JsonStreamer::Status JsonStreamer::string_byte(char c, std::string& out, std::string& dst) {
  auto u = static_cast<unsigned char>(c);
  if (utf8_left_ > 0) {
    if ((u & 0xC0) == 0x80) {
      literal_ += c;
      if (--utf8_left_ == 0) {
        if (utf8::is_valid(literal_)) {
          dst += literal_;
        } else {
          dst += "\xEF\xBF\xBD";
        }
        literal_.clear();
      }
      return Status::more;
    }
    utf8_left_ = 0;
    literal_.clear();
    dst += "\xEF\xBF\xBD";  // truncated sequence; this byte is read on its own below
  }
  if (escape_) return escape_byte(c, out, dst);
  if (c == '\\') {
    escape_ = true;
    literal_ = "\\";
  } else if (c == '"') {
    dst += c;
    if (state_ == State::in_key) {
      state_ = State::colon;
    } else {
      close_value();
    }
  } else if (u < 0x20) {
    char esc[8];
    if (c == '\n') {
      dst += "\\n";
    } else if (c == '\t') {
      dst += "\\t";
    } else if (c == '\r') {
      dst += "\\r";
    } else {
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      dst += esc;
    }
  } else if (u < 0x80) {
    dst += c;
  } else {
    int n = utf8::sequence_length(u);
    if (n <= 1) {
      dst += "\xEF\xBF\xBD";
    } else {
      literal_.assign(1, c);
      utf8_left_ = n - 1;
    }
  }
  (void)out;
  return done_ ? Status::done : Status::more;
}

// A byte of an escape sequence (after the backslash).
JsonStreamer::Status JsonStreamer::escape_byte(char c, std::string& out, std::string& dst) {
  literal_ += c;
  if (hex_left_ > 0) {
    if (!is_hex(c)) {
      error_ = true;
      return Status::error;
    }
    if (--hex_left_ == 0) {
      // literal_ is "\uXXXX" or "\uHHHH\uLLLL" (a surrogate pair).
      unsigned first = hex_value(std::string_view(literal_).substr(2, 4));
      if (literal_.size() == 6 && first >= 0xD800 && first <= 0xDBFF) {
        hex_left_ = -1;  // a high surrogate: "\u" of the low one must follow
        return Status::more;
      }
      unsigned second = literal_.size() == 12 ? hex_value(std::string_view(literal_).substr(8, 4)) : 0;
      bool ok = literal_.size() == 12 ? (second >= 0xDC00 && second <= 0xDFFF)
                                      : !(first >= 0xDC00 && first <= 0xDFFF);
      dst += ok ? literal_ : std::string("\\ufffd");
      literal_.clear();
      escape_ = false;
    }
    return Status::more;
  }
  if (hex_left_ < 0) {  // after a high surrogate: expecting "\u"
    size_t n = literal_.size();
    if ((n == 7 && c == '\\') || (n == 8 && c == 'u')) {
      if (n == 8) hex_left_ = 4;
      return Status::more;
    }
    // A lone high surrogate: replaced; this byte starts over.
    literal_.clear();
    escape_ = false;
    hex_left_ = 0;
    dst += "\\ufffd";
    return string_byte(c, out, dst);
  }
  if (c == 'u') {
    hex_left_ = 4;
    return Status::more;
  }
  if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
    dst += literal_;
    literal_.clear();
    escape_ = false;
    return Status::more;
  }
  error_ = true;
  return Status::error;
}

void JsonStreamer::close_value() {
  if (stack_.empty()) {
    done_ = true;
  } else {
    state_ = State::after_value;
  }
}

bool JsonStreamer::number_complete() const {
  // held_ may start with a held comma and whitespace; the number is what follows.
  size_t i = 0;
  while (i < held_.size() && (held_[i] == ',' || is_ws(held_[i]))) i++;
  std::string_view s = std::string_view(held_).substr(i);
  size_t p = 0;
  auto digits = [&] {
    size_t b = p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') p++;
    return p - b;
  };
  if (p < s.size() && s[p] == '-') p++;
  size_t int_start = p;
  size_t n = digits();
  if (n == 0 || (n > 1 && s[int_start] == '0')) return false;
  if (p < s.size() && s[p] == '.') {
    p++;
    if (digits() == 0) return false;
  }
  if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
    p++;
    if (p < s.size() && (s[p] == '+' || s[p] == '-')) p++;
    if (digits() == 0) return false;
  }
  // Syntax alone is not enough: 2e532 is out of range for a double (our JSON reader refuses it).
  return p == s.size() && json::parse(s).ok();
}

void JsonStreamer::complete(std::string& out) {
  if (done_ && !error_) return;
  if (!started_) {
    out += object_only_ ? "{}" : "null";
    done_ = true;
    error_ = false;
    return;
  }
  switch (state_) {
    case State::in_string: out += '"'; break;
    case State::number:
      if (number_complete() && !error_) {
        out += held_;
      } else if (!stack_.empty() && stack_.back() == '{') {
        out += "null";
      }
      break;
    case State::literal:
    case State::value:
      if (!stack_.empty() && stack_.back() == '{') out += "null";
      break;
    default: break;
  }
  held_.clear();
  for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) out += *it == '{' ? '}' : ']';
  stack_.clear();
  done_ = true;
  error_ = false;  // completed: nothing more to add
}

}  // namespace parley::chat::detail

// An incremental JSON scanner for tool-call arguments: fed one byte at a time, it passes
// through only what is already known to be a valid JSON prefix, knows where the value ends, and
// can complete what it passed so that the concatenation is valid JSON when the model stops early
// or writes something invalid. Internal to the output parser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley::chat::detail {

class JsonStreamer {
 public:
  enum class Status { more, done, error };

  // object_only: the value must be an object (tool arguments); otherwise any value.
  explicit JsonStreamer(bool object_only = true) : object_only_(object_only) {}

  // Consumes one byte; appends what became certain to out. After done or error, further bytes
  // are not consumed (the caller stops). On done the byte that ended the value was consumed
  // (a number ends only on a following byte: that byte is then NOT consumed, see consumed()).
  Status feed(char c, std::string& out);
  // Whether the last feed() consumed its byte (false only when a number or literal ended on
  // the byte after it).
  bool consumed() const { return consumed_; }
  // End of input (or after error): appends what makes the passed-through text valid JSON.
  void complete(std::string& out);
  bool started() const { return started_; }
  bool done() const { return done_; }

 private:
  enum class State : uint8_t {
    value,        // expecting a value (top level, after ':' or '[' or array ',')
    key_or_end,   // after '{'
    key,          // after object ','
    in_key,       // inside a key string (held back until its ':')
    colon,        // after a key
    in_string,    // inside a value string
    after_value,  // expecting ',' or a closer
    number,       // inside a number (held back)
    literal,      // inside true/false/null (held back)
  };
  Status value_start(char c, std::string& out);
  Status after_value(char c, std::string& out);
  Status string_byte(char c, std::string& out, std::string& dst);
  Status escape_byte(char c, std::string& out, std::string& dst);
  void close_value();
  bool number_complete() const;

  bool object_only_;
  bool started_ = false;
  bool done_ = false;
  bool error_ = false;
  bool consumed_ = true;
  State state_ = State::value;
  std::vector<char> stack_;  // '{' or '['
  std::string held_;         // bytes passed later (comma, key, number, literal, escape, UTF-8)
  std::string literal_;      // the literal being matched ("true", "false", "null")
  bool escape_ = false;      // after a backslash
  int hex_left_ = 0;         // \uXXXX digits still to come
  int utf8_left_ = 0;        // continuation bytes still to come
};

}  // namespace parley::chat::detail

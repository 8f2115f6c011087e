// Python literals as tool-call arguments, converted to JSON byte by byte and passed through the
// JSON scanner (which validates, streams and, when cut off, completes them like any JSON
// family's arguments). Two shapes:
//   kwargs: what follows the "(" of a pythonic call, get_weather(city="Paris", days=3) (LFM2),
//           up to and including its ")";
//   dict:   a Python dict, {'city': 'Paris', 'days': 3} (Apriel-1.5 renders arguments|string).
// Values: strings in either quote with Python's escapes, numbers, True/False/None (and JSON's
// true/false/null), lists, tuples (as lists) and dicts. A trailing comma is dropped. Anything
// else (positional arguments, sets, names, expressions) is an error: the JSON so far is valid
// and complete() closes it. Internal to the output parser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chat/output-parser-json.h"

namespace parley::chat::detail {

class PythonArgsStreamer {
 public:
  enum class Shape { kwargs, dict };
  explicit PythonArgsStreamer(Shape shape = Shape::kwargs);

  // Consumes one byte; appends the JSON that became certain to out. done: the arguments ended
  // with this byte (the ")" of kwargs or the dict's "}"). After done or error further bytes are
  // not consumed (see consumed()).
  JsonStreamer::Status feed(char c, std::string& out);
  bool consumed() const { return consumed_; }
  // End of input (or after error): appends what makes the JSON passed so far valid.
  void complete(std::string& out);
  bool done() const { return json_.done(); }

 private:
  JsonStreamer::Status to_json(std::string_view j, std::string& out);
  JsonStreamer::Status structural(char c, std::string& out);
  JsonStreamer::Status flush_token(std::string& out);
  JsonStreamer::Status string_byte(char c, std::string& out);
  JsonStreamer::Status escape_done(uint32_t cp, std::string& out);
  JsonStreamer::Status fail();

  Shape shape_;
  JsonStreamer json_{true};
  JsonStreamer::Status status_ = JsonStreamer::Status::more;
  bool consumed_ = true;
  bool started_ = false;        // kwargs: the "{" was passed
  std::vector<char> stack_;     // Python containers open: '{', '[', '('
  bool expect_key_ = true;      // kwargs level: a keyword (or ")") comes next
  bool key_done_ = false;       // kwargs level: the keyword ended (whitespace), "=" comes next
  std::string key_;             // kwargs keyword being read
  bool pending_comma_ = false;  // a comma held until something other than a closer follows
  std::string token_;           // a bare token being read (number, True, None, ...)
  char quote_ = 0;              // inside a string quoted with this
  int escape_ = 0;              // 0: none, 1: after a backslash, 2: reading hex digits
  int hex_left_ = 0;
  uint32_t hex_value_ = 0;
};

}  // namespace parley::chat::detail

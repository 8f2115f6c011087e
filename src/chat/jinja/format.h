// Python's text forms of values: str(), repr(), float repr, and json.dumps as transformers'
// tojson filter calls it. Every writer stops with a limit error when the text would pass
// max_bytes, so a small template cannot print an exponentially large nested list.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "chat/jinja/value.h"

namespace parley::chat::jinja {

// str(v) appended to out ("" for undefined, "None", "True", "1.0", "[1, 'a']").
void append_str(std::string& out, const Value& v, size_t max_bytes);
// repr(v) appended to out ("'a'" for a string).
void append_repr(std::string& out, const Value& v, size_t max_bytes);
std::string to_str(const Value& v, size_t max_bytes);
std::string to_repr(const Value& v, size_t max_bytes);

// Python float repr: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
void append_float(std::string& out, double d);
void append_int(std::string& out, int64_t i);
// Python repr of a str: picks ' or " like Python and escapes what Python escapes.
void append_string_repr(std::string& out, std::string_view s);

struct JsonStyle {
  bool has_indent = false;    // indent=None when false
  std::string indent;         // the indent unit (an int n becomes n spaces)
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// json.dumps(v, ...) appended to out. Throws a runtime error for values JSON cannot hold
// ("Object of type Undefined is not JSON serializable").
void append_json(std::string& out, const Value& v, const JsonStyle& style, size_t max_bytes);

// Python ordering (<): -1, 0, 1; throws TypeError for types Python cannot order.
int compare_values(const Value& a, const Value& b, const char* op = "<");

}  // namespace parley::chat::jinja

// JSON: an owned document value, a strict parser with byte-exact error positions, and a writer.
// Used for request bodies, tokenizer.json, chat conversations and every JSON we emit.
//
// Why our own and not simdjson: request validation needs the exact byte offset of a syntax error
// and order-preserving objects for faithful echoing; documents here are < a few MB, where a
// plain recursive-descent parser runs at hundreds of MB/s.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"

namespace parley::json {

enum class Type : uint8_t { null, boolean, integer, number, string, array, object };
std::string_view type_name(Type t);  // "null", "boolean", "integer", "number", ...

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;  // insertion order kept; duplicate keys kept as parsed

class Value {
 public:
  Value() : v_(nullptr) {}
  Value(std::nullptr_t) : v_(nullptr) {}                        // NOLINT
  Value(bool b) : v_(b) {}                                      // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}                 // NOLINT
  Value(long i) : v_(static_cast<int64_t>(i)) {}                // NOLINT
  Value(long long i) : v_(static_cast<int64_t>(i)) {}           // NOLINT
  Value(unsigned i) : v_(static_cast<int64_t>(i)) {}            // NOLINT
  Value(unsigned long i) : v_(static_cast<int64_t>(i)) {}       // NOLINT
  Value(unsigned long long i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d) : v_(d) {}                                    // NOLINT
  Value(std::string s) : v_(std::move(s)) {}                    // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}             // NOLINT
  Value(const char* s) : v_(std::string(s)) {}                  // NOLINT
  Value(Array a) : v_(std::move(a)) {}                          // NOLINT
  Value(Object o) : v_(std::move(o)) {}                         // NOLINT

  static Value array() { return Value(Array{}); }
  static Value object() { return Value(Object{}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::null; }
  bool is_bool() const { return type() == Type::boolean; }
  bool is_int() const { return type() == Type::integer; }
  bool is_number() const { return type() == Type::integer || type() == Type::number; }
  bool is_string() const { return type() == Type::string; }
  bool is_array() const { return type() == Type::array; }
  bool is_object() const { return type() == Type::object; }

  // Accessors check the type (a wrong type is a bug: callers test is_*() on untrusted input).
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;  // integer or number
  const std::string& as_string() const;
  std::string& as_string();
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Object lookup: the last member with this key, or nullptr (also when not an object).
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // Object member access that inserts null when missing (this must be an object or null).
  Value& operator[](std::string_view key);
  // Appends to an array (this must be an array or null).
  void push_back(Value v);
  // Elements of an array or members of an object; 0 otherwise.
  size_t size() const;

  bool operator==(const Value& other) const;

 private:
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v_;
};

struct ParseOptions {
  size_t max_depth = 256;   // nesting of arrays/objects
};

// Strict RFC 8259: one value, optional surrounding whitespace, valid UTF-8 strings, no
// trailing commas, no NaN/Infinity, no lone surrogates. Integers that fit in int64 without a
// fraction or exponent are integers; every other number is a double (out of range: an error).
// Errors read "invalid JSON at byte N (line L, column C): what".
Result<Value> parse(std::string_view text, const ParseOptions& options = {});

struct WriteOptions {
  int indent = -1;               // < 0: compact
  bool ensure_ascii = false;     // escape every non-ASCII code point as \uXXXX
  bool sort_keys = false;
  std::string_view item_separator = ",";
  std::string_view key_separator = ":";
};

std::string write(const Value& v, const WriteOptions& options = {});
void write(std::string& out, const Value& v, const WriteOptions& options = {});
// Appends s as a quoted JSON string.
void write_string(std::string& out, std::string_view s, bool ensure_ascii = false);
// Shortest representation that reads back to the same double; integral values get ".0"
// (like Python's repr, so 1.0 stays a float on the wire). Non-finite values are written null.
void write_double(std::string& out, double d);

}  // namespace parley::json

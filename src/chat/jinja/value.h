// Values of the Jinja runtime, with Python semantics: templates were written against Python
// jinja2, so str() of a value, equality, ordering, truthiness and JSON output must be Python's
// byte for byte (True/None, list repr with quotes, 1.0 vs 1, ...).
//
// Strings, lists and dicts are shared by pointer. Templates run in an immutable sandbox (as
// transformers configures jinja2), so a list or dict is never modified after it is built; only
// namespace objects and generators (single-use iterators) change, and those are created per
// render. That makes values built once (the tools of a request) safe to share across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/json.h"

namespace parley::chat::jinja {

class Value;
class Interp;
struct CallArgs;

using StrPtr = std::shared_ptr<const std::string>;

// What an undefined value says when it is used in a way that fails ("'x' is undefined").
struct UndefinedInfo {
  std::string message;
  bool unsafe = false;  // a blocked attribute (the sandbox's SecurityError)
};

enum class Kind : uint8_t { undefined, none, boolean, integer, floating, string, list, dict, object };

// Python's flavours of a sequence. They iterate alike but print, index and size differently.
enum class ListKind : uint8_t {
  list,         // [1, 2]
  tuple,        // (1, 2)
  generator,    // single use; no len(), no indexing, always true (map/select/items/reverse)
  dict_keys,    // dict_keys([...])
  dict_values,  // dict_values([...])
  dict_items,   // dict_items([(k, v), ...])
  range,        // range(a, b[, s])
};

struct List {
  ListKind kind = ListKind::list;
  std::vector<Value> items;
  size_t pos = 0;  // generator: items before pos were consumed
  int64_t range_start = 0, range_stop = 0, range_step = 1;
  // The elements not yet consumed (everything but a generator's consumed prefix).
  size_t size() const;
};

// Insertion-ordered mapping with Python key equality (1, 1.0 and True are the same key).
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(std::string_view key) const;
  const Value* find(const Value& key) const;
  // Replaces the value of an existing equal key (keeping the first key) or appends.
  void set(Value key, Value value);
};

// Reference objects other than containers: callables, namespaces, the loop object.
class Object : public std::enable_shared_from_this<Object> {
 public:
  virtual ~Object() = default;
  // Python class name, used in messages ("'Namespace' object", "macro 'm'").
  virtual std::string type_name() const = 0;
  virtual bool is_callable() const { return false; }
  virtual Value call(Interp& in, CallArgs& args);
  // Attribute lookup; sets *found = false when there is no such attribute.
  virtual Value getattr(Interp& in, std::string_view name, bool* found);
  // str() of the object (also its repr), at most about max_bytes long.
  virtual void repr(std::string& out, size_t max_bytes) const;
  virtual bool is_namespace() const { return false; }
};

using ListPtr = std::shared_ptr<List>;
using DictPtr = std::shared_ptr<Dict>;
using ObjectPtr = std::shared_ptr<Object>;

class Value {
 public:
  Value() = default;  // undefined, no message
  static Value none() { return Value(Storage(std::in_place_index<1>)); }
  static Value boolean(bool b) { return Value(Storage(std::in_place_index<2>, b)); }
  static Value integer(int64_t i) { return Value(Storage(std::in_place_index<3>, i)); }
  static Value floating(double d) { return Value(Storage(std::in_place_index<4>, d)); }
  static Value string(std::string s);
  static Value string(StrPtr s) { return Value(Storage(std::in_place_index<5>, std::move(s))); }
  static Value list(ListPtr l) { return Value(Storage(std::in_place_index<6>, std::move(l))); }
  static Value list(std::vector<Value> items, ListKind kind = ListKind::list);
  static Value dict(DictPtr d) { return Value(Storage(std::in_place_index<7>, std::move(d))); }
  static Value object(ObjectPtr o) { return Value(Storage(std::in_place_index<8>, std::move(o))); }
  static Value undefined(std::string message, bool unsafe = false);
  static Value undefined(std::shared_ptr<const UndefinedInfo> info) {
    return Value(Storage(std::in_place_index<0>, std::move(info)));
  }
  // markupsafe.Markup: a str that HTML-escapes plain strings combined with it (|safe, |escape).
  static Value markup(std::string s);
  static Value markup(StrPtr s) { return Value(Storage(std::in_place_index<9>, std::move(s))); }

  Kind kind() const {
    size_t i = v_.index();
    return i == 9 ? Kind::string : static_cast<Kind>(i);
  }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_int() const { return kind() == Kind::integer; }
  bool is_float() const { return kind() == Kind::floating; }
  // Python's numbers include bool.
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  // int or bool (Python's isinstance(x, int)).
  bool is_integral() const { return is_int() || is_bool(); }
  bool is_string() const { return v_.index() == 5 || v_.index() == 9; }
  bool is_markup() const { return v_.index() == 9; }
  bool is_list() const { return kind() == Kind::list; }
  bool is_dict() const { return kind() == Kind::dict; }
  bool is_object() const { return kind() == Kind::object; }

  bool as_bool() const { return std::get<2>(v_); }
  int64_t as_int() const { return std::get<3>(v_); }
  double as_float() const { return std::get<4>(v_); }
  // int or bool as an integer.
  int64_t integral() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }
  // int, bool or float as a double.
  double number() const;
  const std::string& str() const { return *str_ptr(); }
  const StrPtr& str_ptr() const { return v_.index() == 9 ? std::get<9>(v_) : std::get<5>(v_); }
  List& list() const { return *std::get<6>(v_); }
  const ListPtr& list_ptr() const { return std::get<6>(v_); }
  Dict& dict() const { return *std::get<7>(v_); }
  const DictPtr& dict_ptr() const { return std::get<7>(v_); }
  Object& object() const { return *std::get<8>(v_); }
  const ObjectPtr& object_ptr() const { return std::get<8>(v_); }
  const UndefinedInfo* undefined_info() const { return std::get<0>(v_).get(); }

 private:
  using Storage = std::variant<std::shared_ptr<const UndefinedInfo>, std::monostate, bool, int64_t,
                               double, StrPtr, ListPtr, DictPtr, ObjectPtr, StrPtr>;
  explicit Value(Storage v) : v_(std::move(v)) {}
  Storage v_;
};

inline size_t List::size() const { return items.size() - pos; }

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // Takes a keyword argument out (nullptr-like undefined when absent).
  bool take(std::string_view name, Value* out);
};

// Python truthiness (a generator is always true; undefined is false).
bool truthy(const Value& v);
// Python ==, with jinja2's Undefined == Undefined.
bool equals(const Value& a, const Value& b);
// Python's type name for messages: "int", "str", "list", "dict", "NoneType", "Undefined", ...
std::string type_name(const Value& v);
// "'dict object'" style name jinja2 uses in undefined messages ("'dict object' has no attribute").
std::string object_type_repr(const Value& v);

// markupsafe's escape(): & < > ' " as HTML entities.
std::string html_escape(std::string_view s);
// A string result that stays Markup when the input it came from was Markup.
Value same_string_kind(const Value& like, std::string s);

// Conversion from JSON (objects keep their key order; integers stay integers).
Value from_json(const json::Value& j);

// String helpers with Python semantics on code points.
bool is_ascii(std::string_view s);
size_t count_code_points(std::string_view s);
// Byte offset of code point index i (i <= count), for ASCII strings i itself.
size_t code_point_offset(std::string_view s, size_t i);
// Python's str.isspace() for one code point.
bool is_py_space(uint32_t cp);

}  // namespace parley::chat::jinja

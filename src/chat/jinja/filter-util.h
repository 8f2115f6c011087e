// Helpers shared by the filter and test implementations (internal to the Jinja engine).
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interp.h"

namespace parley::chat::jinja {

std::span<const FilterDef> string_filters();
std::span<const FilterDef> sequence_filters();
std::span<const TestDef> all_tests();

// jinja2's soft_str: str(value) ("" for undefined).
std::string soft_str(Interp& in, const Value& v);

// jinja2's make_attrgetter: "a.b.0" looked up item-first through each part; when
// default is given it replaces an undefined result; lower_strings applies ignore_case.
struct AttrGetter {
  std::vector<Value> parts;  // empty: the item itself
  std::optional<Value> default_value;
  bool lower_strings = false;
  Value operator()(Interp& in, const Value& item) const;
};
AttrGetter make_attrgetter(const std::optional<Value>& attribute, bool lower_strings,
                           std::optional<Value> default_value = std::nullopt);

// A value that is a Python int (or bool), else a TypeError naming what.
int64_t require_int(const Value& v, const char* what);

// int(x) for a float: truncates toward zero. NaN and infinity are Python's errors; a value past
// int64 is a limit error (Python would make a big integer), never an out-of-range conversion.
int64_t float_to_int(double x);

// Builds a single-use iterator value (Python generator) from items.
Value make_generator(Interp& in, std::vector<Value> items);

// Calls a filter/test by name at runtime (map, select, reject, ...).
Value call_filter_by_name(Interp& in, const std::string& name, const Value& v,
                          const std::vector<Value>& args, const CallArgs& kwargs);
bool call_test_by_name(Interp& in, const std::string& name, const Value& v,
                       const std::vector<Value>& args, const CallArgs& kwargs);

}  // namespace parley::chat::jinja

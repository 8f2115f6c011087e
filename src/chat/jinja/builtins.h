// Registries of jinja2's built-in filters, tests, global functions and the methods of str,
// list and dict, each with Python's semantics. Names are resolved at parse time, like jinja2
// does ("No filter named 'x'" is a syntax error).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "chat/jinja/value.h"

namespace parley::chat::jinja {

using FilterFn = Value (*)(Interp& in, const Value& value, CallArgs& args);
using TestFn = bool (*)(Interp& in, const Value& value, CallArgs& args);

struct FilterDef {
  const char* name;
  FilterFn fn;
};
struct TestDef {
  const char* name;
  TestFn fn;
};

const FilterDef* find_filter(std::string_view name);
const TestDef* find_test(std::string_view name);

// Global functions every template sees (range, namespace, dict, cycler, joiner, lipsum,
// raise_exception, strftime_now). nullptr when name is not one.
const Value* find_global(std::string_view name);

// Methods of str/list/dict values. method_kind says whether a name is a method of the value's
// Python type and whether the immutable sandbox allows it.
enum class MethodKind { none, safe, unsafe };
MethodKind method_kind(const Value& self, std::string_view name);
Value call_method(Interp& in, const Value& self, std::string_view name, CallArgs& args);
// A bound method object (what `s.strip` evaluates to without a call).
Value bound_method(const Value& self, std::string_view name);

// Binds call arguments to parameter names like a Python signature (positional, then
// keyword). Missing ones are nullopt. Extra or unknown arguments throw TypeError naming `func`.
std::vector<std::optional<Value>> bind_args(CallArgs& args, const char* func,
                                            std::initializer_list<const char*> params);

// Python string helpers shared by filters and methods.
std::string py_strip(std::string_view s, const Value* chars, bool left, bool right);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::vector<std::string> py_split_whitespace(std::string_view s, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       int64_t count);
// % formatting of a str (printf style) with Python semantics.
// With escape_args (a Markup format string) string arguments are HTML-escaped.
std::string py_percent_format(Interp& in, std::string_view fmt, const Value& args,
                              bool escape_args = false);
// str.format with the sandbox's rules (no attribute access to underscored names).
std::string py_str_format(Interp& in, std::string_view fmt, CallArgs& args);
// datetime.strftime for a UTC time in seconds.
std::string py_strftime(std::string_view fmt, int64_t unix_seconds);

}  // namespace parley::chat::jinja

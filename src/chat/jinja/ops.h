// Python's arithmetic operators and slicing on template values.
#pragma once

#include <optional>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace parley::chat::jinja {

Value binary_op(Interp& in, BinOp op, const Value& a, const Value& b);
Value unary_minus(Interp& in, const Value& v, bool negate);

// obj[start:stop:step]; returns undefined where Python raises TypeError (jinja2 turns that
// into an undefined value).
Value slice_value(Interp& in, const Value& obj, const Value& start, const Value& stop,
                  const Value& step);

// Python's slice.indices(): resolved [start, stop) with step for a sequence of length n.
struct SliceRange {
  int64_t start, stop, step;
  size_t count() const;
};
SliceRange resolve_slice(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                         int64_t step);

}  // namespace parley::chat::jinja

#include "api/json-fields.h"

#include <cmath>

#include "base/strings.h"

namespace parley::api {

FieldPath FieldPath::key(std::string_view k) const {
  FieldPath p = *this;
  if (!p.s_.empty()) p.s_ += '.';
  p.s_ += k;
  return p;
}

FieldPath FieldPath::index(size_t i) const {
  FieldPath p = *this;
  if (style_ == Style::dotted) {
    if (!p.s_.empty()) p.s_ += '.';
    p.s_ += std::to_string(i);
  } else {
    p.s_ += '[' + std::to_string(i) + ']';
  }
  return p;
}

Error FieldPath::error(std::string_view what) const {
  if (s_.empty()) return Error{std::string(what)};
  return Error{s_ + ": " + std::string(what)};
}

std::string_view type_phrase(json::Type t) {
  switch (t) {
    case json::Type::null: return "null";
    case json::Type::boolean: return "a boolean";
    case json::Type::integer: return "an integer";
    case json::Type::number: return "a number";
    case json::Type::string: return "a string";
    case json::Type::array: return "an array";
    case json::Type::object: return "an object";
  }
  return "?";
}

std::string one_of_phrase(std::initializer_list<std::string_view> allowed) {
  std::string s;
  size_t i = 0;
  for (auto a : allowed) {
    if (i > 0) s += (i + 1 == allowed.size()) ? " or " : ", ";
    s += '\'';
    s += a;
    s += '\'';
    i++;
  }
  return s;
}

Result<const json::Value*> member(const json::Value& obj, std::string_view key,
                                  const FieldPath& path, bool required) {
  const json::Value* v = obj.find(key);
  if (v == nullptr || v->is_null()) {
    if (required) return path.key(key).error("field required");
    return static_cast<const json::Value*>(nullptr);
  }
  return v;
}

Result<const json::Value*> require_object(const json::Value* v, const FieldPath& path) {
  if (v == nullptr) return path.error("field required");
  if (!v->is_object()) {
    return path.error(str_printf("expected an object, got %s", type_phrase(v->type()).data()));
  }
  return v;
}

Result<std::string_view> read_string(const json::Value& obj, std::string_view key,
                                     const FieldPath& path, bool required) {
  PARLEY_TRY(const json::Value* v, member(obj, key, path, required));
  if (v == nullptr) return std::string_view();
  if (!v->is_string()) {
    return path.key(key).error(
        str_printf("expected a string, got %s", type_phrase(v->type()).data()));
  }
  return std::string_view(v->as_string());
}

Result<std::optional<int64_t>> read_int(const json::Value& obj, std::string_view key,
                                        const FieldPath& path, bool required, int64_t lo,
                                        int64_t hi) {
  PARLEY_TRY(const json::Value* v, member(obj, key, path, required));
  if (v == nullptr) return std::optional<int64_t>();
  if (!v->is_int()) {
    if (v->is_number()) {
      double d = v->as_double();
      // 1e30 or 3.5: say why, not just "wrong type".
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) >= 9.2e18) {
        return path.key(key).error(str_printf("integer out of range (must be between %lld and %lld)",
                                              static_cast<long long>(lo),
                                              static_cast<long long>(hi)));
      }
      return path.key(key).error("expected an integer, got a number with a fraction or exponent");
    }
    return path.key(key).error(
        str_printf("expected an integer, got %s", type_phrase(v->type()).data()));
  }
  int64_t i = v->as_int();
  if (i < lo || i > hi) {
    return path.key(key).error(str_printf("must be between %lld and %lld, got %lld",
                                          static_cast<long long>(lo),
                                          static_cast<long long>(hi),
                                          static_cast<long long>(i)));
  }
  return std::optional<int64_t>(i);
}

Result<std::optional<double>> read_number(const json::Value& obj, std::string_view key,
                                          const FieldPath& path, double lo, double hi) {
  PARLEY_TRY(const json::Value* v, member(obj, key, path, false));
  if (v == nullptr) return std::optional<double>();
  if (!v->is_number()) {
    return path.key(key).error(
        str_printf("expected a number, got %s", type_phrase(v->type()).data()));
  }
  double d = v->as_double();
  if (!(d >= lo && d <= hi)) {
    std::string got;
    json::write_double(got, d);
    return path.key(key).error(str_printf("must be between %g and %g, got %s", lo, hi,
                                          got.c_str()));
  }
  return std::optional<double>(d);
}

Result<std::optional<bool>> read_bool(const json::Value& obj, std::string_view key,
                                      const FieldPath& path) {
  PARLEY_TRY(const json::Value* v, member(obj, key, path, false));
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) {
    return path.key(key).error(
        str_printf("expected a boolean, got %s", type_phrase(v->type()).data()));
  }
  return std::optional<bool>(v->as_bool());
}

Result<std::string_view> read_enum(const json::Value& obj, std::string_view key,
                                   const FieldPath& path, bool required,
                                   std::initializer_list<std::string_view> allowed) {
  PARLEY_TRY(std::string_view s, read_string(obj, key, path, required));
  if (s.empty() && obj.find(key) == nullptr) return s;
  if (s.empty() && obj.find(key)->is_null()) return s;
  for (auto a : allowed) {
    if (s == a) return s;
  }
  return path.key(key).error(str_printf("expected %s, got %s", one_of_phrase(allowed).c_str(),
                                        quote_for_message(s).c_str()));
}

}  // namespace parley::api

// Typed reads of untrusted request JSON with errors that name the exact field:
// "messages.3.content.1.type: ..." (Anthropic style) or "messages[3].content[1].type: ..."
// (OpenAI style). Every helper returns an Error whose message starts with the path.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"

namespace parley::api {

class FieldPath {
 public:
  enum class Style { dotted, bracketed };
  explicit FieldPath(Style style) : style_(style) {}

  FieldPath key(std::string_view k) const;
  FieldPath index(size_t i) const;
  const std::string& str() const { return s_; }
  Style style() const { return style_; }

  // "<path>: <what>" (just <what> at the root).
  Error error(std::string_view what) const;

 private:
  Style style_;
  std::string s_;
};

// "a string", "an integer", ... for messages.
std::string_view type_phrase(json::Type t);

// Member `key` of object `obj` (obj must be an object). Missing or null: nullptr when optional,
// "field required" otherwise.
Result<const json::Value*> member(const json::Value& obj, std::string_view key,
                                  const FieldPath& path, bool required);

Result<const json::Value*> require_object(const json::Value* v, const FieldPath& path);
Result<std::string_view> read_string(const json::Value& obj, std::string_view key,
                                     const FieldPath& path, bool required);
// Integers only (1.0 and 1e3 are refused like the real API does), within [lo, hi].
Result<std::optional<int64_t>> read_int(const json::Value& obj, std::string_view key,
                                        const FieldPath& path, bool required, int64_t lo,
                                        int64_t hi);
Result<std::optional<double>> read_number(const json::Value& obj, std::string_view key,
                                          const FieldPath& path, double lo, double hi);
Result<std::optional<bool>> read_bool(const json::Value& obj, std::string_view key,
                                      const FieldPath& path);
// A string that must be one of `allowed`.
Result<std::string_view> read_enum(const json::Value& obj, std::string_view key,
                                   const FieldPath& path, bool required,
                                   std::initializer_list<std::string_view> allowed);

// "'a', 'b' or 'c'"
std::string one_of_phrase(std::initializer_list<std::string_view> allowed);

}  // namespace parley::api

// Internal to the schema compiler (json-schema*.cpp) and the tool-call grammar: one compilation
// of one root schema into a GrammarBuilder.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "sampling/grammar.h"
#include "sampling/json-schema.h"

namespace parley::sampling {

// Canonical separators (json.dumps defaults).
inline constexpr std::string_view kItemSep = ", ";
inline constexpr std::string_view kKeySep = ": ";

// value written the canonical way (enum / const literals, property names).
std::string canonical_json(const json::Value& v);

class SchemaCompiler {
 public:
  SchemaCompiler(GrammarBuilder& b, const json::Value& root, const SchemaOptions& options,
                 std::vector<std::string>& warnings);

  Result<NodeId> compile(const json::Value& schema, const std::string& path);
  // The schema with $ref followed and allOf merged (an object), for callers that read its
  // keywords (XML-style tool arguments).
  Result<json::Value> flatten(const json::Value& schema, const std::string& path);
  // Reports an unsupported feature at path: an error under strict, else a warning.
  Status issue(const std::string& path, const std::string& what);

  GrammarBuilder& builder() { return b_; }
  NodeId any_value();
  NodeId json_char();  // one JSON string character: raw code point or escape
  NodeId string_of(uint32_t min, uint32_t max);  // "..." with [min, max] characters
  NodeId json_string();                           // any JSON string
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  // The names an object schema's `required` lists (non-strings skipped).
  static std::vector<std::string> required_names(const json::Value& schema) {
    std::vector<std::string> names;
    if (const json::Value* r = schema.find("required"); r && r->is_array()) {
      for (const auto& x : r->as_array()) {
        if (x.is_string()) names.push_back(x.as_string());
      }
    }
    return names;
  }

 private:
  Result<NodeId> compile_inner(const json::Value& s, const std::string& path);
  Result<NodeId> compile_any_of(const json::Value& s, const char* key, const std::string& path);
  Result<NodeId> compile_ref(const std::string& ref, const std::string& path);
  Result<NodeId> compile_typed(const json::Value& s, const std::string& type,
                               const std::string& path);
  Result<NodeId> compile_object(const json::Value& s, const std::string& path);
  Result<NodeId> compile_array(const json::Value& s, const std::string& path);
  Result<NodeId> compile_string(const json::Value& s, const std::string& path);
  Result<NodeId> compile_integer(const json::Value& s, const std::string& path);
  Result<NodeId> compile_number(const json::Value& s, const std::string& path);
  Result<NodeId> compile_literals(const json::Value& s, const std::string& path);
  Result<NodeId> extra_key(const std::vector<std::string>& declared);
  Status check_keywords(const json::Value& s, const std::string& path);
  Result<json::Value> merge_all_of(const json::Value& s, const std::string& path);
  Result<const json::Value*> resolve_pointer(const std::string& ref, const std::string& path);
  Status check_size(const std::string& path);

  GrammarBuilder& b_;
  const json::Value& root_;
  SchemaOptions options_;
  std::vector<std::string>& warnings_;
  std::map<std::string, RuleId> ref_rules_;
  size_t depth_ = 0;
  NodeId any_value_ = kUnbounded;
  NodeId json_char_ = kUnbounded;
  NodeId json_string_ = kUnbounded;
};

// Integer grammars (json-schema-number.cpp): decimal integers in [lo, hi] written without
// leading zeros; has_lo / has_hi false for an open end.
NodeId integer_range(GrammarBuilder& b, bool has_lo, int64_t lo, bool has_hi, int64_t hi);
// Unsigned decimal integers in [lo, hi] (hi_inf: no upper bound).
NodeId unsigned_range(GrammarBuilder& b, uint64_t lo, uint64_t hi, bool hi_inf);

// A count bound (minLength, maxItems, ...) of schema s: fallback when absent, 0 for <= 0,
// unbounded past 4e9.
uint32_t length_bound(const json::Value& s, const char* key, uint32_t fallback);

}  // namespace parley::sampling

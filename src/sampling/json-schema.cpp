// The schema compiler's dispatch: boolean schemas, $ref, allOf merging, anyOf / oneOf, enum /
// const and the type switch. Objects and arrays: json-schema-object.cpp; scalars:
// json-schema-scalar.cpp.
#include <algorithm>
#include <set>

#include "sampling/json-schema-compiler.h"

namespace parley::sampling {

namespace {

const std::set<std::string, std::less<>>& ignored_keywords() {
  static const std::set<std::string, std::less<>> k{
      "$schema", "$id", "$comment", "$anchor", "$vocabulary", "title", "description", "default",
      "examples", "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType",
      "$defs", "definitions"};
  return k;
}

bool is_metadata(std::string_view key) { return ignored_keywords().count(key) != 0; }

json::Value without(const json::Value& s, std::initializer_list<std::string_view> keys) {
  json::Object o;
  for (const auto& [k, v] : s.as_object()) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) o.emplace_back(k, v);
  }
  return json::Value(std::move(o));
}

bool has_constraints(const json::Value& s) {
  for (const auto& [k, v] : s.as_object()) {
    if (!is_metadata(k)) return true;
  }
  return false;
}

}  // namespace

std::string canonical_json(const json::Value& v) {
  json::WriteOptions o;
  o.item_separator = kItemSep;
  o.key_separator = kKeySep;
  return json::write(v, o);
}

SchemaCompiler::SchemaCompiler(GrammarBuilder& b, const json::Value& root,
                               const SchemaOptions& options, std::vector<std::string>& warnings)
    : b_(b), root_(root), options_(options), warnings_(warnings) {}

Status SchemaCompiler::issue(const std::string& path, const std::string& what) {
  std::string where = join(options_.path, path);
  if (options_.strict) return Error{where + ": " + what + " (strict)"};
  warnings_.push_back(where + ": " + what);
  return {};
}

Status SchemaCompiler::check_size(const std::string& path) {
  if (b_.n_nodes() > options_.max_nodes) {
    return Error{join(options_.path, path) + ": schema grammar too large"};
  }
  if (depth_ > options_.max_depth) {
    return Error{join(options_.path, path) + ": schema nested too deeply"};
  }
  return {};
}

Result<NodeId> SchemaCompiler::compile(const json::Value& schema, const std::string& path) {
  PARLEY_CHECK_OK(check_size(path));
  depth_++;
  auto r = compile_inner(schema, path);
  depth_--;
  return r;
}

Status SchemaCompiler::check_keywords(const json::Value& s, const std::string& path) {
  for (const auto& [k, v] : s.as_object()) {
    bool bad = false;
    if (k == "not" || k == "if" || k == "then" || k == "else" || k == "maxProperties" ||
        k == "dependentRequired" || k == "dependentSchemas" || k == "dependencies" ||
        k == "unevaluatedItems" || k == "contains" || k == "minContains" || k == "maxContains") {
      bad = true;
    } else if (k == "unevaluatedProperties") {
      bad = !(v.is_bool() && !v.as_bool() && s.find("additionalProperties") &&
              s.find("additionalProperties")->is_bool() &&
              !s.find("additionalProperties")->as_bool());
    } else if (k == "patternProperties") {
      bad = !(v.is_object() && v.size() == 0);
    } else if (k == "propertyNames") {
      bad = !(v.is_object() && (v.size() == 0 || (v.size() == 1 && v.find("type") &&
                                                  v.find("type")->is_string() &&
                                                  v.find("type")->as_string() == "string")));
    } else if (k == "minProperties") {
      bad = !(v.is_number() && v.as_double() <= 0);
    } else if (k == "uniqueItems") {
      bad = !(v.is_bool() && !v.as_bool());
    } else if (k == "multipleOf") {
      bad = !(v.is_number() && v.as_double() == 1.0);
    }
    if (bad) PARLEY_CHECK_OK(issue(join(path, k), "'" + k + "' is not supported"));
  }
  return {};
}

Result<const json::Value*> SchemaCompiler::resolve_pointer(const std::string& ref,
                                                          const std::string& path) {
  const json::Value* cur = &root_;
  size_t i = 1;
  while (i < ref.size()) {
    if (ref[i] != '/') return Error{join(options_.path, path) + ": bad $ref '" + ref + "'"};
    size_t j = ref.find('/', i + 1);
    if (j == std::string::npos) j = ref.size();
    std::string token;
    for (size_t k = i + 1; k < j; k++) {
      if (ref[k] == '~' && k + 1 < j && (ref[k + 1] == '0' || ref[k + 1] == '1')) {
        token += ref[k + 1] == '0' ? '~' : '/';
        k++;
      } else {
        token += ref[k];
      }
    }
    const json::Value* next = nullptr;
    if (cur->is_object()) {
      next = cur->find(token);
    } else if (cur->is_array() && !token.empty() &&
               token.find_first_not_of("0123456789") == std::string::npos && token.size() < 10) {
      size_t idx = std::stoul(token);
      if (idx < cur->size()) next = &cur->as_array()[idx];
    }
    if (next == nullptr) {
      return Error{join(options_.path, path) + ": $ref '" + ref + "' not found"};
    }
    cur = next;
    i = j;
  }
  return cur;
}

Result<NodeId> SchemaCompiler::compile_ref(const std::string& ref, const std::string& path) {
  auto it = ref_rules_.find(ref);
  if (it != ref_rules_.end()) return b_.ref(it->second);
  RuleId rule = b_.declare_rule("ref" + ref);
  ref_rules_.emplace(ref, rule);
  PARLEY_TRY(const json::Value* target, resolve_pointer(ref, path));
  PARLEY_TRY(NodeId body, compile(*target, join(path, "$ref")));
  b_.define_rule(rule, body);
  return b_.ref(rule);
}

Result<json::Value> SchemaCompiler::flatten(const json::Value& s, const std::string& path) {
  if (s.is_bool()) {
    if (s.as_bool()) return json::Value::object();
    return Error{join(options_.path, path) + ": schema false matches nothing"};
  }
  if (!s.is_object()) return Error{join(options_.path, path) + ": schema must be an object"};
  if (++depth_ > options_.max_depth) {
    depth_--;
    return Error{join(options_.path, path) + ": schema nested too deeply"};
  }
  Result<json::Value> out = s;
  const json::Value* ref = s.find("$ref");
  if (ref && ref->is_string() && !ref->as_string().empty() && ref->as_string()[0] == '#') {
    auto target = resolve_pointer(ref->as_string(), path);
    if (!target.ok()) {
      out = target.error();
    } else {
      json::Value rest = without(s, {"$ref"});
      if (has_constraints(rest)) {
        json::Object o{{"allOf", json::Array{**target, rest}}};
        out = merge_all_of(json::Value(std::move(o)), path);
      } else {
        out = flatten(**target, join(path, "$ref"));
      }
    }
  } else if (s.find("allOf")) {
    out = merge_all_of(s, path);
  }
  depth_--;
  return out;
}

Result<NodeId> add_json_schema(GrammarBuilder& b, const json::Value& schema,
                               const SchemaOptions& options, std::vector<std::string>& warnings) {
  SchemaCompiler c(b, schema, options, warnings);
  return c.compile(schema, "");
}

Result<SchemaGrammar> compile_json_schema(const json::Value& schema, const SchemaOptions& options) {
  GrammarBuilder b;
  SchemaGrammar out;
  PARLEY_TRY(NodeId root, add_json_schema(b, schema, options, out.warnings));
  auto g = b.build(root);
  if (!g.ok()) return g.error().wrap(options.path.empty() ? "schema" : options.path);
  out.grammar = std::move(g).value();
  return out;
}

}  // namespace parley::sampling

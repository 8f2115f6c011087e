// Combinators: compile_inner's order of keywords, allOf merging, anyOf / oneOf, enum / const.
#include <algorithm>
#include <set>

#include "sampling/json-schema-compiler.h"

namespace parley::sampling {

namespace {

std::vector<std::string> types_of(const json::Value& t) {
  std::vector<std::string> out;
  if (t.is_string()) out.push_back(t.as_string());
  if (t.is_array()) {
    for (const auto& x : t.as_array()) {
      if (x.is_string() && std::find(out.begin(), out.end(), x.as_string()) == out.end()) {
        out.push_back(x.as_string());
      }
    }
  }
  return out;
}

bool instance_of(const json::Value& v, std::string_view t) {
  if (t == "null") return v.is_null();
  if (t == "boolean") return v.is_bool();
  if (t == "string") return v.is_string();
  if (t == "array") return v.is_array();
  if (t == "object") return v.is_object();
  if (t == "number") return v.is_number();
  if (t == "integer") {
    if (v.is_int()) return true;
    if (v.type() != json::Type::number) return false;
    double d = v.as_double();
    return d == static_cast<double>(static_cast<int64_t>(d)) && d > -9.2e18 && d < 9.2e18;
  }
  return false;
}

json::Value without_keys(const json::Value& s, std::initializer_list<std::string_view> keys) {
  json::Object o;
  for (const auto& [k, v] : s.as_object()) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) o.emplace_back(k, v);
  }
  return json::Value(std::move(o));
}

// Intersection of two type keywords; integer within number stays integer.
json::Value intersect_types(const json::Value& a, const json::Value& b) {
  json::Array out;
  auto tb = types_of(b);
  for (const auto& t : types_of(a)) {
    bool in = std::find(tb.begin(), tb.end(), t) != tb.end() ||
              (t == "integer" && std::find(tb.begin(), tb.end(), "number") != tb.end());
    if (in) out.emplace_back(t);
  }
  for (const auto& t : tb) {
    auto ta = types_of(a);
    if (t == "integer" && std::find(ta.begin(), ta.end(), "number") != ta.end() &&
        std::find(ta.begin(), ta.end(), "integer") == ta.end()) {
      out.emplace_back(t);
    }
  }
  if (out.size() == 1) return out[0];
  return json::Value(std::move(out));
}

bool is_lower_bound(std::string_view k) {
  return k == "minimum" || k == "exclusiveMinimum" || k == "minLength" || k == "minItems";
}
bool is_upper_bound(std::string_view k) {
  return k == "maximum" || k == "exclusiveMaximum" || k == "maxLength" || k == "maxItems";
}

}  // namespace

Result<json::Value> SchemaCompiler::merge_all_of(const json::Value& s, const std::string& path) {
  json::Value out = without_keys(s, {"allOf"});
  const json::Value* all = s.find("allOf");
  if (!all || !all->is_array()) return out;
  for (size_t i = 0; i < all->size(); i++) {
    std::string sub_path = join(join(path, "allOf"), std::to_string(i));
    PARLEY_TRY(json::Value flat, flatten(all->as_array()[i], sub_path));
    for (const auto& [k, v] : flat.as_object()) {
      json::Value* cur = out.find(k);
      if (k == "$schema" || k == "title" || k == "description" || k == "default" ||
          k == "examples" || k == "$comment" || k == "$id") {
        continue;
      }
      if (!cur) {
        out[k] = v;
      } else if (*cur == v) {
        continue;
      } else if (k == "properties" && cur->is_object() && v.is_object()) {
        for (const auto& [pk, pv] : v.as_object()) {
          json::Value* old = cur->find(pk);
          if (!old) {
            (*cur)[pk] = pv;
          } else if (!(*old == pv)) {
            *old = json::Value(json::Object{{"allOf", json::Array{*old, pv}}});
          }
        }
      } else if (k == "required" && cur->is_array() && v.is_array()) {
        for (const auto& r : v.as_array()) {
          if (std::find(cur->as_array().begin(), cur->as_array().end(), r) == cur->as_array().end()) {
            cur->push_back(r);
          }
        }
      } else if (k == "type") {
        *cur = intersect_types(*cur, v);
        if (types_of(*cur).empty()) {
          return Error{join(options_.path, sub_path) + ": allOf types have no intersection"};
        }
      } else if ((is_lower_bound(k) || is_upper_bound(k)) && cur->is_number() && v.is_number()) {
        bool take = is_lower_bound(k) ? v.as_double() > cur->as_double()
                                      : v.as_double() < cur->as_double();
        if (take) *cur = v;
      } else if (k == "additionalProperties" && ((v.is_bool() && !v.as_bool()) ||
                                                 (cur->is_bool() && !cur->as_bool()))) {
        *cur = false;
      } else {
        PARLEY_CHECK_OK(issue(join(sub_path, k), "conflicting '" + k + "' in allOf; first kept"));
      }
    }
  }
  return out;
}

Result<NodeId> SchemaCompiler::compile_literals(const json::Value& s, const std::string& path) {
  std::vector<const json::Value*> values;
  const json::Value* c = s.find("const");
  const json::Value* e = s.find("enum");
  if (c) {
    values.push_back(c);
  } else if (e && e->is_array()) {
    for (const auto& v : e->as_array()) values.push_back(&v);
  } else {
    return Error{join(options_.path, join(path, "enum")) + ": enum must be an array"};
  }
  auto types = s.find("type") ? types_of(*s.find("type")) : std::vector<std::string>{};
  std::vector<NodeId> alts;
  std::set<std::string> seen;
  for (const json::Value* v : values) {
    bool ok = types.empty();
    for (const auto& t : types) ok = ok || instance_of(*v, t);
    if (c && e && e->is_array()) {
      ok = ok && std::find(e->as_array().begin(), e->as_array().end(), *v) != e->as_array().end();
    }
    std::string text = canonical_json(*v);
    if (ok && seen.insert(text).second) alts.push_back(b_.literal(text));
  }
  if (alts.empty()) {
    return Error{join(options_.path, path) + ": no enum/const value satisfies the schema"};
  }
  // Other keywords next to enum/const (length, bounds) are not re-checked against the values.
  return b_.choice(std::move(alts));
}

namespace {

// oneOf is exact when its branches cannot both match: different single types, or constants.
bool branches_disjoint(const std::vector<json::Value>& flat) {
  std::set<std::string> types;
  std::set<std::string> consts;
  bool all_typed = true, all_const = true;
  for (const auto& f : flat) {
    const json::Value* t = f.find("type");
    if (!t || !t->is_string() || !types.insert(t->as_string()).second) all_typed = false;
    const json::Value* c = f.find("const");
    if (!c || !consts.insert(canonical_json(*c)).second) all_const = false;
  }
  if (all_typed && types.count("integer") && types.count("number")) all_typed = false;
  return all_typed || all_const;
}

}  // namespace

// anyOf / oneOf: each branch merged with the keywords beside it.
Result<NodeId> SchemaCompiler::compile_any_of(const json::Value& s, const char* key,
                                              const std::string& path) {
  const json::Value* branches = s.find(key);
  if (!branches->is_array()) {
    return Error{join(options_.path, join(path, key)) + ": must be an array"};
  }
  json::Value base = without_keys(s, {"anyOf", "oneOf"});
  std::vector<NodeId> alts;
  std::vector<json::Value> flat;
  for (size_t i = 0; i < branches->size(); i++) {
    const json::Value& br = branches->as_array()[i];
    if (br.is_bool() && !br.as_bool()) continue;
    std::string bp = join(join(path, key), std::to_string(i));
    json::Value merged(json::Object{{"allOf", json::Array{base, br}}});
    PARLEY_TRY(json::Value m, merge_all_of(merged, bp));
    flat.push_back(m);
    PARLEY_TRY(NodeId n, compile(m, bp));
    alts.push_back(n);
  }
  if (alts.empty()) return Error{join(options_.path, join(path, key)) + ": no branch can match"};
  if (std::string_view(key) == "oneOf" && !branches_disjoint(flat)) {
    PARLEY_CHECK_OK(issue(join(path, key), "oneOf branches may overlap; treated as anyOf"));
  }
  return b_.choice(std::move(alts));
}

Result<NodeId> SchemaCompiler::compile_inner(const json::Value& s, const std::string& path) {
  if (s.is_bool()) {
    if (s.as_bool()) return any_value();
    return Error{join(options_.path, path) + ": schema false matches nothing"};
  }
  if (!s.is_object()) {
    return Error{join(options_.path, path) + ": a schema must be an object or a boolean"};
  }
  PARLEY_CHECK_OK(check_keywords(s, path));
  const json::Value* ref = s.find("$ref");
  if (ref && ref->is_string()) {
    const std::string& r = ref->as_string();
    if (r.empty() || r[0] != '#') {
      PARLEY_CHECK_OK(issue(join(path, "$ref"), "only local $ref (\"#...\") is supported"));
      return any_value();
    }
    json::Value rest = without_keys(s, {"$ref"});
    bool other = false;
    for (const auto& [k, v] : rest.as_object()) {
      other = other || !(k == "$schema" || k == "title" || k == "description" || k == "default" ||
                         k == "examples" || k == "$comment" || k == "$defs" || k == "definitions");
    }
    if (!other) return compile_ref(r, path);
    PARLEY_TRY(json::Value flat, flatten(s, path));
    return compile_inner(flat, path);
  }
  if (s.find("allOf")) {
    PARLEY_TRY(json::Value merged, merge_all_of(s, path));
    return compile_inner(merged, path);
  }
  for (const char* key : {"anyOf", "oneOf"}) {
    if (s.find(key)) return compile_any_of(s, key, path);
  }
  if (s.find("const") || s.find("enum")) return compile_literals(s, path);
  const json::Value* nullable = s.find("nullable");
  if (nullable && nullable->is_bool() && nullable->as_bool()) {
    PARLEY_TRY(NodeId inner, compile_inner(without_keys(s, {"nullable"}), path));
    return b_.choice({inner, b_.literal("null")});
  }
  std::vector<std::string> types;
  if (const json::Value* t = s.find("type")) {
    types = types_of(*t);
    if (types.empty()) return Error{join(options_.path, join(path, "type")) + ": no type given"};
  } else {
    auto has = [&](std::initializer_list<const char*> ks) {
      for (const char* k : ks) {
        if (s.find(k)) return true;
      }
      return false;
    };
    if (has({"properties", "required", "additionalProperties"})) types = {"object"};
    else if (has({"items", "prefixItems", "minItems", "maxItems"})) types = {"array"};
    else if (has({"minLength", "maxLength", "pattern", "format"})) types = {"string"};
    else if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) types = {"number"};
    else return any_value();
  }
  bool has_number = std::find(types.begin(), types.end(), "number") != types.end();
  std::vector<NodeId> alts;
  for (const auto& t : types) {
    if (t == "integer" && has_number) continue;  // number already covers the integers
    PARLEY_TRY(NodeId n, compile_typed(s, t, path));
    alts.push_back(n);
  }
  return b_.choice(std::move(alts));
}

Result<NodeId> SchemaCompiler::compile_typed(const json::Value& s, const std::string& type,
                                             const std::string& path) {
  if (type == "null") return b_.literal("null");
  if (type == "boolean") return b_.choice({b_.literal("true"), b_.literal("false")});
  if (type == "integer") return compile_integer(s, path);
  if (type == "number") return compile_number(s, path);
  if (type == "string") return compile_string(s, path);
  if (type == "array") return compile_array(s, path);
  if (type == "object") return compile_object(s, path);
  return Error{join(options_.path, join(path, "type")) + ": unknown type '" + type + "'"};
}

}  // namespace parley::sampling

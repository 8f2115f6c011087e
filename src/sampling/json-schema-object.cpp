// Objects, arrays, and the generic JSON value / string grammars.
#include <algorithm>
#include <map>

#include "sampling/json-schema-compiler.h"

namespace parley::sampling {

namespace {

// Characters of extra property names: printable ASCII but '"' and '\\' (so that a name's bytes
// are the name, and comparing with the declared names is a byte trie).
ByteSet extra_name_bytes() {
  ByteSet s;
  s.add_range(0x20, 0x7E);
  s.remove('"');
  s.remove('\\');
  return s;
}

}  // namespace

NodeId SchemaCompiler::json_char() {
  if (json_char_ != kUnbounded) return json_char_;
  CodepointRange raw[] = {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x10FFFF}};
  NodeId unescaped = b_.char_class(raw);
  ByteSet simple;
  for (char c : std::string_view("\"\\/bfnrt")) simple.add(static_cast<uint8_t>(c));
  ByteSet hex, hex_no_d, hex_0_7;
  for (char c : std::string_view("0123456789abcdefABCDEF")) hex.add(static_cast<uint8_t>(c));
  hex_no_d = hex;
  hex_no_d.remove('d');
  hex_no_d.remove('D');
  hex_0_7.add_range('0', '7');
  NodeId h = b_.byte_set(hex);
  // \uXXXX outside the surrogates: a first digit other than d, or d then 0-7.
  NodeId u = b_.seq({b_.literal("u"),
                     b_.choice({b_.seq({b_.byte_set(hex_no_d), h, h, h}),
                                b_.seq({b_.byte_range('d', 'd'), b_.byte_set(hex_0_7), h, h}),
                                b_.seq({b_.byte_range('D', 'D'), b_.byte_set(hex_0_7), h, h})})});
  NodeId escape = b_.seq({b_.literal("\\"), b_.choice({b_.byte_set(simple), u})});
  json_char_ = b_.choice({unescaped, escape});
  return json_char_;
}

NodeId SchemaCompiler::string_of(uint32_t min, uint32_t max) {
  NodeId body = b_.repeat(json_char(), min, max);
  if (body != b_.empty() && body != json_char()) b_.set_flags(body, kFlagJsonStringBody);
  return b_.seq({b_.literal("\""), body, b_.literal("\"")});
}

NodeId SchemaCompiler::json_string() {
  if (json_string_ == kUnbounded) json_string_ = string_of(0, kUnbounded);
  return json_string_;
}

NodeId SchemaCompiler::any_value() {
  if (any_value_ != kUnbounded) return any_value_;
  RuleId rule = b_.declare_rule("value");
  NodeId value = b_.ref(rule);
  NodeId kv = b_.seq({json_string(), b_.literal(kKeySep), value});
  NodeId object = b_.choice(
      {b_.literal("{}"),
       b_.seq({b_.literal("{"), kv, b_.star(b_.seq({b_.literal(kItemSep), kv})), b_.literal("}")})});
  NodeId array = b_.choice(
      {b_.literal("[]"), b_.seq({b_.literal("["), value,
                                 b_.star(b_.seq({b_.literal(kItemSep), value})), b_.literal("]")})});
  NodeId number = integer_range(b_, false, 0, false, 0);
  ByteSet digits;
  digits.add_range('0', '9');
  ByteSet e, sign;
  e.add('e');
  e.add('E');
  sign.add('+');
  sign.add('-');
  NodeId frac = b_.seq({b_.literal("."), b_.plus(b_.byte_set(digits))});
  NodeId exp = b_.seq({b_.byte_set(e), b_.optional(b_.byte_set(sign)), b_.repeat(b_.byte_set(digits), 1, 2)});
  number = b_.seq({number, b_.optional(frac), b_.optional(exp)});
  b_.define_rule(rule, b_.choice({object, array, json_string(), number, b_.literal("true"),
                                  b_.literal("false"), b_.literal("null")}));
  any_value_ = value;
  return value;
}

// A property name (with its quotes) that is none of `declared`: a trie over the declared names
// where leaving the trie anywhere, or ending off a name, is allowed.
Result<NodeId> SchemaCompiler::extra_key(const std::vector<std::string>& declared) {
  const ByteSet allowed = extra_name_bytes();
  std::vector<std::string> names;
  for (const auto& d : declared) {
    bool plain = std::all_of(d.begin(), d.end(), [&](char c) {
      return allowed.has(static_cast<uint8_t>(c));
    });
    if (plain) names.push_back(d);  // other names can never be spelled with these bytes
  }
  std::sort(names.begin(), names.end());
  NodeId free_rest = b_.seq({b_.star(b_.byte_set(allowed)), b_.literal("\"")});
  // node(prefix): names[lo, hi) share `prefix` (depth bytes).
  auto build = [&](auto& self, size_t lo, size_t hi, size_t depth) -> NodeId {
    std::vector<NodeId> alts;
    bool is_name = names[lo].size() == depth;
    if (!is_name) alts.push_back(b_.literal("\""));
    ByteSet other = allowed;
    size_t i = is_name ? lo + 1 : lo;
    while (i < hi) {
      uint8_t c = static_cast<uint8_t>(names[i][depth]);
      size_t j = i;
      while (j < hi && static_cast<uint8_t>(names[j][depth]) == c) j++;
      other.remove(c);
      alts.push_back(b_.seq({b_.byte_range(c, c), self(self, i, j, depth + 1)}));
      i = j;
    }
    if (!other.empty()) alts.push_back(b_.seq({b_.byte_set(other), free_rest}));
    return b_.choice(std::move(alts));
  };
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.empty()) return b_.seq({b_.literal("\""), free_rest});
  return b_.seq({b_.literal("\""), build(build, 0, names.size(), 0)});
}

Result<NodeId> SchemaCompiler::compile_object(const json::Value& s, const std::string& path) {
  struct Entry {
    std::string name;
    NodeId kv;
    bool required;
  };
  std::vector<Entry> entries;
  const std::vector<std::string> required = required_names(s);
  auto is_required = [&](const std::string& k) {
    return std::find(required.begin(), required.end(), k) != required.end();
  };
  const json::Value* props = s.find("properties");
  const json::Value* additional = s.find("additionalProperties");
  bool extras = additional ? !(additional->is_bool() && !additional->as_bool())
                           : !(props && props->is_object() && props->size() > 0);
  std::vector<std::string> declared;
  if (props && props->is_object()) {
    for (const auto& [k, v] : props->as_object()) {
      if (std::find(declared.begin(), declared.end(), k) != declared.end()) continue;
      if (v.is_bool() && !v.as_bool()) {
        if (is_required(k)) {
          return Error{join(options_.path, path) + ": required property '" + k + "' is false"};
        }
        continue;
      }
      std::string pp = join(join(path, "properties"), k);
      PARLEY_TRY(NodeId value, compile(v, pp));
      declared.push_back(k);
      NodeId kv = b_.seq({b_.literal(canonical_json(json::Value(k)) + std::string(kKeySep)), value});
      entries.push_back({k, kv, is_required(k)});
    }
  }
  NodeId extra_value = kUnbounded;
  if (extras) {
    if (additional && additional->is_object()) {
      PARLEY_TRY(extra_value, compile(*additional, join(path, "additionalProperties")));
    } else {
      extra_value = any_value();
    }
  }
  // Required names not declared: written after the declared ones with the extras' schema.
  for (const auto& r : required) {
    if (std::find(declared.begin(), declared.end(), r) != declared.end()) continue;
    if (!extras) {
      PARLEY_CHECK_OK(issue(join(path, "required"),
                            "required '" + r + "' is not in properties and extras are not allowed"));
    }
    NodeId value = extra_value != kUnbounded ? extra_value : any_value();
    declared.push_back(r);
    entries.push_back({r, b_.seq({b_.literal(canonical_json(json::Value(r)) + std::string(kKeySep)), value}), true});
  }
  // first[i]: properties i.. with nothing written yet; rest[i]: the same after a property.
  NodeId rest = b_.empty(), first = b_.empty();
  if (extras) {
    PARLEY_TRY(NodeId key, extra_key(declared));
    NodeId kv = b_.seq({key, b_.literal(kKeySep), extra_value});
    rest = b_.star(b_.seq({b_.literal(kItemSep), kv}));
    first = b_.optional(b_.seq({kv, rest}));
  }
  for (size_t i = entries.size(); i-- > 0;) {
    NodeId with_rest = b_.seq({b_.literal(kItemSep), entries[i].kv, rest});
    NodeId with_first = b_.seq({entries[i].kv, rest});
    rest = entries[i].required ? with_rest : b_.choice({with_rest, rest});
    first = entries[i].required ? with_first : b_.choice({with_first, first});
  }
  return b_.seq({b_.literal("{"), first, b_.literal("}")});
}

Result<NodeId> SchemaCompiler::compile_array(const json::Value& s, const std::string& path) {
  uint32_t min = length_bound(s, "minItems", 0);
  uint32_t max = length_bound(s, "maxItems", kUnbounded);
  if (min > max) return Error{join(options_.path, path) + ": minItems > maxItems"};
  std::vector<NodeId> prefix;
  const json::Value* items = s.find("items");
  const json::Value* prefix_items = s.find("prefixItems");
  const json::Value* rest_schema = items;
  std::string rest_path = join(path, "items");
  if (items && items->is_array()) {  // draft 7 tuple form
    prefix_items = items;
    rest_schema = s.find("additionalItems");
    rest_path = join(path, "additionalItems");
  }
  if (prefix_items && prefix_items->is_array()) {
    for (size_t i = 0; i < prefix_items->size(); i++) {
      PARLEY_TRY(NodeId n, compile(prefix_items->as_array()[i],
                                   join(join(path, "prefixItems"), std::to_string(i))));
      prefix.push_back(n);
    }
  }
  bool no_rest = rest_schema && rest_schema->is_bool() && !rest_schema->as_bool();
  NodeId item = kUnbounded;
  if (!no_rest) {
    if (rest_schema) {
      PARLEY_TRY(item, compile(*rest_schema, rest_path));
    } else {
      item = any_value();
    }
  }
  uint32_t k = static_cast<uint32_t>(prefix.size());
  if (no_rest) max = std::min(max, k);
  if (min > max) return Error{join(options_.path, path) + ": minItems cannot be met"};
  // tail(j): after j elements, the rest of the array including "]".
  NodeId tail = b_.literal("]");
  if (item != kUnbounded && max > k) {
    uint32_t rmin = min > k ? min - k : 0;
    uint32_t rmax = max == kUnbounded ? kUnbounded : max - k;
    NodeId more = b_.repeat(b_.seq({b_.literal(kItemSep), item}), rmin, rmax);
    tail = b_.seq({more, b_.literal("]")});
  }
  for (uint32_t j = std::min(k, max); j-- > 1;) {
    NodeId next = b_.seq({b_.literal(kItemSep), prefix[j], tail});
    tail = j >= min ? b_.choice({b_.literal("]"), next}) : next;
  }
  NodeId first_item = k > 0 ? prefix[0] : item;
  if (max == 0 || first_item == kUnbounded) return b_.literal("[]");
  if (k == 0) {
    // Items only: the first item, then (", " item){min-1, max-1}.
    uint32_t rmin = min > 1 ? min - 1 : 0;
    uint32_t rmax = max == kUnbounded ? kUnbounded : max - 1;
    tail = b_.seq({b_.repeat(b_.seq({b_.literal(kItemSep), item}), rmin, rmax), b_.literal("]")});
  }
  NodeId nonempty = b_.seq({b_.literal("["), first_item, tail});
  return min == 0 ? b_.choice({b_.literal("[]"), nonempty}) : nonempty;
}

}  // namespace parley::sampling

// JSON Schema -> grammar: the values the grammar generates are valid against the schema (within
// the supported subset), written in one canonical layout.
//
// Layout: Python json.dumps' default separators, no newlines: {"a": 1, "b": [true, null]}
// (what chat templates render tool calls with, so what models write). Strings may hold raw UTF-8
// and the escapes \" \\ \/ \b \f \n \r \t \uXXXX (no surrogate escapes). Numbers: -?(0|[1-9]\d*)
// with optional fraction and exponent (at most 18 integer digits and 2 exponent digits, so every
// value reads back as an int64 or a finite double; no exponent when bounded).
//
// Objects: declared properties in declaration order, each optional one may be skipped; extra
// properties after them. additionalProperties false: none; true / a schema: extras allowed (with
// that schema); absent: extras allowed only when the schema declares no `properties` (a
// free-form object), since a schema listing its properties means those. Extra property names
// are printable ASCII and never equal a declared name.
//
// Exact: type (and type lists), properties, required, additionalProperties, enum, const,
// anyOf, allOf (merged), items, prefixItems, minItems/maxItems, minLength/maxLength (code
// points), integer minimum/maximum/exclusive*, $ref to "#..." pointers ($defs, definitions,
// recursion), nullable. Exact but narrower than the schema (the values allowed are a valid subset):
// number bounds (integer-rounded inward; no exponent), format date / time / date-time / uuid /
// email / uri / ipv4 / hostname, pattern (regex subset: literals, escapes \d \w \s \D \W \S,
// classes, ., groups, |, * + ? {n,m}, ^ and $ at the ends; classes are ASCII-narrow).
// Best effort (strict: an error naming the path): oneOf whose branches may overlap (treated as
// anyOf), uniqueItems, contains, not, if/then/else, patternProperties, propertyNames beyond a
// type, min/maxProperties, multipleOf, dependent*, unevaluated*, string length bounds together
// with format or pattern, remote $ref. Ignored: $schema, $id, $comment, title, description,
// default, examples, deprecated, readOnly, writeOnly, content*.
#pragma once

#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "sampling/grammar.h"

namespace parley::sampling {

struct SchemaOptions {
  // An unsupported feature is an error "PATH: ..." instead of a warning.
  bool strict = false;
  // Where the schema sits, prefixed to paths in errors and warnings ("tools.2.input_schema").
  std::string path;
  // Bounds on the work one untrusted schema can cause.
  size_t max_nodes = 1 << 20;
  size_t max_depth = 64;
};

struct SchemaGrammar {
  Grammar grammar;
  std::vector<std::string> warnings;  // "PATH: what was not honoured"
};

Result<SchemaGrammar> compile_json_schema(const json::Value& schema, const SchemaOptions& options);

// Adds the schema's value grammar to `b` and returns its node (for grammars that embed JSON
// values, e.g. tool calls).
Result<NodeId> add_json_schema(GrammarBuilder& b, const json::Value& schema,
                               const SchemaOptions& options, std::vector<std::string>& warnings);

// Compiles a regular expression (the pattern subset above) to the grammar of the JSON string
// *content* (escaped as JSON requires) of the strings it matches (search semantics: unanchored
// ends match anything).
Result<NodeId> add_json_string_pattern(GrammarBuilder& b, std::string_view pattern);

}  // namespace parley::sampling

#include "sampling/json-schema.h"

#include <gtest/gtest.h>

#include "grammar-test-util.h"

namespace parley::sampling {
namespace {

using test::grammar_matches;
using test::schema_grammar;

struct Case {
  const char* schema;
  std::vector<const char*> accepted;
  std::vector<const char*> rejected;
};

void check(const Case& c) {
  Grammar g = schema_grammar(c.schema);
  for (const char* s : c.accepted) EXPECT_TRUE(grammar_matches(g, s)) << c.schema << " should accept " << s;
  for (const char* s : c.rejected) EXPECT_FALSE(grammar_matches(g, s)) << c.schema << " should reject " << s;
}

TEST(JsonSchema, Scalars) {
  check({R"({"type": "null"})", {"null"}, {"nul", "null ", "0"}});
  check({R"({"type": "boolean"})", {"true", "false"}, {"True", "1"}});
  check({R"({"type": "integer"})", {"0", "-1", "42", "9007199254740993"}, {"01", "-0", "1.0", "+1", ""}});
  check({R"({"type": "number"})", {"0", "-1.5", "3.25e10", "1E-3", "0.0"}, {".5", "1.", "01", "1e"}});
  check({R"({"type": "string"})", {R"("")", R"("a b")", R"("\"\\\n\u00e9")", "\"\xc3\xa9\xe2\x98\x83\""},
         {"\"a", "\"\n\"", R"("\x")", R"("\ud800")", "\"\xff\""}});
  check({R"({"type": ["string", "null"]})", {"null", R"("x")"}, {"1"}});
}

TEST(JsonSchema, IntegerBoundsAreExact) {
  check({R"({"type": "integer", "minimum": 0, "maximum": 9007199254740991})",
         {"0", "7", "9007199254740991", "1000000"}, {"-1", "9007199254740992", "10000000000000000"}});
  check({R"({"type": "integer", "exclusiveMinimum": 0})", {"1", "12345678901234"}, {"0", "-3"}});
  check({R"({"type": "integer", "minimum": -15, "maximum": 27})", {"-15", "-9", "0", "19", "27"},
         {"-16", "28", "30", "-20", "100"}});
  check({R"({"type": "integer", "minimum": 123, "maximum": 4567})", {"123", "199", "999", "4000", "4567"},
         {"122", "4568", "5000", "99", "12"}});
  check({R"({"type": "integer", "maximum": -5})", {"-5", "-100"}, {"-4", "0", "5"}});
}

TEST(JsonSchema, NumberBoundsStayInside) {
  check({R"({"type": "number", "minimum": 0, "maximum": 1})", {"0", "1", "0.5", "0.999"},
         {"1.5", "-0.5", "2", "1e0"}});
  check({R"({"type": "number", "minimum": -2, "maximum": 3})", {"-2", "-1.5", "2.75", "3"},
         {"-2.5", "3.5", "4"}});
}

TEST(JsonSchema, StringsLengthsFormatsPatterns) {
  check({R"({"type": "string", "minLength": 2, "maxLength": 3})", {R"("ab")", R"("\n\t")", "\"\xc3\xa9\xc3\xa9\xc3\xa9\""},
         {R"("a")", R"("abcd")"}});
  check({R"({"type": "string", "format": "date"})", {R"("2024-02-28")", R"("1999-12-31")"},
         {R"("2024-13-01")", R"("2024-02-30")", R"("24-01-01")"}});
  check({R"({"type": "string", "format": "date-time"})", {R"("2024-01-05T10:20:30Z")", R"("2024-01-05T10:20:30.5+02:00")"},
         {R"("2024-01-05 10:20:30Z")", R"("2024-01-05T25:00:00Z")"}});
  check({R"({"type": "string", "format": "uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"},
         {R"("123e4567e89b12d3a456426614174000")"}});
  check({R"({"type": "string", "pattern": "^wf_[a-z0-9-]{6,}$"})", {R"("wf_abc-12")", R"("wf_123456789")"},
         {R"("wf_abc")", R"("xwf_abcdef")", R"("wf_ABCDEF")"}});
  check({R"({"type": "string", "pattern": "a+b"})", {R"("aab")", R"("xxabyy")"}, {R"("ba")"}});
  check({R"({"type": "string", "pattern": "^(\\d{3}|x)\\.[^\\s\"]?$"})", {R"("123.")", R"("x.y")", R"("x.\\")"},
         {R"("12.")", R"("x. ")", R"("x.\"")"}});
  check({R"({"type": "string", "pattern": "^\"q\"$"})", {R"("\"q\"")"}, {R"(""q"")"}});
}

TEST(JsonSchema, EnumConstAnyOf) {
  check({R"({"enum": ["a", 1, null, {"k": [1, 2]}]})", {R"("a")", "1", "null", R"({"k": [1, 2]})"},
         {R"("b")", R"({"k":[1,2]})"}});
  check({R"({"const": "deleted"})", {R"("deleted")"}, {R"("delete")"}});
  check({R"({"type": "string", "enum": ["x", 3]})", {R"("x")"}, {"3"}});
  check({R"({"anyOf": [{"type": "string", "enum": ["pending", "completed"]}, {"type": "string", "const": "deleted"}]})",
         {R"("pending")", R"("deleted")"}, {R"("other")"}});
  check({R"({"oneOf": [{"type": "integer"}, {"type": "boolean"}]})", {"1", "true"}, {R"("1")"}});
}

TEST(JsonSchema, ObjectsKeepDeclarationOrder) {
  const char* s = R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"},
                      "c": {"type": "boolean"}}, "required": ["b"], "additionalProperties": false})";
  check({s, {R"({"b": "x"})", R"({"a": 1, "b": "x"})", R"({"a": 1, "b": "x", "c": true})", R"({"b": "x", "c": false})"},
         {"{}", R"({"a": 1})", R"({"b": "x", "a": 1})", R"({"b":"x"})", R"({"b": "x", "d": 1})", R"({"b": "x",})"}});
}

TEST(JsonSchema, ExtraPropertiesNeverRepeatDeclaredNames) {
  const char* s = R"({"type": "object", "properties": {"ab": {"type": "integer"}}, "additionalProperties": {"type": "string"}})";
  check({s, {"{}", R"({"ab": 1})", R"({"ab": 1, "a": "x"})", R"({"abc": "y"})", R"({"x": "1", "y": "2"})"},
         {R"({"ab": "x"})", R"({"ab": 1, "ab": "2"})", R"({"x": 1})"}});
  // Absent additionalProperties: extras only for objects that declare no properties.
  check({R"({"type": "object"})", {"{}", R"({"k": [1, {"z": null}]})"}, {"{1}"}});
  check({R"({"type": "object", "properties": {"a": {"type": "null"}}})", {"{}", R"({"a": null})"}, {R"({"b": null})"}});
}

TEST(JsonSchema, Arrays) {
  check({R"({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3})",
         {"[1]", "[1, 2, 3]"}, {"[]", "[1, 2, 3, 4]", "[1,2]"}});
  check({R"({"type": "array"})", {"[]", R"([1, "a", [null]])"}, {"[,]"}});
  check({R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})",
         {"[]", R"(["a"])", R"(["a", 1])"}, {R"(["a", 1, 2])", "[1]"}});
  check({R"({"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "null"}, "minItems": 2})",
         {R"(["a", null])", R"(["a", null, null])"}, {R"(["a"])", R"(["a", 1])"}});
}

TEST(JsonSchema, RefsAndAllOf) {
  const char* tree = R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
      "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"], "additionalProperties": false}},
      "$ref": "#/$defs/node"})";
  check({tree, {R"({"v": 1})", R"({"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": []}]})"},
         {R"({"v": 1, "kids": [{}]})"}});
  check({R"({"definitions": {"s": {"type": "string"}}, "type": "object", "properties": {"x": {"$ref": "#/definitions/s"}}, "required": ["x"]})",
         {R"({"x": "y"})"}, {R"({"x": 1})"}});
  check({R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                       {"properties": {"b": {"type": "string"}}, "required": ["b"]}], "additionalProperties": false})",
         {R"({"a": 1, "b": "x"})"}, {R"({"a": 1})", R"({"b": "x"})"}});
}

TEST(JsonSchema, StrictNamesThePath) {
  auto schema = json::parse(R"({"type": "object", "properties": {"x": {"type": "string", "pattern": "(?=a)b"}}})");
  SchemaOptions o;
  o.strict = true;
  o.path = "tools.2.input_schema";
  auto g = compile_json_schema(*schema, o);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("tools.2.input_schema.properties.x.pattern: "), std::string::npos)
      << g.error().message;
  o.strict = false;
  auto best = compile_json_schema(*schema, o);
  ASSERT_TRUE(best.ok());
  ASSERT_EQ(best->warnings.size(), 1u);
  EXPECT_NE(best->warnings[0].find("properties.x.pattern"), std::string::npos);
  auto unique = json::parse(R"({"type": "array", "uniqueItems": true})");
  o.strict = true;
  auto u = compile_json_schema(*unique, o);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("tools.2.input_schema.uniqueItems"), std::string::npos);
}

TEST(JsonSchema, BadSchemasAreErrorsNotCrashes) {
  SchemaOptions o;
  for (const char* s : {R"({"type": "frob"})", R"({"$ref": "#/nope"})", R"({"enum": []})", R"(false)",
                        R"({"$ref": "#"})", R"({"anyOf": [{"$ref": "#"}]})", R"({"type": "integer", "minimum": 5, "maximum": 1})",
                        R"({"type": "string", "minLength": 3, "maxLength": 1})", "[1]"}) {
    auto schema = json::parse(s);
    ASSERT_TRUE(schema.ok());
    EXPECT_FALSE(compile_json_schema(*schema, o).ok()) << s;
  }
}

}  // namespace
}  // namespace parley::sampling

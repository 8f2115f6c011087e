#include "base/json.h"

#include <gtest/gtest.h>

namespace parley::json {
namespace {

TEST(Json, ParsesEveryValueType) {
  auto v = parse(R"( {"a": 1, "b": -2.5, "c": "x\u00e9\ud83d\ude00", "d": [true, false, null], "e": {}} )");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->find("a")->as_int(), 1);
  EXPECT_DOUBLE_EQ(v->find("b")->as_double(), -2.5);
  EXPECT_EQ(v->find("c")->as_string(), "x\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(v->find("d")->size(), 3u);
  EXPECT_TRUE(v->find("d")->as_array()[2].is_null());
  EXPECT_TRUE(v->find("e")->is_object());
}

TEST(Json, KeepsIntegersAndFloatsApart) {
  EXPECT_TRUE(parse("1")->is_int());
  EXPECT_FALSE(parse("1.0")->is_int());
  EXPECT_FALSE(parse("1e2")->is_int());
  // Beyond int64: a double, not an error.
  auto big = parse("123456789012345678901234567890");
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->is_int());
  EXPECT_EQ(parse("-9223372036854775808")->as_int(), INT64_MIN);
}

TEST(Json, ErrorsNameTheByteLineAndColumn) {
  auto e = parse("{\n  \"a\": 1,\n  \"b\" 2\n}");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "invalid JSON at byte 18 (line 3, column 7): expected ':' after an object key");
}

TEST(Json, RejectsWhatRfc8259Forbids) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "NaN", "Infinity",
                          "'a'", "\"\\x\"", "\"a\nb\"", "[1 2]", "{\"a\" 1}", "tru", "nul", "1 2",
                          "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "1e400", "-"}) {
    EXPECT_FALSE(parse(bad).ok()) << "accepted: " << bad;
  }
}

TEST(Json, RejectsInvalidUtf8InStrings) {
  auto e = parse("\"ab\xC3\x28\"");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("at byte 3"), std::string::npos) << e.error().message;
  EXPECT_FALSE(parse("\"\xED\xA0\x80\"").ok());  // encoded surrogate
  EXPECT_FALSE(parse("\"\xC0\xAF\"").ok());      // overlong
}

TEST(Json, LimitsNesting) {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  auto e = parse(deep);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("nesting too deep"), std::string::npos);
  std::string ok(100, '[');
  ok += std::string(100, ']');
  EXPECT_TRUE(parse(ok).ok());
}

TEST(Json, DuplicateKeysLastWins) {
  auto v = parse(R"({"a": 1, "a": 2})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find("a")->as_int(), 2);
}

TEST(Json, WritesCompactAndIndented) {
  auto v = parse(R"({"b": [1, 2.5, "x"], "a": {"k": null}, "t": true})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(write(*v), R"({"b":[1,2.5,"x"],"a":{"k":null},"t":true})");
  WriteOptions o;
  o.indent = 2;
  o.key_separator = ": ";
  o.sort_keys = true;
  EXPECT_EQ(write(*v, o), "{\n  \"a\": {\n    \"k\": null\n  },\n  \"b\": [\n    1,\n    2.5,\n    \"x\"\n  ],\n  \"t\": true\n}");
}

TEST(Json, EscapesStrings) {
  std::string out;
  write_string(out, "q\"\\\n\t\x01\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(out, "\"q\\\"\\\\\\n\\t\\u0001\xC3\xA9\xF0\x9F\x98\x80\"");
  out.clear();
  write_string(out, "\xC3\xA9\xF0\x9F\x98\x80", /*ensure_ascii=*/true);
  EXPECT_EQ(out, "\"\\u00e9\\ud83d\\ude00\"");
  out.clear();
  write_string(out, "a\xFF");  // invalid UTF-8 never leaks into output
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD\"");
}

TEST(Json, DoublesRoundTripShortest) {
  std::string out;
  write_double(out, 0.1);
  EXPECT_EQ(out, "0.1");
  out.clear();
  write_double(out, 1.0);
  EXPECT_EQ(out, "1.0");
  out.clear();
  write_double(out, 1e-7);
  EXPECT_EQ(out, "1e-07");
  for (double d : {3.141592653589793, 1e300, -2.5e-300, 123456.789}) {
    std::string s;
    write_double(s, d);
    EXPECT_EQ(parse(s)->as_double(), d) << s;
  }
}

TEST(Json, BuildsValues) {
  Value v;
  v["x"] = 1;
  v["y"].push_back("a");
  v["y"].push_back(Value::object());
  v["x"] = 2;  // replaces, keeps position
  EXPECT_EQ(write(v), R"({"x":2,"y":["a",{}]})");
}

}  // namespace
}  // namespace parley::json

#include "api/stop-matcher.h"

#include <gtest/gtest.h>

namespace parley::api {
namespace {

TEST(StopMatcher, NoStopsPassesThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc").text, "abc");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, MatchAcrossPiecesHoldsBackPrefixes) {
  StopMatcher m({"STOP"});
  auto a = m.push("hello S");
  EXPECT_EQ(a.text, "hello ");  // "S" might start STOP
  EXPECT_FALSE(a.match);
  auto b = m.push("TO");
  EXPECT_EQ(b.text, "");
  auto c = m.push("P and more");
  EXPECT_EQ(c.text, "");
  ASSERT_TRUE(c.match);
  EXPECT_EQ(*c.match, "STOP");
}

TEST(StopMatcher, FalseStartIsReleased) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("ST").text, "");
  EXPECT_EQ(m.push("AR").text, "STAR");
  EXPECT_EQ(m.push("S").text, "");
  EXPECT_EQ(m.flush(), "S");
}

TEST(StopMatcher, EarliestMatchWins) {
  StopMatcher m({"world", "lo w"});
  auto r = m.push("hello world");
  ASSERT_TRUE(r.match);
  EXPECT_EQ(*r.match, "lo w");
  EXPECT_EQ(r.text, "hel");
}

TEST(StopMatcher, MultiByteTextStaysWhole) {
  StopMatcher m({"é!"});
  auto r = m.push("caf\xc3\xa9");  // "café": "é" may start "é!"
  EXPECT_EQ(r.text, "caf");
  auto s = m.push("?");
  EXPECT_EQ(s.text, "\xc3\xa9?");
}

}  // namespace
}  // namespace parley::api

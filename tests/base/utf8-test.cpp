#include "base/utf8.h"

#include <gtest/gtest.h>

#include "base/rng.h"
#include "base/strings.h"

namespace parley {
namespace {

TEST(Utf8, ValidatesRfc3629) {
  EXPECT_TRUE(utf8::is_valid("plain ascii"));
  EXPECT_TRUE(utf8::is_valid("\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"));
  EXPECT_FALSE(utf8::is_valid("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(utf8::is_valid("\xE0\x80\x80"));      // overlong
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(utf8::is_valid("\xE4\xB8"));          // truncated
  EXPECT_FALSE(utf8::is_valid("\x80"));              // stray continuation
  EXPECT_EQ(utf8::valid_prefix("ab\xE4\xB8"), 2u);
}

TEST(Utf8, EncodeDecodeRoundTrip) {
  Rng rng(7);
  for (int i = 0; i < 10000; i++) {
    uint32_t cp = static_cast<uint32_t>(rng.below(0x110000));
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s = utf8::encode(cp);
    size_t len = 0;
    ASSERT_EQ(utf8::decode(s, 0, &len), static_cast<int32_t>(cp));
    ASSERT_EQ(len, s.size());
  }
}

TEST(Utf8, SanitizeReplacesInvalidBytes) {
  EXPECT_EQ(utf8::sanitize("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8::sanitize("ok \xC3\xA9"), "ok \xC3\xA9");
}

TEST(Strings, QuoteForMessageIsBounded) {
  EXPECT_EQ(quote_for_message("abc"), "'abc'");
  EXPECT_EQ(quote_for_message(std::string("a\0b", 3)), "'a\\x00b'");
  EXPECT_EQ(quote_for_message(std::string(100, 'x'), 5), "'xxxxx...'");
}

TEST(Strings, HumanBytes) {
  EXPECT_EQ(human_bytes(812), "812 B");
  EXPECT_EQ(human_bytes(1185376), "1.19 MB");
  EXPECT_EQ(human_bytes(1170000000), "1.17 GB");
}

TEST(Rng, SameSeedSameStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; i++) {
    uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    (void)c;
  }
  EXPECT_NE(Rng(42).next_u64(), Rng(43).next_u64());
  Rng r(1);
  for (int i = 0; i < 1000; i++) {
    float u = r.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
  }
}

}  // namespace
}  // namespace parley

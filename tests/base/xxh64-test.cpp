#include "base/xxh64.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

TEST(Xxh64, ReferenceVectors) {
  EXPECT_EQ(xxh64(""), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(xxh64("a"), 0xD24EC4F1A98C6E5Bull);
  EXPECT_EQ(xxh64("abc"), 0x44BC2CF5AD770999ull);
  // python-xxhash's README examples (39 bytes: one 32-byte stripe and a tail; a seed).
  EXPECT_EQ(xxh64("Nobody inspects the spammish repetition"), 0xFBCEA83C8A378BF1ull);
  EXPECT_EQ(xxh64("xxhash", 20141025), 0xB559B98D844E0635ull);
}

TEST(Xxh64, StreamingEqualsOneShotAtEverySplit) {
  std::string s;
  for (int i = 0; i < 300; i++) s += static_cast<char>((i * 131 + 7) & 0xff);
  for (size_t n : {0u, 1u, 31u, 32u, 33u, 64u, 100u, 300u}) {
    const uint64_t want = xxh64(s.data(), n, 5);
    for (size_t cut = 0; cut <= n; cut += 7) {
      Xxh64 h(5);
      h.update(s.data(), cut);
      h.update(s.data() + cut, n - cut);
      EXPECT_EQ(h.digest(), want) << n << " split at " << cut;
    }
    Xxh64 bytewise(5);
    for (size_t i = 0; i < n; i++) bytewise.update(s.data() + i, 1);
    EXPECT_EQ(bytewise.digest(), want) << n;
  }
}

}  // namespace
}  // namespace parley

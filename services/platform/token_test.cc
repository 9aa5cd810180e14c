#include "services/platform/token.h"

#include <gtest/gtest.h>

#include <set>

namespace bizrelay {
namespace {

TEST(TokenTest, GeneratesDistinct256BitTokensWithPrefix) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string t = GenerateToken("bru_");
    ASSERT_TRUE(t.starts_with("bru_"));
    std::string raw;
    ASSERT_TRUE(Base64UrlDecode(t.substr(4), &raw));
    EXPECT_EQ(raw.size(), 32u);
    EXPECT_TRUE(seen.insert(t).second);
  }
}

TEST(TokenTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(TokenTest, Base64UrlRoundTripsEveryLength) {
  for (size_t n = 0; n < 40; ++n) {
    std::string raw = RandomBytes(n);
    std::string back;
    ASSERT_TRUE(Base64UrlDecode(Base64UrlEncode(raw), &back)) << n;
    EXPECT_EQ(back, raw);
  }
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("a", &out));
  EXPECT_FALSE(Base64UrlDecode("ab+/", &out));
  EXPECT_FALSE(Base64UrlDecode("AB", &out));  // non-zero leftover bits
}

TEST(TokenTest, HexRoundTrip) {
  std::string raw = RandomBytes(17);
  std::string back;
  ASSERT_TRUE(FromHex(ToHex(raw), &back));
  EXPECT_EQ(back, raw);
  EXPECT_FALSE(FromHex("abc", &back));
  EXPECT_FALSE(FromHex("zz", &back));
}

}  // namespace
}  // namespace bizrelay

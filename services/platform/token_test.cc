#include "services/platform/token.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

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

TEST(TokenTest, TimeOrderedUuidCarriesTheTimeVersionAndVariant) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string id = TimeOrderedUuid();
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  ASSERT_EQ(id.size(), 36u);
  for (size_t dash : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[dash], '-');
  EXPECT_EQ(id[14], '7');                                          // version
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant 10
  int64_t ms = std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
  EXPECT_GE(ms, before);
  EXPECT_LE(ms, after);
}

TEST(TokenTest, TimeOrderedUuidsFromLaterMillisecondsSortAfter) {
  std::string first = TimeOrderedUuid();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::set<std::string> later;
  for (int i = 0; i < 100; ++i) later.insert(TimeOrderedUuid());
  EXPECT_EQ(later.size(), 100u);  // the random part keeps ids of one millisecond apart
  EXPECT_LT(first, *later.begin());
}

TEST(TokenTest, PublicRandomBytesNeverRepeatAcrossBlocks) {
  // 12-byte nonces: 2,000 of them use several of the thread's 4 KiB blocks, and the 4097-byte
  // request is larger than a block.
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string nonce = PublicRandomBytes(12);
    ASSERT_EQ(nonce.size(), 12u);
    EXPECT_TRUE(seen.insert(nonce).second) << "repeated at " << i;
  }
  EXPECT_EQ(PublicRandomBytes(4097).size(), 4097u);
  EXPECT_EQ(PublicRandomBytes(0), "");
  // Each thread has its own block: another thread's values are fresh too.
  std::string other;
  std::thread([&] { other = PublicRandomBytes(12); }).join();
  EXPECT_TRUE(seen.insert(other).second);
}

}  // namespace
}  // namespace bizrelay

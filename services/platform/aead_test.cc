#include "services/platform/aead.h"

#include <gtest/gtest.h>

#include "services/platform/token.h"

namespace bizrelay {
namespace {

TEST(AeadTest, RoundTripWithFreshNonces) {
  std::string key = RandomBytes(32);
  auto a = Aes256GcmSeal(key, "halo", "ad");
  auto b = Aes256GcmSeal(key, "halo", "ad");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 4 + kAeadOverhead);
  EXPECT_EQ(Aes256GcmOpen(key, a, "ad"), "halo");
  EXPECT_EQ(Aes256GcmOpen(key, Aes256GcmSeal(key, "", ""), ""), "");
}

TEST(AeadTest, AnyChangeFailsToOpen) {
  std::string key = RandomBytes(32);
  auto sealed = Aes256GcmSeal(key, "the order is ready", "business|conversation|message");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_FALSE(Aes256GcmOpen(key, bad, "business|conversation|message")) << i;
  }
  EXPECT_FALSE(Aes256GcmOpen(key, sealed, "business|conversation|other"));
  EXPECT_FALSE(Aes256GcmOpen(RandomBytes(32), sealed, "business|conversation|message"));
  EXPECT_FALSE(Aes256GcmOpen(key, sealed.substr(0, 10), ""));
}

}  // namespace
}  // namespace bizrelay

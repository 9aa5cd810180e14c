#include "services/hosting/media_streams.h"

#include <gtest/gtest.h>

#include "services/platform/token.h"

namespace bizrelay::hosting {
namespace {

TEST(UploadSlotsTest, APrincipalHoldsAtMostItsShareAndGetsThemBack) {
  UploadSlots slots(2);
  EXPECT_TRUE(slots.TryAcquire("u1"));
  EXPECT_TRUE(slots.TryAcquire("u1"));
  EXPECT_FALSE(slots.TryAcquire("u1"));
  EXPECT_TRUE(slots.TryAcquire("u2")) << "another principal has its own share";
  slots.Release("u1");
  EXPECT_TRUE(slots.TryAcquire("u1"));
  slots.Release("unknown");  // harmless
}

TEST(ContentHashTest, RunningDigestEqualsTheWholeAndLeavesItsStateAlone) {
  std::string a = RandomBytes(300000), b = RandomBytes(1000);
  ContentHash hash;
  hash.Update(a);
  EXPECT_EQ(hash.DigestWith(b), Sha256(a + b));
  EXPECT_EQ(hash.DigestWith(b), Sha256(a + b)) << "a retried final store gets the same digest";
  EXPECT_EQ(hash.DigestWith(""), Sha256(a));
}

TEST(KeyRingChunkTest, AChunkOpensOnlyAtItsOwnMediaAndIndex) {
  std::string key = RandomBytes(32);
  std::string sealed = KeyRing::SealChunk(key, "m1", 3, "bytes");
  EXPECT_EQ(KeyRing::OpenChunk(key, "m1", 3, sealed), "bytes");
  EXPECT_FALSE(KeyRing::OpenChunk(key, "m1", 4, sealed));
  EXPECT_FALSE(KeyRing::OpenChunk(key, "m2", 3, sealed));
  EXPECT_FALSE(KeyRing::OpenChunk(RandomBytes(32), "m1", 3, sealed));
}

}  // namespace
}  // namespace bizrelay::hosting

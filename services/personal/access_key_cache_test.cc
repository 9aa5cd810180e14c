#include "services/personal/access_key_cache.h"

#include <gtest/gtest.h>

namespace bizrelay::personal {
namespace {

TEST(AccessKeyCacheTest, KeepsMailboxesInUseAndDropsOnesUnusedForAGeneration) {
  AccessKeyCache cache(4);  // generations of 2
  cache.Put("a", "hash-a");
  cache.Put("b", "hash-b");
  cache.Put("c", "hash-c");              // a and b become the old generation
  EXPECT_EQ(cache.Find("a"), "hash-a");  // used: moves up
  cache.Put("d", "hash-d");              // c and a become old; b, unused, is dropped
  EXPECT_EQ(cache.Find("b"), std::nullopt);
  EXPECT_EQ(cache.Find("a"), "hash-a");
  EXPECT_EQ(cache.Find("c"), "hash-c");
  EXPECT_LE(cache.size(), 4u);
}

TEST(AccessKeyCacheTest, NeverHoldsMoreThanItsCapacity) {
  AccessKeyCache cache(10);
  for (int i = 0; i < 1000; ++i) {
    cache.Put("mailbox-" + std::to_string(i), "hash");
    cache.Find("mailbox-" + std::to_string(i / 2));
    ASSERT_LE(cache.size(), 10u);
  }
}

TEST(AccessKeyCacheTest, ForgetsDeletedMailboxesAndCapacityZeroHoldsNothing) {
  AccessKeyCache cache(4);
  cache.Put("a", "hash-a");
  cache.Put("b", "hash-b");
  cache.Put("c", "hash-c");  // a in the old generation, c in the young one
  cache.Forget("a");
  cache.Forget("c");
  EXPECT_EQ(cache.Find("a"), std::nullopt);
  EXPECT_EQ(cache.Find("c"), std::nullopt);
  EXPECT_EQ(cache.Find("b"), "hash-b");

  AccessKeyCache none(0);
  none.Put("a", "hash-a");
  EXPECT_EQ(none.Find("a"), std::nullopt);
  EXPECT_EQ(none.size(), 0u);
}

}  // namespace
}  // namespace bizrelay::personal

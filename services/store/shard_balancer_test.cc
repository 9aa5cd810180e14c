#include "services/store/shard_balancer.h"

#include <gtest/gtest.h>

#include <map>

namespace bizrelay::store {
namespace {

TEST(ShardBalancerTest, KeysWithEqualTrafficSplitEvenly) {
  ShardBalancer b(2);
  std::map<size_t, int> keys_per_shard;
  // 16 keys, each with several writes pending, arriving interleaved.
  std::map<int, size_t> shard_of;
  for (int round = 0; round < 4; ++round) {
    for (int k = 0; k < 16; ++k) {
      size_t s = b.Acquire("business-" + std::to_string(k));
      if (round == 0) {
        shard_of[k] = s;
        keys_per_shard[s]++;
      }
      EXPECT_EQ(s, shard_of[k]) << "a key with writes pending stays on its shard";
    }
  }
  EXPECT_EQ(keys_per_shard[0], 8);
  EXPECT_EQ(keys_per_shard[1], 8);
  EXPECT_EQ(b.pending(0), 32u);
  EXPECT_EQ(b.pending(1), 32u);
}

TEST(ShardBalancerTest, AnIdleKeyMovesToTheLeastLoadedShard) {
  ShardBalancer b(2);
  size_t hot = b.Acquire("hot");
  for (int i = 0; i < 100; ++i) b.Acquire("hot");
  size_t quiet = b.Acquire("quiet");
  EXPECT_NE(quiet, hot);
  b.Release("quiet");
  EXPECT_EQ(b.keys(), 1u);
  for (int i = 0; i < 101; ++i) b.Release("hot");
  EXPECT_EQ(b.keys(), 0u);
  EXPECT_EQ(b.pending(0) + b.pending(1), 0u);
  // With the other shard busy, "hot" now goes where "quiet" was not.
  for (int i = 0; i < 10; ++i) b.Acquire("quiet");
  EXPECT_NE(b.Acquire("hot"), b.Acquire("quiet"));
}

TEST(ShardBalancerTest, ReleasingAnUnknownKeyChangesNothing) {
  ShardBalancer b(3);
  b.Acquire("a");
  b.Release("b");
  EXPECT_EQ(b.pending(0) + b.pending(1) + b.pending(2), 1u);
  EXPECT_EQ(b.keys(), 1u);
}

}  // namespace
}  // namespace bizrelay::store

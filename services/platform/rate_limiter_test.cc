#include "services/platform/rate_limiter.h"

#include <gtest/gtest.h>

namespace bizrelay {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiterTest, AllowsBurstThenRefusesWithRetryDelay) {
  RateLimiter limiter(10, 3);
  auto t0 = RateLimiter::Clock::now();
  std::chrono::milliseconds retry{0};
  EXPECT_TRUE(limiter.TryAcquire("a", &retry, t0));
  EXPECT_TRUE(limiter.TryAcquire("a", &retry, t0));
  EXPECT_TRUE(limiter.TryAcquire("a", &retry, t0));
  EXPECT_FALSE(limiter.TryAcquire("a", &retry, t0));
  EXPECT_EQ(retry, 100ms);
  // Another key has its own bucket.
  EXPECT_TRUE(limiter.TryAcquire("b", &retry, t0));
  // Refills at the rate.
  EXPECT_TRUE(limiter.TryAcquire("a", &retry, t0 + 100ms));
  EXPECT_FALSE(limiter.TryAcquire("a", &retry, t0 + 100ms));
}

}  // namespace
}  // namespace bizrelay

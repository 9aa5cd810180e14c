#include "services/platform/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace bizrelay {
namespace {

// How often idle buckets are dropped.
constexpr auto kSweepEvery = std::chrono::seconds(10);

}  // namespace

RateLimiter::RateLimiter(double rate_per_second, double burst)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), last_sweep_(Clock::now()) {}

bool RateLimiter::TryAcquire(const std::string& key, std::chrono::milliseconds* retry_after,
                             Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (now - last_sweep_ > kSweepEvery) SweepLocked(now);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  double wait_s = rate_ > 0 ? (1.0 - b.tokens) / rate_ : 3600.0;
  *retry_after = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(wait_s * 1000)));
  return false;
}

void RateLimiter::SweepLocked(Clock::time_point now) {
  last_sweep_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    if (it->second.tokens + elapsed * rate_ >= burst_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace bizrelay

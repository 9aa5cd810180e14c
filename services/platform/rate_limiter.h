#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bizrelay {

// Token buckets keyed by principal (the empty key for a global limit): each key may spend
// `rate_per_second` on average with bursts up to `burst`. Idle keys are forgotten once their
// bucket is full again, so memory follows the number of recently active keys. Thread-safe.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate_per_second, double burst);

  // Takes one token for `key`. On refusal returns false and sets `retry_after` to the wait
  // until a token is available.
  bool TryAcquire(const std::string& key, std::chrono::milliseconds* retry_after,
                  Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void SweepLocked(Clock::time_point now);

  const double rate_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  Clock::time_point last_sweep_;                     // guarded by mu_
};

}  // namespace bizrelay

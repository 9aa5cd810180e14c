#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>

namespace bizrelay::webhooks {

// How long to wait before attempt `failures` + 1 of an event that failed `failures` times
// (>= 1): exponential from `initial` (doubling, capped at `max`), with full jitter over the
// upper half, so receivers that come back are not hit by every sender at once.
std::chrono::milliseconds RetryDelay(int failures, std::chrono::milliseconds initial,
                                     std::chrono::milliseconds max, std::mt19937_64& rng);

// A Retry-After header value: delay-seconds or an HTTP-date (relative to `now_unix`). nullopt
// if it is neither; a date in the past is 0.
std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& value, int64_t now_unix);

}  // namespace bizrelay::webhooks

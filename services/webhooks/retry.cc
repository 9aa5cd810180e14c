#include "services/webhooks/retry.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace bizrelay::webhooks {

std::chrono::milliseconds RetryDelay(int failures, std::chrono::milliseconds initial,
                                     std::chrono::milliseconds max, std::mt19937_64& rng) {
  int doublings = std::clamp(failures - 1, 0, 40);
  int64_t ceiling = initial.count();
  for (int i = 0; i < doublings && ceiling < max.count(); ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max.count());
  std::uniform_int_distribution<int64_t> jitter(ceiling / 2, std::max<int64_t>(ceiling, 1));
  return std::chrono::milliseconds(jitter(rng));
}

std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& value, int64_t now_unix) {
  size_t start = value.find_first_not_of(" \t");
  size_t end = value.find_last_not_of(" \t\r\n");
  if (start == std::string::npos) return std::nullopt;
  std::string v = value.substr(start, end - start + 1);
  if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (v.size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stoll(v));
  }
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::chrono::seconds(std::max<int64_t>(0, static_cast<int64_t>(when) - now_unix));
}

}  // namespace bizrelay::webhooks

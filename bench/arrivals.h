#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

// When benchmark messages arrived at a consumer (an inbox stream or a webhook receiver),
// against the send time each one carries in its text (MessageText).
namespace bizrelay::bench {

// Of the messages sent in a window: how many arrived, and when the first and the last did.
struct ArrivalSpan {
  uint64_t count = 0;
  int64_t first_ns = 0;
  int64_t last_ns = 0;
  // Messages per second between the first and the last arrival; 0 for fewer than two.
  double PerSecond() const {
    return count > 1 && last_ns > first_ns
               ? static_cast<double>(count - 1) * 1e9 / static_cast<double>(last_ns - first_ns)
               : 0;
  }
};

// Thread-safe.
class Arrivals {
 public:
  void Add(int64_t send_ns, int64_t recv_ns);
  uint64_t count() const;
  // Latencies (arrival minus send time) of the messages sent in [from_ns, to_ns).
  std::vector<int64_t> LatenciesSentIn(int64_t from_ns, int64_t to_ns) const;
  ArrivalSpan SpanSentIn(int64_t from_ns, int64_t to_ns) const;

 private:
  struct Sample {
    int64_t send_ns;
    int64_t recv_ns;
  };
  mutable std::mutex mu_;
  std::vector<Sample> samples_;  // guarded by mu_
};

}  // namespace bizrelay::bench

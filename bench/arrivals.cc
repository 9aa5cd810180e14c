#include "bench/arrivals.h"

#include <algorithm>

namespace bizrelay::bench {

void Arrivals::Add(int64_t send_ns, int64_t recv_ns) {
  std::lock_guard lock(mu_);
  samples_.push_back({send_ns, recv_ns});
}

uint64_t Arrivals::count() const {
  std::lock_guard lock(mu_);
  return samples_.size();
}

std::vector<int64_t> Arrivals::LatenciesSentIn(int64_t from_ns, int64_t to_ns) const {
  std::lock_guard lock(mu_);
  std::vector<int64_t> out;
  for (const auto& s : samples_) {
    if (s.send_ns >= from_ns && s.send_ns < to_ns) out.push_back(s.recv_ns - s.send_ns);
  }
  return out;
}

ArrivalSpan Arrivals::SpanSentIn(int64_t from_ns, int64_t to_ns) const {
  std::lock_guard lock(mu_);
  ArrivalSpan span;
  for (const auto& s : samples_) {
    if (s.send_ns < from_ns || s.send_ns >= to_ns) continue;
    span.first_ns = span.count == 0 ? s.recv_ns : std::min(span.first_ns, s.recv_ns);
    span.last_ns = span.count == 0 ? s.recv_ns : std::max(span.last_ns, s.recv_ns);
    ++span.count;
  }
  return span;
}

}  // namespace bizrelay::bench

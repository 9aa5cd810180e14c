#include "bench/crypto_cost.h"

#include <string>
#include <vector>

#include "bench/stats.h"
#include "services/hosting/keyring.h"
#include "services/platform/token.h"

namespace bizrelay::bench {

double MedianNsPerCall(int batches, int per_batch, const std::function<void()>& fn) {
  for (int i = 0; i < per_batch; ++i) fn();  // warm caches and OpenSSL's lazy setup
  std::vector<double> per_call;
  for (int b = 0; b < batches; ++b) {
    const int64_t start = NowNs();
    for (int i = 0; i < per_batch; ++i) fn();
    per_call.push_back(static_cast<double>(NowNs() - start) / per_batch);
  }
  return Median(per_call);
}

SealCost MeasureSealCost(size_t body_bytes) {
  SealCost c{.body_bytes = body_bytes, .batches = 101, .per_batch = 1000};
  const std::string key = RandomBytes(32);
  const std::string business = ToHex(RandomBytes(16));
  const std::string conversation = ToHex(RandomBytes(16));
  const std::string message = ToHex(RandomBytes(16));
  const std::string body(body_bytes, 'x');
  size_t sink = 0;  // keeps the calls from being optimised away
  c.ns_per_seal = MedianNsPerCall(c.batches, c.per_batch, [&] {
    sink += hosting::KeyRing::SealBody(key, business, conversation, message, body).size();
  });
  if (sink == 0) c.ns_per_seal = -1;
  return c;
}

}  // namespace bizrelay::bench

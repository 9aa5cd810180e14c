#pragma once

#include <cstddef>
#include <functional>

namespace bizrelay::bench {

// Nanoseconds per call of `fn`: `batches` batches of `per_batch` calls each, timed per batch on
// this thread; returns the median batch's time per call (robust against a batch that was
// descheduled).
double MedianNsPerCall(int batches, int per_batch, const std::function<void()>& fn);

// In-process cost of sealing one message body as the hosting path does at rest
// (hosting::KeyRing::SealBody: AES-256-GCM, random nonce, ids as associated data) with a
// 32-byte key, for a body of `body_bytes`.
struct SealCost {
  size_t body_bytes = 0;
  double ns_per_seal = 0;
  int batches = 0;
  int per_batch = 0;
};
SealCost MeasureSealCost(size_t body_bytes);

}  // namespace bizrelay::bench

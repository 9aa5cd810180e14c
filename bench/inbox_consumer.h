#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/arrivals.h"
#include "bench/stats.h"
#include "bizrelay/v1/business_service.grpc.pb.h"

namespace bizrelay::bench {

// A business integration as the benchmark plays it: follows the business's inbox
// (BusinessService.StreamInbox, from the oldest unacknowledged event) and acknowledges what it
// has received after every kAckEvery events and whenever Tick() finds something
// unacknowledged (the caller ticks every 200 ms). For each user message it keeps the send time
// written in the text (MessageText) and the time it arrived. Thread-safe.
class InboxConsumer final : public grpc::ClientReadReactor<v1::StreamInboxResponse> {
 public:
  static constexpr int kAckEvery = 100;

  // `stub` must outlive this.
  InboxConsumer(v1::BusinessService::Stub* stub, std::string api_key);

  void Start();
  void Tick();
  // Cancels the stream and waits until it and any acknowledgement in flight have ended.
  // Idempotent; must be called before destruction once Start() was.
  void Stop();

  // Delivery latencies (receive minus send time) of the messages sent in [from_ns, to_ns).
  std::vector<int64_t> LatenciesSentIn(int64_t from_ns, int64_t to_ns) const {
    return arrivals_.LatenciesSentIn(from_ns, to_ns);
  }
  ArrivalSpan SpanSentIn(int64_t from_ns, int64_t to_ns) const {
    return arrivals_.SpanSentIn(from_ns, to_ns);
  }
  uint64_t events() const;
  uint64_t messages() const;
  uint64_t ack_errors() const;
  // How the stream ended; empty while it is open.
  std::optional<grpc::Status> ended() const;

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  // Acknowledges the last position received if no acknowledgement is in flight and either
  // `force` or kAckEvery events have arrived since the last one.
  void MaybeAck(bool force);

  v1::BusinessService::Stub* const stub_;
  const std::string api_key_;
  grpc::ClientContext ctx_;
  v1::StreamInboxRequest request_;
  v1::StreamInboxResponse response_;  // touched only by the read callbacks, one at a time

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Arrivals arrivals_;
  uint64_t events_ = 0;         // guarded by mu_
  int64_t position_ = 0;        // guarded by mu_: last received
  int64_t acked_ = 0;           // guarded by mu_: last acknowledged
  int since_ack_ = 0;           // guarded by mu_
  bool ack_in_flight_ = false;  // guarded by mu_
  uint64_t ack_errors_ = 0;     // guarded by mu_
  bool done_ = false;           // guarded by mu_
  grpc::Status status_;         // guarded by mu_; valid once done_
};

// Ticks every consumer every 200 ms, so that each acknowledges what it has received.
class AckTicker {
 public:
  // `consumers` must outlive this.
  explicit AckTicker(const std::vector<std::unique_ptr<InboxConsumer>>& consumers);
  ~AckTicker();
  void Stop();

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// User messages the consumers have received, together.
uint64_t TotalMessages(const std::vector<std::unique_ptr<InboxConsumer>>& consumers);

// Waits until the consumers have received, together, at least `expected` user messages (every
// send acknowledged so far; at-least-once delivery may add duplicates). Returns the seconds
// waited, or nullopt after `timeout`.
std::optional<double> WaitForDelivery(const std::vector<std::unique_ptr<InboxConsumer>>& consumers,
                                      uint64_t expected, double timeout);

// Delivery latencies of the messages sent in [from_ns, to_ns), over all consumers.
LatencySummary DeliveryLatency(const std::vector<std::unique_ptr<InboxConsumer>>& consumers,
                               int64_t from_ns, int64_t to_ns);

}  // namespace bizrelay::bench

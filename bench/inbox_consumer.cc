#include "bench/inbox_consumer.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "bench/load.h"
#include "bench/stats.h"

namespace bizrelay::bench {

InboxConsumer::InboxConsumer(v1::BusinessService::Stub* stub, std::string api_key)
    : stub_(stub), api_key_(std::move(api_key)) {}

void InboxConsumer::Start() {
  ctx_.AddMetadata("authorization", "Bearer " + api_key_);
  request_.set_after_position(0);
  stub_->async()->StreamInbox(&ctx_, &request_, this);
  StartRead(&response_);
  StartCall();
}

void InboxConsumer::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended; OnDone follows
  const int64_t now = NowNs();
  {
    std::lock_guard lock(mu_);
    ++events_;
    ++since_ack_;
    position_ = std::max(position_, response_.position());
    int64_t sent = 0;
    if (response_.has_message() &&
        response_.message().direction() == v1::MESSAGE_DIRECTION_USER_TO_BUSINESS &&
        ParseSendTime(response_.message().text(), &sent)) {
      arrivals_.Add(sent, now);
    }
  }
  MaybeAck(false);
  StartRead(&response_);
}

void InboxConsumer::OnDone(const grpc::Status& status) {
  std::lock_guard lock(mu_);
  done_ = true;
  status_ = status;
  cv_.notify_all();
}

void InboxConsumer::Tick() { MaybeAck(true); }

void InboxConsumer::MaybeAck(bool force) {
  struct AckCall {
    grpc::ClientContext ctx;
    v1::AcknowledgeInboxRequest request;
    v1::AcknowledgeInboxResponse response;
  };
  auto call = std::make_unique<AckCall>();
  {
    std::lock_guard lock(mu_);
    if (ack_in_flight_ || done_ || position_ <= acked_) return;
    if (!force && since_ack_ < kAckEvery) return;
    ack_in_flight_ = true;
    since_ack_ = 0;
    call->request.set_position(position_);
  }
  call->ctx.AddMetadata("authorization", "Bearer " + api_key_);
  call->ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  AckCall* raw = call.release();
  stub_->async()->AcknowledgeInbox(&raw->ctx, &raw->request, &raw->response,
                                   [this, raw](grpc::Status s) {
                                     std::unique_ptr<AckCall> owned(raw);
                                     std::lock_guard lock(mu_);
                                     ack_in_flight_ = false;
                                     if (s.ok()) {
                                       acked_ = std::max(acked_, owned->request.position());
                                     } else {
                                       ++ack_errors_;
                                     }
                                     cv_.notify_all();
                                   });
}

void InboxConsumer::Stop() {
  ctx_.TryCancel();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_ && !ack_in_flight_; });
}

uint64_t InboxConsumer::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

uint64_t InboxConsumer::messages() const { return arrivals_.count(); }

uint64_t InboxConsumer::ack_errors() const {
  std::lock_guard lock(mu_);
  return ack_errors_;
}

std::optional<grpc::Status> InboxConsumer::ended() const {
  std::lock_guard lock(mu_);
  if (!done_) return std::nullopt;
  return status_;
}

AckTicker::AckTicker(const std::vector<std::unique_ptr<InboxConsumer>>& consumers)
    : thread_([this, &consumers] {
        while (!stop_) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          for (auto& c : consumers) c->Tick();
        }
      }) {}

AckTicker::~AckTicker() { Stop(); }

void AckTicker::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

uint64_t TotalMessages(const std::vector<std::unique_ptr<InboxConsumer>>& consumers) {
  uint64_t n = 0;
  for (const auto& c : consumers) n += c->messages();
  return n;
}

std::optional<double> WaitForDelivery(const std::vector<std::unique_ptr<InboxConsumer>>& consumers,
                                      uint64_t expected, double timeout) {
  const int64_t start = NowNs();
  const int64_t until = start + static_cast<int64_t>(timeout * 1e9);
  while (TotalMessages(consumers) < expected) {
    if (NowNs() > until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return static_cast<double>(NowNs() - start) / 1e9;
}

LatencySummary DeliveryLatency(const std::vector<std::unique_ptr<InboxConsumer>>& consumers,
                               int64_t from_ns, int64_t to_ns) {
  std::vector<int64_t> all;
  for (const auto& c : consumers) {
    auto part = c->LatenciesSentIn(from_ns, to_ns);
    all.insert(all.end(), part.begin(), part.end());
  }
  return Summarize(&all);
}

}  // namespace bizrelay::bench

#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/stats.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace bizrelay::bench {

// Every benchmark call gets this deadline: long enough never to cut a slow but healthy call,
// short enough that a lost one cannot hang the run.
inline constexpr std::chrono::seconds kCallDeadline{30};

// The status code's name as in the gRPC docs ("DEADLINE_EXCEEDED").
std::string CodeName(grpc::StatusCode code);

// A benchmark message's text: its send time, then padding to `bytes` characters, so the
// receiving business can measure delivery latency without sharing a table with the sender.
inline constexpr size_t kMinTextBytes = 32;
std::string MessageText(int64_t send_ns, size_t bytes);
// The send time written by MessageText; false if `text` is not such a text.
bool ParseSendTime(std::string_view text, int64_t* send_ns);

// One in-flight slot of a closed loop, which starts one call at a time.
class CallSlot {
 public:
  virtual ~CallSlot() = default;
  // Starts one call on `ctx` (fresh, deadline set, owned by the caller until `done` has run)
  // and calls `done` exactly once when it ends, on a gRPC thread. `send_ns` is the start
  // time, for requests that carry it.
  virtual void Start(grpc::ClientContext* ctx, int64_t send_ns,
                     std::function<void(const grpc::Status&)> done) = 0;
};

// grpc.health.v1.Health/Check: the cheapest call the server answers, so the loop around it
// measures what gRPC, the network path and the load generator cost by themselves.
class HealthCheckSlot final : public CallSlot {
 public:
  explicit HealthCheckSlot(grpc::health::v1::Health::Stub* stub) : stub_(stub) {}
  void Start(grpc::ClientContext* ctx, int64_t send_ns,
             std::function<void(const grpc::Status&)> done) override;

 private:
  grpc::health::v1::Health::Stub* const stub_;
  grpc::health::v1::HealthCheckRequest request_;
  grpc::health::v1::HealthCheckResponse response_;
};

// Who sends: a user's token and the business it has a chat with.
struct Sender {
  v1::UserChatService::Stub* stub;
  std::string token;
  std::string business_id;
};

// Counts every SendMessage that returned OK, in any phase, so that the consumers can be
// waited for until they have received at least that many messages.
using OkCounter = std::atomic<uint64_t>;

// UserChatService.SendMessage as one user, each call with a new idempotency key.
class SendMessageSlot final : public CallSlot {
 public:
  // `ok_total` must outlive this.
  SendMessageSlot(Sender sender, std::string key_prefix, size_t text_bytes, OkCounter* ok_total)
      : sender_(std::move(sender)),
        key_prefix_(std::move(key_prefix)),
        text_bytes_(text_bytes),
        ok_total_(ok_total) {}
  void Start(grpc::ClientContext* ctx, int64_t send_ns,
             std::function<void(const grpc::Status&)> done) override;

 private:
  const Sender sender_;
  const std::string key_prefix_;
  const size_t text_bytes_;
  OkCounter* const ok_total_;
  uint64_t seq_ = 0;
  v1::SendMessageRequest request_;
  v1::SendMessageResponse response_;
};

// Figures of one closed-loop phase. Only calls that end inside the measured window count.
struct PhaseResult {
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  double seconds = 0;
  uint64_t ok = 0;
  double ok_per_second = 0;
  LatencySummary latency;                  // of the OK calls
  std::map<std::string, uint64_t> errors;  // by status code name
  CpuUsage cpu;
};

// The null call each phase compares with: RunClosedLoop of `inflight` Health/Check slots, slot i
// on stubs[i % stubs.size()].
PhaseResult RunNullCalls(const std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>>& stubs,
                         int inflight, std::chrono::milliseconds warmup,
                         std::chrono::milliseconds measure, CpuSampler* cpu);

nlohmann::json ToJson(const PhaseResult& p);

// Error counts as one line ("UNAVAILABLE 3, INTERNAL 1"), or "none".
std::string ErrorCounts(const std::map<std::string, uint64_t>& errors);

// Keeps every slot busy (a new call as soon as the previous one ends) for `warmup` and then
// `measure`; `cpu` measures the second part. Returns once every call has ended.
PhaseResult RunClosedLoop(const std::vector<std::unique_ptr<CallSlot>>& slots,
                          std::chrono::milliseconds warmup, std::chrono::milliseconds measure,
                          CpuSampler* cpu);

// Figures of a closed loop that ran until a number of calls had succeeded.
struct CountResult {
  uint64_t ok = 0;
  double seconds = 0;
  std::map<std::string, uint64_t> errors;  // by status code name
};

// Keeps every slot busy until `count` calls have succeeded (a few more may, those in flight
// then); returns once every call has ended.
CountResult RunUntilOk(const std::vector<std::unique_ptr<CallSlot>>& slots, uint64_t count);

// Figures of an open-loop phase: sends start on a fixed schedule whatever earlier ones do.
struct PacedResult {
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  double rate = 0;
  uint64_t sent = 0;  // started inside the window
  uint64_t ok = 0;
  double max_behind_ms = 0;  // how late the schedule ran at worst
  LatencySummary latency;    // acknowledgement latency of the OK sends
  std::map<std::string, uint64_t> errors;
};

// Sends at `rate` per second, round robin over `senders`, for `warmup` and then `measure`;
// counts the sends that start in the second part. Returns once every send has ended.
PacedResult RunPaced(const std::vector<Sender>& senders, double rate,
                     std::chrono::milliseconds warmup, std::chrono::milliseconds measure,
                     const std::string& key_prefix, size_t text_bytes, OkCounter* ok_total);

}  // namespace bizrelay::bench

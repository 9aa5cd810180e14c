#include "bench/load.h"

#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace bizrelay::bench {
namespace {

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}

// Fills `request` for one send; `seq` makes the idempotency key unique per user.
void FillSend(const Sender& sender, const std::string& key_prefix, uint64_t seq, int64_t send_ns,
              size_t text_bytes, grpc::ClientContext* ctx, v1::SendMessageRequest* request) {
  ctx->AddMetadata("authorization", "Bearer " + sender.token);
  request->set_business_id(sender.business_id);
  request->set_idempotency_key(key_prefix + "-" + std::to_string(seq));
  request->set_text(MessageText(send_ns, text_bytes));
}

// The state of a closed-loop phase. Each slot's state is touched only by the chain of
// callbacks of that slot, one at a time, and by Run after every chain has ended.
class ClosedLoop {
 public:
  explicit ClosedLoop(const std::vector<std::unique_ptr<CallSlot>>& slots)
      : slots_(slots), state_(slots.size()) {}

  PhaseResult Run(std::chrono::milliseconds warmup, std::chrono::milliseconds measure,
                  CpuSampler* cpu) {
    const int64_t start = NowNs();
    window_start_ = start + std::chrono::nanoseconds(warmup).count();
    window_end_ = window_start_ + std::chrono::nanoseconds(measure).count();
    active_ = slots_.size();
    for (size_t i = 0; i < slots_.size(); ++i) Next(i);

    PhaseResult r;
    SleepUntil(window_start_);
    cpu->Start();
    SleepUntil(window_end_);
    r.cpu = cpu->Stop();
    stopping_ = true;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return active_ == 0; });
    }

    r.window_start_ns = window_start_;
    r.window_end_ns = window_end_;
    r.seconds = static_cast<double>(window_end_ - window_start_) / 1e9;
    std::vector<int64_t> latencies;
    for (auto& s : state_) {
      r.ok += s.ok;
      latencies.insert(latencies.end(), s.latencies.begin(), s.latencies.end());
      for (const auto& [code, n] : s.errors) r.errors[CodeName(code)] += n;
    }
    r.ok_per_second = static_cast<double>(r.ok) / r.seconds;
    r.latency = Summarize(&latencies);
    return r;
  }

 private:
  struct SlotState {
    // Two contexts, used in turn: the one of the call that just ended stays alive until its
    // callback has returned, which is after the next call has started.
    std::unique_ptr<grpc::ClientContext> contexts[2];
    int next_context = 0;
    uint64_t ok = 0;
    std::vector<int64_t> latencies;
    std::map<grpc::StatusCode, uint64_t> errors;
  };

  static void SleepUntil(int64_t ns) {
    std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(ns)));
  }

  void Next(size_t i) {
    if (stopping_.load(std::memory_order_relaxed)) {
      std::lock_guard lock(mu_);
      if (--active_ == 0) cv_.notify_all();
      return;
    }
    SlotState& s = state_[i];
    auto& ctx = s.contexts[s.next_context];
    s.next_context ^= 1;
    ctx = std::make_unique<grpc::ClientContext>();
    SetDeadline(ctx.get());
    const int64_t sent = NowNs();
    slots_[i]->Start(ctx.get(), sent,
                     [this, i, sent](const grpc::Status& status) { Done(i, sent, status); });
  }

  void Done(size_t i, int64_t sent, const grpc::Status& status) {
    const int64_t now = NowNs();
    if (now >= window_start_ && now < window_end_) {
      SlotState& s = state_[i];
      if (status.ok()) {
        ++s.ok;
        s.latencies.push_back(now - sent);
      } else {
        ++s.errors[status.error_code()];
      }
    }
    Next(i);
  }

  const std::vector<std::unique_ptr<CallSlot>>& slots_;
  std::vector<SlotState> state_;
  // Set before the first call starts, read-only afterwards.
  int64_t window_start_ = 0;
  int64_t window_end_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  size_t active_ = 0;  // guarded by mu_: slots whose chain has not ended
};

// A closed loop that stops starting calls once `count` have succeeded. Each slot's chain of
// callbacks runs one call at a time, as in ClosedLoop.
class CountLoop {
 public:
  CountLoop(const std::vector<std::unique_ptr<CallSlot>>& slots, uint64_t count)
      : slots_(slots), count_(count), contexts_(slots.size()) {}

  CountResult Run() {
    const int64_t start = NowNs();
    active_ = slots_.size();
    for (size_t i = 0; i < slots_.size(); ++i) Next(i);
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return active_ == 0; });
    }
    CountResult r;
    r.ok = ok_;
    r.seconds = static_cast<double>(NowNs() - start) / 1e9;
    for (const auto& [code, n] : errors_) r.errors[CodeName(code)] += n;
    return r;
  }

 private:
  void Next(size_t i) {
    if (ok_.load() >= count_) {
      std::lock_guard lock(mu_);
      if (--active_ == 0) cv_.notify_all();
      return;
    }
    auto& pair = contexts_[i];
    auto& ctx = pair.contexts[pair.next];
    pair.next ^= 1;
    ctx = std::make_unique<grpc::ClientContext>();
    SetDeadline(ctx.get());
    slots_[i]->Start(ctx.get(), NowNs(), [this, i](const grpc::Status& status) {
      if (status.ok()) {
        ++ok_;
      } else {
        std::lock_guard lock(mu_);
        ++errors_[status.error_code()];
      }
      Next(i);
    });
  }

  struct Contexts {
    std::unique_ptr<grpc::ClientContext> contexts[2];
    int next = 0;
  };
  const std::vector<std::unique_ptr<CallSlot>>& slots_;
  const uint64_t count_;
  std::vector<Contexts> contexts_;
  std::atomic<uint64_t> ok_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  size_t active_ = 0;                            // guarded by mu_
  std::map<grpc::StatusCode, uint64_t> errors_;  // guarded by mu_
};

}  // namespace

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

std::string MessageText(int64_t send_ns, size_t bytes) {
  std::string text = "t=" + std::to_string(send_ns) + ";";
  if (text.size() < bytes) text.append(bytes - text.size(), 'x');
  return text;
}

bool ParseSendTime(std::string_view text, int64_t* send_ns) {
  if (!text.starts_with("t=")) return false;
  auto semicolon = text.find(';');
  if (semicolon == std::string_view::npos) return false;
  auto [end, ec] = std::from_chars(text.data() + 2, text.data() + semicolon, *send_ns);
  return ec == std::errc() && end == text.data() + semicolon;
}

void HealthCheckSlot::Start(grpc::ClientContext* ctx, int64_t,
                            std::function<void(const grpc::Status&)> done) {
  stub_->async()->Check(ctx, &request_, &response_,
                        [done = std::move(done)](grpc::Status s) { done(s); });
}

void SendMessageSlot::Start(grpc::ClientContext* ctx, int64_t send_ns,
                            std::function<void(const grpc::Status&)> done) {
  FillSend(sender_, key_prefix_, seq_++, send_ns, text_bytes_, ctx, &request_);
  sender_.stub->async()->SendMessage(ctx, &request_, &response_,
                                     [this, done = std::move(done)](grpc::Status s) {
                                       if (s.ok())
                                         ok_total_->fetch_add(1, std::memory_order_relaxed);
                                       done(s);
                                     });
}

PhaseResult RunClosedLoop(const std::vector<std::unique_ptr<CallSlot>>& slots,
                          std::chrono::milliseconds warmup, std::chrono::milliseconds measure,
                          CpuSampler* cpu) {
  ClosedLoop loop(slots);
  return loop.Run(warmup, measure, cpu);
}

CountResult RunUntilOk(const std::vector<std::unique_ptr<CallSlot>>& slots, uint64_t count) {
  CountLoop loop(slots, count);
  return loop.Run();
}

PacedResult RunPaced(const std::vector<Sender>& senders, double rate,
                     std::chrono::milliseconds warmup, std::chrono::milliseconds measure,
                     const std::string& key_prefix, size_t text_bytes, OkCounter* ok_total) {
  struct Call {
    grpc::ClientContext ctx;
    v1::SendMessageRequest request;
    v1::SendMessageResponse response;
    int64_t sent = 0;
    bool counted = false;  // started inside the window
  };
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;  // guarded by mu
  PacedResult r;           // guarded by mu while sends are outstanding
  std::vector<int64_t> latencies;
  std::map<grpc::StatusCode, uint64_t> errors;

  const int64_t start = NowNs();
  r.rate = rate;
  r.window_start_ns = start + std::chrono::nanoseconds(warmup).count();
  r.window_end_ns = r.window_start_ns + std::chrono::nanoseconds(measure).count();
  const double period_ns = 1e9 / rate;
  std::vector<uint64_t> seq(senders.size(), 0);
  for (uint64_t i = 0;; ++i) {
    const auto due = start + static_cast<int64_t>(static_cast<double>(i) * period_ns);
    if (due >= r.window_end_ns) break;
    std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(due)));
    const size_t who = i % senders.size();
    auto* call = new Call;
    call->sent = NowNs();
    // Counted by actual start time, as the inbox side classifies deliveries.
    call->counted = call->sent >= r.window_start_ns && call->sent < r.window_end_ns;
    {
      std::lock_guard lock(mu);
      ++outstanding;
      if (call->counted) {
        ++r.sent;
        r.max_behind_ms = std::max(r.max_behind_ms, static_cast<double>(call->sent - due) / 1e6);
      }
    }
    SetDeadline(&call->ctx);
    FillSend(senders[who], key_prefix + "-p" + std::to_string(who), seq[who]++, call->sent,
             text_bytes, &call->ctx, &call->request);
    senders[who].stub->async()->SendMessage(&call->ctx, &call->request, &call->response,
                                            [&, call](grpc::Status s) {
                                              std::unique_ptr<Call> owned(call);
                                              const int64_t now = NowNs();
                                              if (s.ok())
                                                ok_total->fetch_add(1, std::memory_order_relaxed);
                                              std::lock_guard lock(mu);
                                              if (call->counted) {
                                                if (s.ok()) {
                                                  ++r.ok;
                                                  latencies.push_back(now - call->sent);
                                                } else {
                                                  ++errors[s.error_code()];
                                                }
                                              }
                                              if (--outstanding == 0) cv.notify_all();
                                            });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outstanding == 0; });
  r.latency = Summarize(&latencies);
  for (const auto& [code, n] : errors) r.errors[CodeName(code)] += n;
  return r;
}

PhaseResult RunNullCalls(const std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>>& stubs,
                         int inflight, std::chrono::milliseconds warmup,
                         std::chrono::milliseconds measure, CpuSampler* cpu) {
  std::vector<std::unique_ptr<CallSlot>> slots;
  for (int i = 0; i < inflight; ++i) {
    slots.push_back(
        std::make_unique<HealthCheckSlot>(stubs[static_cast<size_t>(i) % stubs.size()].get()));
  }
  return RunClosedLoop(slots, warmup, measure, cpu);
}

nlohmann::json ToJson(const PhaseResult& p) {
  return {{"seconds", p.seconds},         {"ok", p.ok},         {"ok_per_second", p.ok_per_second},
          {"latency", ToJson(p.latency)}, {"errors", p.errors}, {"cpu", ToJson(p.cpu)}};
}

std::string ErrorCounts(const std::map<std::string, uint64_t>& errors) {
  if (errors.empty()) return "none";
  std::string s;
  for (const auto& [code, n] : errors)
    s += (s.empty() ? "" : ", ") + code + " " + std::to_string(n);
  return s;
}

}  // namespace bizrelay::bench

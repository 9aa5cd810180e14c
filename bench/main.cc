// bizrelay-bench: measures how many durable user-to-business messages per second one bizrelayd
// stores (UserChatService.SendMessage, acknowledged only after commit), against a null gRPC
// call on the same connections, and how long a message takes to reach the business's inbox
// stream. Everything goes over real gRPC on loopback; see bench/README.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/inbox_consumer.h"
#include "bench/load.h"
#include "bench/server_process.h"
#include "bench/stats.h"
#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// What the project aims for on one node (printed for comparison, not asserted).
constexpr double kTargetMsgsPerSecond = 10000;
constexpr double kTargetAckP99Ms = 25;
constexpr int kTargetInflight = 256;
// The server's default cap on concurrent calls per HTTP/2 connection.
constexpr int kServerStreamsPerConnection = 100;

struct Options {
  double seconds = 10;
  double warmup_seconds = 2;
  int runs = 1;
  int inflight = 256;
  int businesses = 16;
  int users = 256;
  int channels = 4;
  size_t text_bytes = 100;
  double e2e_rate = 1000;
  double e2e_seconds = 5;
  double drain_timeout_seconds = 120;
  int setup_threads = 8;
  bool inbox = true;
  std::string json_path;
  std::string bizrelayd = BIZRELAYD_PATH;
  std::vector<std::string> server_args;
  std::string target;
  std::string operator_target;
  std::string operator_token_file;
  int server_pid = 0;
  int postgres_pid = 0;
};

std::string Fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// A channel with its own TCP connection: channels with equal arguments would otherwise share
// one subchannel, and so one connection, through the global subchannel pool.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    throw std::runtime_error("cannot connect to " + target);
  }
  return channel;
}

void Authorize(grpc::ClientContext* ctx, const std::string& token) {
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}

// Runs `call` (which makes one RPC with a fresh context) until it succeeds; retries what a
// loaded server may answer to setup calls (RESOURCE_EXHAUSTED, UNAVAILABLE), throws otherwise.
void CallWithRetry(const char* what, const std::function<grpc::Status()>& call) {
  for (int attempt = 1;; ++attempt) {
    grpc::Status s = call();
    if (s.ok()) return;
    bool retryable = s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                     s.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (!retryable || attempt >= 20) {
      throw std::runtime_error(std::string(what) + " failed: " + CodeName(s.error_code()) + " " +
                               s.error_message());
    }
    std::this_thread::sleep_for(milliseconds(50 * attempt));
  }
}

// Calls fn(0..n-1) from `threads` threads; rethrows the first exception.
void ParallelFor(int n, int threads, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::exception_ptr error;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        try {
          fn(i);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!error) error = std::current_exception();
          next = n;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

struct Business {
  std::string id;
  std::string api_key;
};

struct User {
  std::string token;
  std::string business_id;
};

std::vector<Business> CreateBusinesses(const std::shared_ptr<grpc::Channel>& channel,
                                       const std::string& operator_token, const Options& o) {
  auto stub = v1::OperatorService::NewStub(channel);
  std::vector<Business> out(static_cast<size_t>(o.businesses));
  ParallelFor(o.businesses, o.setup_threads, [&](int i) {
    v1::CreateBusinessRequest req;
    req.mutable_profile()->set_display_name("Bench Business " + std::to_string(i));
    v1::CreateBusinessResponse resp;
    CallWithRetry("OperatorService.CreateBusiness", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, operator_token);
      return stub->CreateBusiness(&ctx, req, &resp);
    });
    out[static_cast<size_t>(i)] = {resp.business().business_id(), resp.api_key()};
  });
  return out;
}

// Registers the users; user i starts a chat with business i % businesses, as a user's client
// would: it reads the disclosure first and consents to the version it was shown.
std::vector<User> CreateUsers(const std::shared_ptr<grpc::Channel>& channel,
                              const std::vector<Business>& businesses, const Options& o) {
  auto accounts = v1::AccountService::NewStub(channel);
  auto chats = v1::UserChatService::NewStub(channel);
  std::vector<User> out(static_cast<size_t>(o.users));
  ParallelFor(o.users, o.setup_threads, [&](int i) {
    v1::RegisterUserRequest reg;
    reg.set_display_name("bench user " + std::to_string(i));
    v1::RegisterUserResponse user;
    CallWithRetry("AccountService.RegisterUser", [&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      return accounts->RegisterUser(&ctx, reg, &user);
    });
    const std::string& business = businesses[static_cast<size_t>(i) % businesses.size()].id;
    v1::GetBusinessDisclosureRequest dreq;
    dreq.set_business_id(business);
    v1::GetBusinessDisclosureResponse disclosure;
    CallWithRetry("UserChatService.GetBusinessDisclosure", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, user.token());
      return chats->GetBusinessDisclosure(&ctx, dreq, &disclosure);
    });
    v1::StartChatRequest sreq;
    sreq.set_business_id(business);
    sreq.set_disclosure_version(disclosure.disclosure().version());
    v1::StartChatResponse started;
    CallWithRetry("UserChatService.StartChat", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, user.token());
      return chats->StartChat(&ctx, sreq, &started);
    });
    out[static_cast<size_t>(i)] = {user.token(), business};
  });
  return out;
}

// Ticks every consumer every 200 ms, so that each acknowledges what it has received.
class AckTicker {
 public:
  explicit AckTicker(const std::vector<std::unique_ptr<InboxConsumer>>& consumers)
      : thread_([this, &consumers] {
          while (!stop_) {
            std::this_thread::sleep_for(milliseconds(200));
            for (auto& c : consumers) c->Tick();
          }
        }) {}
  ~AckTicker() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

uint64_t TotalMessages(const std::vector<std::unique_ptr<InboxConsumer>>& consumers) {
  uint64_t n = 0;
  for (const auto& c : consumers) n += c->messages();
  return n;
}

// Waits until the consumers have received, together, at least `expected` user messages (every
// send acknowledged so far; at-least-once delivery may add duplicates). Returns the seconds
// waited, or nullopt after `timeout`.
std::optional<double> WaitForDelivery(const std::vector<std::unique_ptr<InboxConsumer>>& consumers,
                                      uint64_t expected, double timeout) {
  const int64_t start = NowNs();
  const int64_t until = start + static_cast<int64_t>(timeout * 1e9);
  while (TotalMessages(consumers) < expected) {
    if (NowNs() > until) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(5));
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

struct RunResult {
  PhaseResult baseline;
  PhaseResult main;
  LatencySummary delivery;              // of messages sent in the main window
  std::optional<double> drain_seconds;  // after the main phase, until all were delivered
};

// The figures that get a median across runs, in report order.
struct Figure {
  const char* key;
  std::function<double(const RunResult&)> get;
};

std::vector<Figure> Figures() {
  auto ratio = [](const RunResult& r) {
    return r.baseline.ok_per_second > 0 ? r.main.ok_per_second / r.baseline.ok_per_second : 0;
  };
  return {
      {"null_calls_per_second", [](const RunResult& r) { return r.baseline.ok_per_second; }},
      {"null_p50_ms", [](const RunResult& r) { return r.baseline.latency.p50_ms; }},
      {"null_p99_ms", [](const RunResult& r) { return r.baseline.latency.p99_ms; }},
      {"durable_msgs_per_second", [](const RunResult& r) { return r.main.ok_per_second; }},
      {"ack_p50_ms", [](const RunResult& r) { return r.main.latency.p50_ms; }},
      {"ack_p99_ms", [](const RunResult& r) { return r.main.latency.p99_ms; }},
      {"ack_max_ms", [](const RunResult& r) { return r.main.latency.max_ms; }},
      {"durable_to_null_ratio", ratio},
      {"delivery_under_load_p50_ms", [](const RunResult& r) { return r.delivery.p50_ms; }},
      {"delivery_under_load_p99_ms", [](const RunResult& r) { return r.delivery.p99_ms; }},
      {"drain_seconds", [](const RunResult& r) { return r.drain_seconds.value_or(-1); }},
      {"main_cpu_bench_cores", [](const RunResult& r) { return r.main.cpu.bench; }},
      {"main_cpu_bizrelayd_cores", [](const RunResult& r) { return r.main.cpu.server; }},
      {"main_cpu_postgres_cores", [](const RunResult& r) { return r.main.cpu.postgres; }},
      {"main_cpu_machine_busy_cores", [](const RunResult& r) { return r.main.cpu.machine_busy; }},
      {"null_cpu_bench_cores", [](const RunResult& r) { return r.baseline.cpu.bench; }},
      {"null_cpu_bizrelayd_cores", [](const RunResult& r) { return r.baseline.cpu.server; }},
      {"null_cpu_machine_busy_cores",
       [](const RunResult& r) { return r.baseline.cpu.machine_busy; }},
  };
}

json ToJson(const PhaseResult& p) {
  return {{"seconds", p.seconds},         {"ok", p.ok},         {"ok_per_second", p.ok_per_second},
          {"latency", ToJson(p.latency)}, {"errors", p.errors}, {"cpu", ToJson(p.cpu)}};
}

std::string Errors(const std::map<std::string, uint64_t>& errors) {
  if (errors.empty()) return "none";
  std::string s;
  for (const auto& [code, n] : errors)
    s += (s.empty() ? "" : ", ") + code + " " + std::to_string(n);
  return s;
}

std::string CpuLine(const CpuUsage& u) {
  std::string s = Fmt("bench %.2f", u.bench);
  double other = u.machine_busy - u.bench;
  if (u.server >= 0) {
    s += Fmt(", bizrelayd %.2f", u.server);
    other -= u.server;
  }
  if (u.postgres >= 0) {
    s += Fmt(", postgres %.2f", u.postgres);
    other -= u.postgres;
  }
  s += Fmt(", other %.2f, idle %.2f (of %d cores)", std::max(0.0, other),
           std::max(0.0, u.machine_cores - u.machine_busy), u.machine_cores);
  return s;
}

int Run(Options o) {
  if (o.text_bytes < kMinTextBytes) {
    throw std::runtime_error("--text-bytes must be at least " + std::to_string(kMinTextBytes) +
                             " (the send time travels in the text)");
  }
  if (o.users < o.inflight) {
    throw std::runtime_error("--users must be at least --inflight: each slot is one user");
  }
  std::printf(
      "bizrelay-bench: %d in flight over %d channels, %d businesses, %d users, "
      "%zu-byte texts; %g s measured after %g s warm-up, %d run(s)\n",
      o.inflight, o.channels, o.businesses, o.users, o.text_bytes, o.seconds, o.warmup_seconds,
      o.runs);
  int per_channel = (o.inflight + o.channels - 1) / o.channels;
  if (per_channel > kServerStreamsPerConnection) {
    std::printf(
        "warning: %d calls per connection exceed the server's default of %d concurrent "
        "streams; the excess waits in the client (use more --channels)\n",
        per_channel, kServerStreamsPerConnection);
  }

  // The server: our own, or one given.
  std::unique_ptr<ServerProcess> server;
  std::string public_target = o.target;
  std::string operator_target = o.operator_target;
  std::string operator_token;
  pid_t server_pid = o.server_pid;
  pid_t postmaster_pid = o.postgres_pid;
  json server_json;
  if (o.target.empty()) {
    server = std::make_unique<ServerProcess>(o.bizrelayd, o.server_args);
    std::string cmd;
    for (const auto& a : server->argv()) cmd += (cmd.empty() ? "" : " ") + a;
    std::printf("server: %s\n", cmd.c_str());
    std::fflush(stdout);
    server->Start(std::chrono::seconds(120));
    public_target = "127.0.0.1:" + std::to_string(server->public_port());
    operator_target = "127.0.0.1:" + std::to_string(server->operator_port());
    operator_token = server->OperatorToken();
    server_pid = server->pid();
    postmaster_pid = server->PostmasterPid();
    std::printf("server: pid %d, postmaster pid %d, public %s, operator %s\n", server_pid,
                postmaster_pid, public_target.c_str(), operator_target.c_str());
    server_json = {{"mode", "spawned"}, {"argv", server->argv()}};
  } else {
    if (o.operator_target.empty() || o.operator_token_file.empty()) {
      throw std::runtime_error("--target needs --operator-target and --operator-token-file");
    }
    operator_token = ReadTrimmed(o.operator_token_file);
    std::printf("server: external, public %s, operator %s\n", public_target.c_str(),
                operator_target.c_str());
    server_json = {
        {"mode", "external"}, {"target", public_target}, {"operator_target", operator_target}};
  }
  std::fflush(stdout);

  // Setup.
  const int64_t setup_start = NowNs();
  auto operator_channel = MakeChannel(operator_target);
  auto setup_channel = MakeChannel(public_target);
  auto businesses = CreateBusinesses(operator_channel, operator_token, o);
  auto users = CreateUsers(setup_channel, businesses, o);
  std::printf("setup: %d businesses, %d users with one chat each, in %.1f s\n", o.businesses,
              o.users, static_cast<double>(NowNs() - setup_start) / 1e9);

  // The businesses' integrations follow their inboxes for the whole run.
  auto consumer_channel = MakeChannel(public_target);
  auto business_stub = v1::BusinessService::NewStub(consumer_channel);
  std::vector<std::unique_ptr<InboxConsumer>> consumers;
  for (const auto& b : businesses) {
    if (!o.inbox) break;
    consumers.push_back(std::make_unique<InboxConsumer>(business_stub.get(), b.api_key));
    consumers.back()->Start();
  }
  // A stream must end before its reactor is destroyed, however this function exits.
  struct StopStreams {
    std::vector<std::unique_ptr<InboxConsumer>>* consumers;
    ~StopStreams() {
      for (auto& c : *consumers) c->Stop();
    }
  } stop_streams{&consumers};
  AckTicker ticker(consumers);
  {
    // Each StartChat put one notice into its business's inbox: wait for them, so that this
    // backlog does not run into the first phase.
    auto until = NowNs() + static_cast<int64_t>(30e9);
    auto events = [&] {
      uint64_t n = 0;
      for (const auto& c : consumers) n += c->events();
      return n;
    };
    while (o.inbox && events() < static_cast<uint64_t>(o.users) && NowNs() < until) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }

  // The load: slot i is user i, on channel i % channels.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health_stubs;
  std::vector<std::unique_ptr<v1::UserChatService::Stub>> chat_stubs;
  for (int i = 0; i < o.channels; ++i) {
    channels.push_back(MakeChannel(public_target));
    health_stubs.push_back(grpc::health::v1::Health::NewStub(channels.back()));
    chat_stubs.push_back(v1::UserChatService::NewStub(channels.back()));
  }
  auto sender = [&](int i) {
    const User& u = users[static_cast<size_t>(i)];
    return Sender{chat_stubs[static_cast<size_t>(i % o.channels)].get(), u.token, u.business_id};
  };
  // Keys must be unique per user; the random part keeps them unique against a server that
  // is reused between invocations.
  const std::string key_prefix = "bench-" + ToHex(RandomBytes(6));
  OkCounter ok_total{0};

  CpuSampler cpu(server_pid, postmaster_pid);
  const auto warmup = milliseconds(static_cast<int64_t>(o.warmup_seconds * 1000));
  const auto measure = milliseconds(static_cast<int64_t>(o.seconds * 1000));
  std::vector<RunResult> runs;
  for (int run = 1; run <= o.runs; ++run) {
    RunResult r;
    std::vector<std::unique_ptr<CallSlot>> health_slots;
    for (int i = 0; i < o.inflight; ++i) {
      health_slots.push_back(std::make_unique<HealthCheckSlot>(
          health_stubs[static_cast<size_t>(i % o.channels)].get()));
    }
    r.baseline = RunClosedLoop(health_slots, warmup, measure, &cpu);
    std::printf(
        "run %d: null call (Health/Check)   %9.0f calls/s  p50 %6.2f ms  p99 %6.2f ms  "
        "errors: %s\n",
        run, r.baseline.ok_per_second, r.baseline.latency.p50_ms, r.baseline.latency.p99_ms,
        Errors(r.baseline.errors).c_str());
    std::printf("        cpu: %s\n", CpuLine(r.baseline.cpu).c_str());
    std::fflush(stdout);

    std::vector<std::unique_ptr<CallSlot>> send_slots;
    for (int i = 0; i < o.inflight; ++i) {
      send_slots.push_back(std::make_unique<SendMessageSlot>(
          sender(i), key_prefix + "-r" + std::to_string(run), o.text_bytes, &ok_total));
    }
    r.main = RunClosedLoop(send_slots, warmup, measure, &cpu);
    if (o.inbox) {
      r.drain_seconds = WaitForDelivery(consumers, ok_total.load(), o.drain_timeout_seconds);
      r.delivery = DeliveryLatency(consumers, r.main.window_start_ns, r.main.window_end_ns);
    }
    std::printf(
        "run %d: durable send (SendMessage) %9.0f msgs/s   p50 %6.2f ms  p99 %6.2f ms  "
        "max %7.2f ms  errors: %s\n",
        run, r.main.ok_per_second, r.main.latency.p50_ms, r.main.latency.p99_ms,
        r.main.latency.max_ms, Errors(r.main.errors).c_str());
    std::printf("        cpu: %s\n", CpuLine(r.main.cpu).c_str());
    if (o.inbox) {
      std::printf(
          "        delivery to inbox streams under this load: p50 %.2f ms  p99 %.2f ms  "
          "(%zu msgs); backlog drained %s\n",
          r.delivery.p50_ms, r.delivery.p99_ms, r.delivery.count,
          r.drain_seconds ? Fmt("%.2f s after the phase", *r.drain_seconds).c_str()
                          : "NOT within the timeout");
    }
    std::fflush(stdout);
    runs.push_back(std::move(r));
  }

  // Delivery latency at a fixed, moderate rate: the figure a business integration sees in
  // normal operation, without the queueing of a saturated server.
  std::optional<PacedResult> paced;
  LatencySummary paced_delivery;
  std::optional<double> paced_drain;
  if (o.e2e_seconds > 0 && o.e2e_rate > 0) {
    std::vector<Sender> senders;
    for (int i = 0; i < o.users; ++i) senders.push_back(sender(i));
    paced = RunPaced(senders, o.e2e_rate, milliseconds(1000),
                     milliseconds(static_cast<int64_t>(o.e2e_seconds * 1000)),
                     key_prefix + "-paced", o.text_bytes, &ok_total);
    if (o.inbox) {
      paced_drain = WaitForDelivery(consumers, ok_total.load(), o.drain_timeout_seconds);
      paced_delivery = DeliveryLatency(consumers, paced->window_start_ns, paced->window_end_ns);
    }
  }

  ticker.Stop();
  std::vector<std::string> stream_problems;
  uint64_t ack_errors = 0;
  for (size_t i = 0; i < consumers.size(); ++i) {
    if (auto ended = consumers[i]->ended()) {
      stream_problems.push_back("business " + std::to_string(i) + " inbox stream ended early: " +
                                CodeName(ended->error_code()) + " " + ended->error_message());
    }
    consumers[i]->Stop();
    ack_errors += consumers[i]->ack_errors();
  }

  // Report.
  std::map<std::string, double> median;
  for (const auto& f : Figures()) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(f.get(r));
    median[f.key] = Median(v);
  }
  std::printf("\n=== bizrelay-bench report (median of %d run(s), %g s each) ===\n", o.runs,
              o.seconds);
  std::printf(
      "null call   grpc.health.v1.Health/Check   %9.0f calls/s   p50 %6.2f ms  "
      "p99 %6.2f ms\n",
      median["null_calls_per_second"], median["null_p50_ms"], median["null_p99_ms"]);
  std::printf(
      "durable     UserChatService.SendMessage   %9.0f msgs/s    p50 %6.2f ms  "
      "p99 %6.2f ms  max %.2f ms\n",
      median["durable_msgs_per_second"], median["ack_p50_ms"], median["ack_p99_ms"],
      median["ack_max_ms"]);
  std::printf("ratio       durable msgs/s / null calls/s = %.3f\n",
              median["durable_to_null_ratio"]);
  if (o.inbox) {
    std::printf(
        "delivery    user -> business inbox stream, during the closed-loop load: "
        "p50 %.2f ms  p99 %.2f ms\n",
        median["delivery_under_load_p50_ms"], median["delivery_under_load_p99_ms"]);
  } else {
    std::printf("delivery    not measured (--no-inbox: no business follows its inbox)\n");
  }
  if (paced && o.inbox) {
    std::printf(
        "delivery    user -> business inbox stream, open loop at %g msgs/s for %g s: "
        "p50 %.2f ms  p99 %.2f ms  max %.2f ms (%zu msgs; acks p50 %.2f ms "
        "p99 %.2f ms; errors: %s%s)\n",
        o.e2e_rate, o.e2e_seconds, paced_delivery.p50_ms, paced_delivery.p99_ms,
        paced_delivery.max_ms, paced_delivery.count, paced->latency.p50_ms, paced->latency.p99_ms,
        Errors(paced->errors).c_str(), paced_drain ? "" : "; NOT all delivered within the timeout");
  } else if (paced) {
    std::printf(
        "acks        open loop at %g msgs/s for %g s: p50 %.2f ms  p99 %.2f ms  (%llu OK; "
        "errors: %s)\n",
        o.e2e_rate, o.e2e_seconds, paced->latency.p50_ms, paced->latency.p99_ms,
        static_cast<unsigned long long>(paced->ok), Errors(paced->errors).c_str());
  }
  std::printf("cpu (main)  %s\n",
              CpuLine(CpuUsage{.wall_seconds = o.seconds,
                               .machine_cores = runs.front().main.cpu.machine_cores,
                               .machine_busy = median["main_cpu_machine_busy_cores"],
                               .bench = median["main_cpu_bench_cores"],
                               .server = median["main_cpu_bizrelayd_cores"],
                               .postgres = median["main_cpu_postgres_cores"]})
                  .c_str());
  for (const auto& p : stream_problems) std::printf("warning: %s\n", p.c_str());
  if (ack_errors > 0)
    std::printf("warning: %llu inbox acknowledgements failed\n",
                static_cast<unsigned long long>(ack_errors));
  const bool throughput_met = median["durable_msgs_per_second"] >= kTargetMsgsPerSecond;
  const bool p99_met = median["ack_p99_ms"] < kTargetAckP99Ms;
  std::printf(
      "targets     >= %.0f durable msgs/s: %s (%.0f);  p99 ack < %.0f ms: %s (%.2f ms)  "
      "[targets are for %d in flight; this run: %d]\n",
      kTargetMsgsPerSecond, throughput_met ? "met" : "MISSED", median["durable_msgs_per_second"],
      kTargetAckP99Ms, p99_met ? "met" : "MISSED", median["ack_p99_ms"], kTargetInflight,
      o.inflight);

  if (!o.json_path.empty()) {
    json out;
    out["config"] = {{"seconds", o.seconds},   {"warmup_seconds", o.warmup_seconds},
                     {"runs", o.runs},         {"inflight", o.inflight},
                     {"channels", o.channels}, {"businesses", o.businesses},
                     {"users", o.users},       {"text_bytes", o.text_bytes},
                     {"e2e_rate", o.e2e_rate}, {"e2e_seconds", o.e2e_seconds},
                     {"inbox", o.inbox}};
    out["server"] = server_json;
    out["host"] = {{"cpus", sysconf(_SC_NPROCESSORS_ONLN)}};
    out["runs"] = json::array();
    for (const auto& r : runs) {
      out["runs"].push_back(
          {{"null_call", ToJson(r.baseline)},
           {"durable_send", ToJson(r.main)},
           {"delivery_under_load", ToJson(r.delivery)},
           {"drain_seconds", r.drain_seconds ? json(*r.drain_seconds) : json(nullptr)}});
    }
    out["median"] = median;
    if (paced) {
      out["delivery_paced"] = {{"rate", paced->rate},
                               {"sent", paced->sent},
                               {"ok", paced->ok},
                               {"max_behind_schedule_ms", paced->max_behind_ms},
                               {"ack_latency", ToJson(paced->latency)},
                               {"errors", paced->errors},
                               {"delivery_latency", ToJson(paced_delivery)},
                               {"all_delivered", paced_drain.has_value()}};
    }
    out["targets"] = {{"durable_msgs_per_second", kTargetMsgsPerSecond},
                      {"ack_p99_ms", kTargetAckP99Ms},
                      {"inflight", kTargetInflight},
                      {"throughput_met", throughput_met},
                      {"ack_p99_met", p99_met}};
    out["warnings"] = stream_problems;
    std::ofstream(o.json_path) << out.dump(2) << "\n";
    std::printf("json: %s\n", o.json_path.c_str());
  }

  if (server) {
    int code = server->Stop();
    if (code != 0) std::printf("warning: bizrelayd exited with status %d\n", code);
  }
  return 0;
}

}  // namespace
}  // namespace bizrelay::bench

int main(int argc, char** argv) {
  bizrelay::bench::Options o;
  CLI::App app{
      "bizrelay-bench: durable messages per second through bizrelayd (UserChatService."
      "SendMessage, closed loop) against a null gRPC call (Health/Check) on the same "
      "connections, and user-to-business delivery latency on the inbox streams. By default "
      "starts its own bizrelayd with an embedded PostgreSQL under /tmp."};
  app.add_option("--seconds", o.seconds, "Measured seconds per phase")->capture_default_str();
  app.add_option("--warmup-seconds", o.warmup_seconds, "Unmeasured seconds before each phase")
      ->capture_default_str();
  app.add_option("--runs", o.runs, "Baseline + main phases to run; the report shows medians")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--inflight", o.inflight, "Calls in flight (closed loop), one user each")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--businesses", o.businesses, "Businesses to create")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* users = app.add_option("--users", o.users,
                               "Users to register (at least --inflight; raised to it if not set)")
                    ->capture_default_str()
                    ->check(CLI::PositiveNumber);
  app.add_option("--channels", o.channels, "gRPC channels (TCP connections) the load uses")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--text-bytes", o.text_bytes, "Characters per message text")
      ->capture_default_str();
  app.add_option("--e2e-rate", o.e2e_rate,
                 "Messages per second of the open-loop delivery-latency phase")
      ->capture_default_str();
  app.add_option("--e2e-seconds", o.e2e_seconds,
                 "Measured seconds of the delivery-latency phase (0 skips it)")
      ->capture_default_str();
  app.add_option("--drain-timeout-seconds", o.drain_timeout_seconds,
                 "How long to wait for the inbox streams to catch up after a phase")
      ->capture_default_str();
  app.add_option("--json", o.json_path, "Also write the figures to this file as JSON");
  app.add_option("--bizrelayd", o.bizrelayd, "The bizrelayd binary to start")
      ->capture_default_str();
  app.add_option("--server-arg", o.server_args,
                 "Extra argument for the started bizrelayd (repeatable; e.g. "
                 "--server-arg=--hosting-writer-threads --server-arg=4)")
      ->allow_extra_args(false);
  auto* target =
      app.add_option("--target", o.target, "Use a running bizrelayd's public API (host:port)");
  app.add_option("--operator-target", o.operator_target, "Its operator API (host:port)")
      ->needs(target);
  app.add_option("--operator-token-file", o.operator_token_file, "File with its operator token")
      ->needs(target);
  app.add_option("--server-pid", o.server_pid,
                 "With --target: bizrelayd's pid, to report its CPU use");
  app.add_option("--postgres-pid", o.postgres_pid,
                 "With --target: the postmaster's pid, to report PostgreSQL's CPU use");
  bool no_inbox = false;
  app.add_flag("--no-inbox", no_inbox,
               "Open no inbox streams: measures sending alone, without the load of delivering "
               "and acknowledging (no delivery latency then)");
  CLI11_PARSE(app, argc, argv);
  o.inbox = !no_inbox;
  if (users->count() == 0 && o.users < o.inflight) o.users = o.inflight;
  try {
    return bizrelay::bench::Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bizrelay-bench: %s\n", e.what());
    return 1;
  }
}

// bizrelay-bench: measures how many durable user-to-business messages per second one bizrelayd
// stores (UserChatService.SendMessage, acknowledged only after commit), against a null gRPC
// call on the same connections, and how long a message takes to reach the business's inbox
// stream; plus retention deletion speed (sweep), the cost of encryption at rest (crypto), anonymous
// sealed sends (personal) and 10,000 open mailbox streams (mailboxes), each selectable with
// --phases. Everything goes over real gRPC on loopback; see bench/README.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
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

#include "bench/crypto_cost.h"
#include "bench/inbox_consumer.h"
#include "bench/ingest.h"
#include "bench/load.h"
#include "bench/metrics_cost.h"
#include "bench/personal.h"
#include "bench/server_process.h"
#include "bench/setup.h"
#include "bench/stats.h"
#include "bench/sweep.h"
#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/platform/token.h"
#include "services/rpc/process.h"

namespace bizrelay::bench {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// What the project aims for on one node (printed for comparison, not asserted).
constexpr double kTargetMsgsPerSecond = 10000;
constexpr double kTargetAckP99Ms = 25;
constexpr int kTargetInflight = 256;
constexpr double kTargetSealedPerSecond = 8000;
constexpr double kTargetSealedP99Ms = 25;
constexpr double kTargetSweeperRatio = 0.5;
// A sealed envelope's size for a text of n bytes: the sealed box's overhead (version, ephemeral
// key, sender key and signature, tag: services/crypto/sealed_box.h).
constexpr size_t kSealedOverheadBytes = 145;

const std::vector<std::string> kAllPhases = {"send", "sweep", "crypto", "personal", "mailboxes"};
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
  std::string personal_target;
  std::vector<std::string> phases = kAllPhases;
  bool Has(const std::string& phase) const {
    return std::find(phases.begin(), phases.end(), phase) != phases.end();
  }
  // sweep
  int sweep_rows = 100000;
  int sweep_batch = 2000;
  int sweep_interval_ms = 100;
  // personal
  int personal_users = 32;
  int personal_mailboxes = 1000;
  int personal_stream_mailboxes = 8;
  // mailboxes
  int mailboxes = 10000;
  int mailbox_streams_per_channel = 100;
};

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

  CpuSampler cpu(server_pid, postmaster_pid);
  const auto warmup = milliseconds(static_cast<int64_t>(o.warmup_seconds * 1000));
  const auto measure = milliseconds(static_cast<int64_t>(o.seconds * 1000));
  std::vector<RunResult> runs;
  std::optional<PacedResult> paced;
  LatencySummary paced_delivery;
  std::optional<double> paced_drain;
  std::vector<std::string> stream_problems;
  uint64_t ack_errors = 0;
  if (o.Has("send")) {
    // Setup.
    const int64_t setup_start = NowNs();
    auto operator_channel = MakeChannel(operator_target);
    auto setup_channel = MakeChannel(public_target);
    auto businesses =
        CreateBusinesses(operator_channel, operator_token, o.businesses, o.setup_threads);
    auto users = CreateUsers(setup_channel, businesses, o.users, o.setup_threads);
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
    for (size_t i = 0; i < consumers.size(); ++i) {
      if (auto ended = consumers[i]->ended()) {
        stream_problems.push_back("business " + std::to_string(i) + " inbox stream ended early: " +
                                  CodeName(ended->error_code()) + " " + ended->error_message());
      }
      consumers[i]->Stop();
      ack_errors += consumers[i]->ack_errors();
    }
  }  // send

  // The cost of encryption at rest, in process.
  std::optional<SealCost> seal;
  std::optional<IngestResult> ingest;
  if (o.Has("crypto")) {
    seal = MeasureSealCost(o.text_bytes);
    IngestOptions io;
    io.bizrelayd = o.bizrelayd;
    io.server_args = o.server_args;
    io.businesses = o.businesses;
    io.users = o.users;
    io.text_bytes = o.text_bytes;
    io.warmup_seconds = o.warmup_seconds;
    io.seconds = o.seconds;
    io.runs = std::max(3, o.runs);
    ingest = RunIngestPhase(io);
  }

  // The personal path and the many-mailboxes figure share users and tokens.
  std::optional<PersonalResult> personal;
  std::optional<MailboxesResult> mailboxes;
  if (o.Has("personal") || o.Has("mailboxes")) {
    std::string personal_target = o.personal_target;
    if (server) {
      if (server->personal_port() == 0) {
        throw std::runtime_error("the server serves no personal port (role personal is off)");
      }
      personal_target = "127.0.0.1:" + std::to_string(server->personal_port());
    } else if (personal_target.empty()) {
      throw std::runtime_error("phases personal and mailboxes need --personal-target");
    }
    PersonalContext pc;
    pc.personal_target = personal_target;
    pc.setup_threads = o.setup_threads;
    pc.setup_channel = MakeChannel(personal_target);
    pc.setup_stub = v1::PersonalRelayService::NewStub(pc.setup_channel);
    auto public_channel = MakeChannel(public_target);
    pc.issuer = std::make_unique<TokenIssuer>(
        public_channel,
        RegisterUsers(public_channel, o.personal_users, o.setup_threads, "bench personal user"),
        o.setup_threads);
    if (o.Has("personal")) {
      PersonalOptions po;
      po.users = o.personal_users;
      po.mailboxes = o.personal_mailboxes;
      po.inflight = o.inflight;
      po.channels = o.channels;
      po.ciphertext_bytes = o.text_bytes + kSealedOverheadBytes;
      po.warmup_seconds = o.warmup_seconds;
      po.seconds = o.seconds;
      po.runs = o.runs;
      // Sized from the durable send rate when known: sealed sends cost about as much.
      if (!runs.empty()) {
        std::vector<double> v;
        for (const auto& r : runs) v.push_back(r.main.ok_per_second);
        po.rate_estimate = std::max(po.rate_estimate, Median(v));
      }
      po.e2e_rate = o.e2e_rate;
      po.e2e_seconds = o.e2e_seconds;
      po.stream_mailboxes = o.personal_stream_mailboxes;
      po.drain_timeout_seconds = o.drain_timeout_seconds;
      personal = RunPersonalPhase(&pc, po, &cpu);
    }
    if (o.Has("mailboxes")) {
      MailboxesOptions mo;
      mo.mailboxes = o.mailboxes;
      mo.streams_per_channel = o.mailbox_streams_per_channel;
      mailboxes = RunMailboxesPhase(&pc, mo, server_pid, postmaster_pid);
    }
  }

  // Retention: two servers of the phase's own.
  std::optional<SweepResult> sweep;
  if (o.Has("sweep")) {
    SweepOptions so;
    so.bizrelayd = o.bizrelayd;
    so.server_args = o.server_args;
    so.rows = o.sweep_rows;
    so.batch = o.sweep_batch;
    so.interval_ms = o.sweep_interval_ms;
    so.businesses = o.businesses;
    so.users = o.users;
    so.inflight = o.inflight;
    so.channels = o.channels;
    so.text_bytes = o.text_bytes;
    so.warmup_seconds = o.warmup_seconds;
    so.seconds = o.seconds;
    so.runs = o.runs;
    so.setup_threads = o.setup_threads;
    sweep = RunSweepPhase(so);
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
  bool throughput_met = false, p99_met = false;
  if (!runs.empty()) {
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
          Errors(paced->errors).c_str(),
          paced_drain ? "" : "; NOT all delivered within the timeout");
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
    throughput_met = median["durable_msgs_per_second"] >= kTargetMsgsPerSecond;
    p99_met = median["ack_p99_ms"] < kTargetAckP99Ms;
    std::printf(
        "targets     >= %.0f durable msgs/s: %s (%.0f);  p99 ack < %.0f ms: %s (%.2f ms)  "
        "[targets are for %d in flight; this run: %d]\n",
        kTargetMsgsPerSecond, throughput_met ? "met" : "MISSED", median["durable_msgs_per_second"],
        kTargetAckP99Ms, p99_met ? "met" : "MISSED", median["ack_p99_ms"], kTargetInflight,
        o.inflight);
  }  // send

  // Encryption at rest: in-process sealing time against the per-message ingest time.
  double seal_share_wall = -1, seal_share_cpu = -1;
  if (seal) {
    std::printf(
        "crypto      AES-256-GCM seal of a %zu-byte body (KeyRing::SealBody, 32-byte key, "
        "in process): %.0f ns median (of %d batches of %d)\n",
        seal->body_bytes, seal->ns_per_seal, seal->batches, seal->per_batch);
    if (!runs.empty() && median["durable_msgs_per_second"] > 0) {
      const double wall_ns = 1e9 / median["durable_msgs_per_second"];
      seal_share_wall = seal->ns_per_seal / wall_ns;
      std::printf(
          "            ingest takes %.0f ns of wall time per message (1 / %.0f msgs/s): "
          "sealing is %.2f%% of it\n",
          wall_ns, median["durable_msgs_per_second"], 100 * seal_share_wall);
      if (median["main_cpu_bizrelayd_cores"] > 0) {
        const double cpu_ns =
            1e9 * median["main_cpu_bizrelayd_cores"] / median["durable_msgs_per_second"];
        seal_share_cpu = seal->ns_per_seal / cpu_ns;
        std::printf(
            "            bizrelayd spends %.0f ns of CPU per message: sealing is %.2f%% "
            "of it\n",
            cpu_ns, 100 * seal_share_cpu);
      }
    } else {
      std::printf("            (no send phase in this run: no ingest time to compare with)\n");
    }
  }
  if (ingest) {
    std::printf(
        "crypto      ingest through the write path in process (PostUserMessages, %d writers, "
        "batches of %d, median of %zu alternating runs): sealed %.0f msgs/s, unsealed %.0f "
        "msgs/s; ratio %.3f (%.1f%% lower)  target under 10%% lower: %s\n",
        IngestOptions{}.writers, IngestOptions{}.batch, ingest->sealed.size(),
        ingest->sealed_median, ingest->unsealed_median, ingest->ratio, 100 * (1 - ingest->ratio),
        ingest->ratio > 0.9 ? "met" : "MISSED");
  }

  if (personal) {
    auto& m = personal->median;
    std::printf(
        "null call   personal port Health/Check    %9.0f calls/s   p50 %6.2f ms  p99 %6.2f ms\n",
        m["null_calls_per_second"], m["null_p50_ms"], m["null_p99_ms"]);
    std::printf(
        "sealed      PersonalRelayService.SendSealed %7.0f sends/s   p50 %6.2f ms  p99 %6.2f ms  "
        "max %.2f ms  (%d mailboxes, %zu-byte ciphertexts, a fresh token each)\n",
        m["sealed_sends_per_second"], m["sealed_p50_ms"], m["sealed_p99_ms"], m["sealed_max_ms"],
        personal->mailboxes, o.text_bytes + kSealedOverheadBytes);
    std::printf("ratio       sealed sends/s / null calls/s = %.3f\n", m["sealed_to_null_ratio"]);
    const double per_send_ns =
        m["sealed_sends_per_second"] > 0 ? 1e9 / m["sealed_sends_per_second"] : 0;
    std::printf(
        "token check BlindRsaPublicKey::Verify in process: %.1f us median; per send "
        "%.1f us of wall time (1 / sends/s): %.1f%%\n",
        personal->verify_ns / 1e3, per_send_ns / 1e3,
        per_send_ns > 0 ? 100 * personal->verify_ns / per_send_ns : 0.0);
    std::printf("tokens      %llu issued in %.1f s (%.0f tokens/s, 100 per IssueSendTokens)\n",
                static_cast<unsigned long long>(personal->tokens_issued),
                personal->token_issue_seconds,
                personal->token_issue_seconds > 0
                    ? static_cast<double>(personal->tokens_issued) / personal->token_issue_seconds
                    : 0.0);
    if (personal->paced) {
      std::printf(
          "delivery    SendSealed -> StreamMailbox reader, open loop at %g sends/s to %d "
          "streamed mailboxes for %g s: p50 %.2f ms  p99 %.2f ms  max %.2f ms (%zu envelopes; "
          "acks p50 %.2f ms p99 %.2f ms; errors: %s%s)\n",
          o.e2e_rate, std::min(o.personal_stream_mailboxes, o.personal_mailboxes), o.e2e_seconds,
          personal->paced_delivery.p50_ms, personal->paced_delivery.p99_ms,
          personal->paced_delivery.max_ms, personal->paced_delivery.count,
          personal->paced->latency.p50_ms, personal->paced->latency.p99_ms,
          Errors(personal->paced->errors).c_str(),
          personal->paced_all_delivered ? "" : "; NOT all delivered within the timeout");
    }
    std::printf("cpu (sealed) %s\n",
                CpuLine(CpuUsage{.wall_seconds = o.seconds,
                                 .machine_cores = personal->runs.front().main.cpu.machine_cores,
                                 .machine_busy = m["cpu_machine_busy_cores"],
                                 .bench = m["cpu_bench_cores"],
                                 .server = m["cpu_bizrelayd_cores"],
                                 .postgres = m["cpu_postgres_cores"]})
                    .c_str());
    std::printf(
        "targets     >= %.0f sealed sends/s: %s (%.0f);  p99 < %.0f ms: %s (%.2f ms)  "
        "[for %d in flight; this run: %d]\n",
        kTargetSealedPerSecond,
        m["sealed_sends_per_second"] >= kTargetSealedPerSecond ? "met" : "MISSED",
        m["sealed_sends_per_second"], kTargetSealedP99Ms,
        m["sealed_p99_ms"] < kTargetSealedP99Ms ? "met" : "MISSED", m["sealed_p99_ms"],
        kTargetInflight, o.inflight);
    for (const auto& w : personal->warnings) std::printf("warning: %s\n", w.c_str());
  }

  if (mailboxes) {
    auto mem = [](const MemoryUsage& u) {
      return Fmt(
          "bizrelayd RSS %.1f MiB; PostgreSQL %d processes, RSS sum %.1f MiB, PSS sum "
          "%.1f MiB",
          u.server_rss_mib, u.postgres_processes, u.postgres_rss_mib, u.postgres_pss_mib);
    };
    std::printf(
        "mailboxes   %d of %d recipients streaming at once over %d connections "
        "(opened in %.1f s)\n",
        mailboxes->streams_open, mailboxes->mailboxes, mailboxes->channels,
        mailboxes->open_seconds);
    std::printf("            before:      %s\n", mem(mailboxes->before).c_str());
    std::printf("            streams open: %s\n", mem(mailboxes->open).c_str());
    std::printf("            closed again: %s\n", mem(mailboxes->after).c_str());
    if (mailboxes->before.server_rss_mib >= 0 && mailboxes->streams_open > 0) {
      std::printf("            bizrelayd: %+.1f MiB with the streams open (%.1f KiB per stream)\n",
                  mailboxes->open.server_rss_mib - mailboxes->before.server_rss_mib,
                  1024 * (mailboxes->open.server_rss_mib - mailboxes->before.server_rss_mib) /
                      mailboxes->streams_open);
    }
    std::printf("            a message sent to one of them: %s\n",
                mailboxes->probe_delivered
                    ? Fmt("delivered on its stream in %.2f ms", mailboxes->probe_latency_ms).c_str()
                    : "NOT delivered");
    for (const auto& w : mailboxes->warnings) std::printf("warning: %s\n", w.c_str());
  }

  if (sweep) {
    std::printf(
        "sweep (a)   deleting >= %d expired messages per set: Sweeper::SweepOnce (batch %d) %.0f "
        "rows/s (%lld rows, %.3f s); plain DELETE %.0f rows/s (%lld rows, %.3f s)\n",
        o.sweep_rows, o.sweep_batch, sweep->sweeper_rows_per_second,
        static_cast<long long>(sweep->sweeper_rows), sweep->sweeper_seconds,
        sweep->delete_rows_per_second, static_cast<long long>(sweep->delete_rows),
        sweep->delete_seconds);
    std::printf("            ratio sweeper / plain DELETE = %.3f  target >= %.1f: %s\n",
                sweep->ratio, kTargetSweeperRatio,
                sweep->ratio >= kTargetSweeperRatio ? "met" : "MISSED");
    std::printf(
        "sweep (b)   ingest (SendMessage, 1 s lifetimes, median of %d): without sweeper "
        "%.0f msgs/s, with sweeper every %d ms %.0f msgs/s; ratio %.3f (rows left with "
        "the sweeper: %lld, of them expired: %lld; expired rows left without it: %lld)\n",
        o.runs, sweep->without_median, o.sweep_interval_ms, sweep->with_median, sweep->ingest_ratio,
        static_cast<long long>(sweep->with_rows_left),
        static_cast<long long>(sweep->with_expired_left),
        static_cast<long long>(sweep->without_expired_left));
    for (const auto& w : sweep->warnings) std::printf("warning: %s\n", w.c_str());
  }

  if (!o.json_path.empty()) {
    json out;
    out["phases"] = o.phases;
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
    if (seal) {
      out["crypto"] = {{"body_bytes", seal->body_bytes},
                       {"seal_ns_median", seal->ns_per_seal},
                       {"batches", seal->batches},
                       {"per_batch", seal->per_batch},
                       {"share_of_ingest_wall_time", seal_share_wall},
                       {"share_of_bizrelayd_cpu_per_message", seal_share_cpu}};
      if (ingest) out["crypto"]["ingest"] = ToJson(*ingest);
    }
    if (personal) {
      out["personal"] = ToJson(*personal);
      out["personal"]["targets"] = {{"sealed_sends_per_second", kTargetSealedPerSecond},
                                    {"sealed_p99_ms", kTargetSealedP99Ms}};
    }
    if (mailboxes) out["mailboxes"] = ToJson(*mailboxes);
    if (sweep) out["sweep"] = ToJson(*sweep);
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
  bizrelay::rpc::SetUpGrpcProcess();
  bizrelay::bench::Options o;
  CLI::App app{
      "bizrelay-bench: durable messages per second through bizrelayd (UserChatService."
      "SendMessage, closed loop) against a null gRPC call (Health/Check) on the same "
      "connections, and user-to-business delivery latency on the inbox streams; retention "
      "sweeping, encryption-at-rest cost, sealed sends and many open mailbox streams (--phases). "
      "By default "
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
  std::string phases;
  app.add_option("--phases", phases,
                 "Comma-separated phases to run: send, sweep, crypto, personal, mailboxes "
                 "(default: all)");
  app.add_option("--personal-target", o.personal_target,
                 "With --target: the running server's personal relay (host:port)")
      ->needs(target);
  app.add_option("--sweep-rows", o.sweep_rows, "sweep: expired messages per deletion set")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--sweep-batch", o.sweep_batch, "sweep: rows per sweeper transaction")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--sweep-interval-ms", o.sweep_interval_ms,
                 "sweep: interval of the sweeper running beside ingest")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--personal-users", o.personal_users, "personal: users that get send tokens")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--personal-mailboxes", o.personal_mailboxes,
                 "personal: mailboxes the sealed sends go to")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--personal-stream-mailboxes", o.personal_stream_mailboxes,
                 "personal: mailboxes streamed for the delivery latency")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--mailboxes", o.mailboxes, "mailboxes: recipients streaming at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--mailbox-streams-per-channel", o.mailbox_streams_per_channel,
                 "mailboxes: streams per connection (the server allows "
                 "--limits-max-concurrent-streams, 100 by default)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  bool metrics_cost = false;
  app.add_flag("--metrics-cost", metrics_cost,
               "Instead of the phases: hosted sends against a server with metrics on and one "
               "with them off, alternating, --runs pairs (see metrics_cost.h)");
  bool no_inbox = false;
  app.add_flag("--no-inbox", no_inbox,
               "Open no inbox streams: measures sending alone, without the load of delivering "
               "and acknowledging (no delivery latency then)");
  CLI11_PARSE(app, argc, argv);
  o.inbox = !no_inbox;
  if (!phases.empty()) {
    o.phases.clear();
    std::stringstream ss(phases);
    for (std::string p; std::getline(ss, p, ',');) {
      if (std::find(bizrelay::bench::kAllPhases.begin(), bizrelay::bench::kAllPhases.end(), p) ==
          bizrelay::bench::kAllPhases.end()) {
        std::fprintf(stderr, "bizrelay-bench: unknown phase '%s'\n", p.c_str());
        return 2;
      }
      o.phases.push_back(p);
    }
  }
  if (users->count() == 0 && o.users < o.inflight) o.users = o.inflight;
  try {
    if (metrics_cost) {
      auto r = bizrelay::bench::RunMetricsCost(
          {.bizrelayd = o.bizrelayd,
           .server_args = o.server_args,
           .businesses = o.businesses,
           .users = o.users,
           .inflight = o.inflight,
           .channels = o.channels,
           .runs = o.runs,
           .text_bytes = o.text_bytes,
           .warmup = std::chrono::milliseconds(static_cast<int64_t>(o.warmup_seconds * 1000)),
           .measure = std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000))});
      return r.on.empty() ? 1 : 0;
    }
    return bizrelay::bench::Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bizrelay-bench: %s\n", e.what());
    return 1;
  }
}

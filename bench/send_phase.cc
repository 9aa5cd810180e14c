#include "bench/send_phase.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>

#include "bench/inbox_consumer.h"
#include "bench/report.h"
#include "bench/setup.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

using std::chrono::milliseconds;

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

}  // namespace

SendPhaseResult RunSendPhase(const Options& o, const std::string& public_target,
                             const std::string& operator_target, const std::string& operator_token,
                             CpuSampler* cpu) {
  SendPhaseResult result;
  auto& runs = result.runs;
  auto& paced = result.paced;
  auto& paced_delivery = result.paced_delivery;
  auto& paced_drain = result.paced_drain;
  auto& stream_problems = result.stream_problems;
  auto& ack_errors = result.ack_errors;
  const auto warmup = milliseconds(static_cast<int64_t>(o.warmup_seconds * 1000));
  const auto measure = milliseconds(static_cast<int64_t>(o.seconds * 1000));
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
    r.baseline = RunNullCalls(health_stubs, o.inflight, warmup, measure, cpu);
    std::printf(
        "run %d: null call (Health/Check)   %9.0f calls/s  p50 %6.2f ms  p99 %6.2f ms  "
        "errors: %s\n",
        run, r.baseline.ok_per_second, r.baseline.latency.p50_ms, r.baseline.latency.p99_ms,
        ErrorCounts(r.baseline.errors).c_str());
    std::printf("        cpu: %s\n", CpuLine(r.baseline.cpu).c_str());
    std::fflush(stdout);

    std::vector<std::unique_ptr<CallSlot>> send_slots;
    for (int i = 0; i < o.inflight; ++i) {
      send_slots.push_back(std::make_unique<SendMessageSlot>(
          sender(i), key_prefix + "-r" + std::to_string(run), o.text_bytes, &ok_total));
    }
    r.main = RunClosedLoop(send_slots, warmup, measure, cpu);
    if (o.inbox) {
      r.drain_seconds = WaitForDelivery(consumers, ok_total.load(), o.drain_timeout_seconds);
      r.delivery = DeliveryLatency(consumers, r.main.window_start_ns, r.main.window_end_ns);
    }
    std::printf(
        "run %d: durable send (SendMessage) %9.0f msgs/s   p50 %6.2f ms  p99 %6.2f ms  "
        "max %7.2f ms  errors: %s\n",
        run, r.main.ok_per_second, r.main.latency.p50_ms, r.main.latency.p99_ms,
        r.main.latency.max_ms, ErrorCounts(r.main.errors).c_str());
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
  return result;
}

void ReportSendPhase(const Options& o, SendPhaseResult* send) {
  const auto& runs = send->runs;
  const auto& paced = send->paced;
  const auto& paced_delivery = send->paced_delivery;
  const auto& paced_drain = send->paced_drain;
  auto& median = send->median;
  bool& throughput_met = send->throughput_met;
  bool& p99_met = send->p99_met;
  const auto& stream_problems = send->stream_problems;
  const uint64_t ack_errors = send->ack_errors;
  for (const auto& f : Figures()) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(f.get(r));
    median[f.key] = Median(v);
  }
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
          ErrorCounts(paced->errors).c_str(),
          paced_drain ? "" : "; NOT all delivered within the timeout");
    } else if (paced) {
      std::printf(
          "acks        open loop at %g msgs/s for %g s: p50 %.2f ms  p99 %.2f ms  (%llu OK; "
          "errors: %s)\n",
          o.e2e_rate, o.e2e_seconds, paced->latency.p50_ms, paced->latency.p99_ms,
          static_cast<unsigned long long>(paced->ok), ErrorCounts(paced->errors).c_str());
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
    if (ack_errors > 0) {
      std::printf("warning: %llu inbox acknowledgements failed\n",
                  static_cast<unsigned long long>(ack_errors));
    }
    throughput_met = median["durable_msgs_per_second"] >= kTargetMsgsPerSecond;
    p99_met = median["ack_p99_ms"] < kTargetAckP99Ms;
    std::printf(
        "targets     >= %.0f durable msgs/s: %s (%.0f);  p99 ack < %.0f ms: %s (%.2f ms)  "
        "[targets are for %d in flight; this run: %d]\n",
        kTargetMsgsPerSecond, throughput_met ? "met" : "MISSED", median["durable_msgs_per_second"],
        kTargetAckP99Ms, p99_met ? "met" : "MISSED", median["ack_p99_ms"], kTargetInflight,
        o.inflight);
  }
}
void AddSendPhaseJson(const SendPhaseResult& send, nlohmann::json* out) {
  using json = nlohmann::json;
  (*out)["runs"] = json::array();
  for (const auto& r : send.runs) {
    (*out)["runs"].push_back(
        {{"null_call", ToJson(r.baseline)},
         {"durable_send", ToJson(r.main)},
         {"delivery_under_load", ToJson(r.delivery)},
         {"drain_seconds", r.drain_seconds ? json(*r.drain_seconds) : json(nullptr)}});
  }
  (*out)["median"] = send.median;
  if (send.paced) {
    const PacedResult& paced = *send.paced;
    (*out)["delivery_paced"] = {{"rate", paced.rate},
                                {"sent", paced.sent},
                                {"ok", paced.ok},
                                {"max_behind_schedule_ms", paced.max_behind_ms},
                                {"ack_latency", ToJson(paced.latency)},
                                {"errors", paced.errors},
                                {"delivery_latency", ToJson(send.paced_delivery)},
                                {"all_delivered", send.paced_drain.has_value()}};
  }
  (*out)["targets"] = {{"durable_msgs_per_second", kTargetMsgsPerSecond},
                       {"ack_p99_ms", kTargetAckP99Ms},
                       {"inflight", kTargetInflight},
                       {"throughput_met", send.throughput_met},
                       {"ack_p99_met", send.p99_met}};
  (*out)["warnings"] = send.stream_problems;
}

}  // namespace bizrelay::bench

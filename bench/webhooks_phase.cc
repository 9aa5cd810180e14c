#include "bench/webhooks_phase.h"

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include "bench/inbox_consumer.h"
#include "bench/options.h"
#include "bench/report.h"
#include "bench/server_process.h"
#include "bench/setup.h"
#include "bench/webhook_receiver.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

using std::chrono::milliseconds;

// Connections the receiver serves at once: the relay opens at most one per POST in flight, up
// to webhooks.max_in_flight_per_endpoint (1,024 at most) per endpoint.
constexpr int kReceiverThreads = 512;

// The webhook endpoints of the businesses with an even index, one each, receiving user messages
// only (the odd ones are followed by inbox streams instead).
class Endpoints {
 public:
  Endpoints(const std::shared_ptr<grpc::Channel>& channel, const std::vector<Business>& businesses,
            WebhookReceiver* receiver)
      : stub_(v1::BusinessService::NewStub(channel)) {
    for (size_t i = 0; i < businesses.size(); i += 2) {
      v1::CreateWebhookEndpointRequest req;
      req.set_url(receiver->Url(static_cast<int>(i)));
      req.add_event_kinds(v1::WEBHOOK_EVENT_KIND_MESSAGE);
      req.set_disabled(true);
      v1::CreateWebhookEndpointResponse resp;
      CallWithRetry("BusinessService.CreateWebhookEndpoint", [&] {
        grpc::ClientContext ctx;
        Authorize(&ctx, businesses[i].api_key);
        return stub_->CreateWebhookEndpoint(&ctx, req, &resp);
      });
      receiver->SetSecret(static_cast<int>(i), resp.signing_secret());
      endpoints_.push_back({businesses[i].api_key, resp.endpoint().endpoint_id()});
    }
  }

  void SetEnabled(bool enabled) {
    for (const auto& [api_key, id] : endpoints_) {
      v1::UpdateWebhookEndpointRequest req;
      req.set_endpoint_id(id);
      req.set_enabled(enabled);
      v1::UpdateWebhookEndpointResponse resp;
      CallWithRetry("BusinessService.UpdateWebhookEndpoint", [&] {
        grpc::ClientContext ctx;
        Authorize(&ctx, api_key);
        return stub_->UpdateWebhookEndpoint(&ctx, req, &resp);
      });
    }
  }

 private:
  std::unique_ptr<v1::BusinessService::Stub> stub_;
  std::vector<std::pair<std::string, std::string>> endpoints_;  // api key, endpoint id
};

// Waits until `arrived()` reaches `expected` or the timeout passes; true if it did.
bool WaitUntil(const std::function<uint64_t()>& arrived, uint64_t expected, double timeout) {
  const int64_t until = NowNs() + static_cast<int64_t>(timeout * 1e9);
  while (arrived() < expected) {
    if (NowNs() > until) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

// Starts `start` (which makes the messages sent in [from_ns, to_ns) flow), waits for `expected`
// of them to arrive as `span` counts them, and measures the drain.
DrainResult Drain(CpuSampler* cpu, int64_t from_ns, int64_t to_ns, uint64_t expected,
                  double timeout, const std::function<void()>& start,
                  const std::function<ArrivalSpan(int64_t, int64_t)>& span) {
  DrainResult d;
  cpu->Start();
  const int64_t go = NowNs();
  start();
  d.complete = WaitUntil([&] { return span(from_ns, to_ns).count; }, expected, timeout);
  d.cpu = cpu->Stop();
  d.span = span(from_ns, to_ns);
  d.start_seconds = d.span.count > 0 ? static_cast<double>(d.span.first_ns - go) / 1e9 : -1;
  if (d.span.count > 0 && d.cpu.server >= 0 && d.cpu.postgres >= 0) {
    d.cpu_us_per_message = (d.cpu.server + d.cpu.postgres) * d.cpu.wall_seconds * 1e6 /
                           static_cast<double>(d.span.count);
  }
  return d;
}

void PrintDrain(int run, const char* what, const DrainResult& d) {
  std::printf(
      "run %d: %-28s %9.0f msgs/s  (%llu msgs; first after %.2f s)%s  "
      "bizrelayd+PostgreSQL %.0f us CPU/msg\n",
      run, what, d.span.PerSecond(), static_cast<unsigned long long>(d.span.count), d.start_seconds,
      d.complete ? "" : "  INCOMPLETE", d.cpu_us_per_message);
  std::printf("        cpu: %s\n", CpuLine(d.cpu).c_str());
  std::fflush(stdout);
}

struct Figure {
  const char* key;
  std::function<double(const WebhooksRun&)> get;
};

std::vector<Figure> Figures() {
  return {
      {"webhook_msgs_per_second", [](const WebhooksRun& r) { return r.webhook.span.PerSecond(); }},
      {"stream_msgs_per_second", [](const WebhooksRun& r) { return r.stream.span.PerSecond(); }},
      {"webhook_to_stream_ratio",
       [](const WebhooksRun& r) {
         double s = r.stream.span.PerSecond();
         return s > 0 ? r.webhook.span.PerSecond() / s : 0;
       }},
      {"webhook_cpu_us_per_msg", [](const WebhooksRun& r) { return r.webhook.cpu_us_per_message; }},
      {"stream_cpu_us_per_msg", [](const WebhooksRun& r) { return r.stream.cpu_us_per_message; }},
      {"webhook_first_after_seconds", [](const WebhooksRun& r) { return r.webhook.start_seconds; }},
  };
}

void PrintPaced(const char* to_whom, const char* delivered_by, const PacedResult& sent,
                const LatencySummary& delivered) {
  std::printf(
      "  at %.0f msgs/s to %s (%llu sent): %s p50 %.2f ms p99 %.2f ms (the sends' own "
      "acknowledgement p50 %.2f ms p99 %.2f ms)\n",
      sent.rate, to_whom, static_cast<unsigned long long>(sent.ok), delivered_by, delivered.p50_ms,
      delivered.p99_ms, sent.latency.p50_ms, sent.latency.p99_ms);
}

}  // namespace

WebhooksResult RunWebhooksPhase(const WebhooksOptions& o) {
  if (o.businesses < 2)
    throw std::runtime_error("the webhooks phase needs --businesses of 2 or more");
  WebhooksResult result;
  std::vector<std::string> args = {"--webhooks-allow-plain-http", "true",
                                   "--webhooks-allow-private-targets", "true"};
  args.insert(args.end(), o.server_args.begin(), o.server_args.end());
  ServerProcess server(o.bizrelayd, args);
  server.Start(std::chrono::seconds(120));
  const std::string public_target = "127.0.0.1:" + std::to_string(server.public_port());
  CpuSampler cpu(server.pid(), server.PostmasterPid());
  std::printf("webhooks: server pid %d, public %s\n", server.pid(), public_target.c_str());

  WebhookReceiver receiver(kReceiverThreads);
  const int64_t setup_start = NowNs();
  auto operator_channel = MakeChannel("127.0.0.1:" + std::to_string(server.operator_port()));
  auto setup_channel = MakeChannel(public_target);
  auto businesses =
      CreateBusinesses(operator_channel, server.OperatorToken(), o.businesses, o.setup_threads);
  auto users = CreateUsers(setup_channel, businesses, o.users, o.setup_threads);
  Endpoints endpoints(setup_channel, businesses, &receiver);
  std::printf("webhooks setup: %d businesses with one endpoint each, %d users, in %.1f s\n",
              o.businesses, o.users, static_cast<double>(NowNs() - setup_start) / 1e9);
  std::fflush(stdout);

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::UserChatService::Stub>> chat_stubs;
  for (int i = 0; i < o.channels; ++i) {
    channels.push_back(MakeChannel(public_target));
    chat_stubs.push_back(v1::UserChatService::NewStub(channels.back()));
  }
  std::vector<Sender> senders;
  for (int i = 0; i < o.users; ++i) {
    const User& u = users[static_cast<size_t>(i)];
    senders.push_back(
        Sender{chat_stubs[static_cast<size_t>(i % o.channels)].get(), u.token, u.business_id});
  }
  const std::string key_prefix = "bench-wh-" + ToHex(RandomBytes(6));
  OkCounter ok_total{0};
  // Successful sends to the webhook businesses (even index) and the streamed ones (odd).
  OkCounter ok_webhook{0};
  OkCounter ok_stream{0};

  // The integrations' side of the stream baseline: consumers started fresh for each part.
  auto consumer_channel = MakeChannel(public_target);
  auto business_stub = v1::BusinessService::NewStub(consumer_channel);
  std::vector<std::unique_ptr<InboxConsumer>> consumers;
  std::unique_ptr<AckTicker> ticker;
  auto start_streams = [&] {
    for (size_t i = 1; i < businesses.size(); i += 2) {
      consumers.push_back(
          std::make_unique<InboxConsumer>(business_stub.get(), businesses[i].api_key));
      consumers.back()->Start();
    }
    ticker = std::make_unique<AckTicker>(consumers);
  };
  auto stop_streams = [&] {
    if (ticker) ticker->Stop();
    ticker.reset();
    for (auto& c : consumers) c->Stop();
    consumers.clear();
  };
  struct StopAtExit {
    std::function<void()> stop;
    ~StopAtExit() { stop(); }
  } stop_at_exit{stop_streams};
  auto stream_span = [&](int64_t from, int64_t to) {
    ArrivalSpan all;
    for (const auto& c : consumers) {
      ArrivalSpan s = c->SpanSentIn(from, to);
      if (s.count == 0) continue;
      all.first_ns = all.count == 0 ? s.first_ns : std::min(all.first_ns, s.first_ns);
      all.last_ns = all.count == 0 ? s.last_ns : std::max(all.last_ns, s.last_ns);
      all.count += s.count;
    }
    return all;
  };
  auto webhook_span = [&](int64_t from, int64_t to) {
    return receiver.arrivals().SpanSentIn(from, to);
  };

  for (int run = 1; run <= o.runs; ++run) {
    // A backlog, while the endpoints are disabled and no stream is open.
    std::vector<std::unique_ptr<CallSlot>> slots;
    for (int i = 0; i < o.inflight && i < o.users; ++i) {
      const Sender& sender = senders[static_cast<size_t>(i)];
      slots.push_back(std::make_unique<SendMessageSlot>(
          sender, key_prefix + "-r" + std::to_string(run), o.text_bytes,
          (i % o.businesses) % 2 == 0 ? &ok_webhook : &ok_stream));
    }
    const uint64_t webhook_before = ok_webhook.load();
    const uint64_t stream_before = ok_stream.load();
    const int64_t from = NowNs();
    CountResult sent = RunUntilOk(slots, static_cast<uint64_t>(o.backlog));
    const int64_t to = NowNs();
    const uint64_t to_webhooks = ok_webhook.load() - webhook_before;
    const uint64_t to_streams = ok_stream.load() - stream_before;
    std::printf(
        "run %d: backlog of %llu user messages (%llu to webhook businesses, %llu to streamed "
        "ones) written in %.1f s\n",
        run, static_cast<unsigned long long>(sent.ok), static_cast<unsigned long long>(to_webhooks),
        static_cast<unsigned long long>(to_streams), sent.seconds);

    // Each half delivered on its own, alternating which goes first.
    WebhooksRun r;
    auto webhooks_drain = [&] {
      r.webhook = Drain(
          &cpu, from, to, to_webhooks, o.drain_timeout_seconds, [&] { endpoints.SetEnabled(true); },
          webhook_span);
      endpoints.SetEnabled(false);
      PrintDrain(run, "webhook delivery", r.webhook);
    };
    auto streams_drain = [&] {
      r.stream =
          Drain(&cpu, from, to, to_streams, o.drain_timeout_seconds, start_streams, stream_span);
      stop_streams();
      PrintDrain(run, "inbox streams (baseline)", r.stream);
    };
    if (run % 2 == 1) {
      webhooks_drain();
      streams_drain();
    } else {
      streams_drain();
      webhooks_drain();
    }
    result.runs.push_back(r);
  }

  // Delivery latency at a fixed rate: the whole rate to the webhook businesses, then the whole
  // rate to the streamed ones, endpoints and streams both on throughout.
  if (o.e2e_seconds > 0 && o.e2e_rate > 0) {
    endpoints.SetEnabled(true);
    start_streams();
    std::vector<Sender> to_webhooks;
    std::vector<Sender> to_streams;
    for (int i = 0; i < o.users; ++i) {
      (i % o.businesses) % 2 == 0 ? to_webhooks.push_back(senders[static_cast<size_t>(i)])
                                  : to_streams.push_back(senders[static_cast<size_t>(i)]);
    }
    const auto measure = milliseconds(static_cast<int64_t>(o.e2e_seconds * 1000));
    // Sends at the rate to `to`, waits for `span` to count every OK send, then returns the
    // send figures; [from, to) of the measured window through `window`.
    auto paced_part = [&](const std::vector<Sender>& to_whom, milliseconds warmup,
                          const std::string& suffix,
                          const std::function<ArrivalSpan(int64_t, int64_t)>& span,
                          std::pair<int64_t, int64_t>* window) {
      PacedResult sent = RunPaced(to_whom, o.e2e_rate, warmup, measure, key_prefix + suffix,
                                  o.text_bytes, &ok_total);
      *window = {sent.window_start_ns, sent.window_end_ns};
      WaitUntil([&] { return span(window->first, window->second).count; }, sent.ok,
                o.drain_timeout_seconds);
      return sent;
    };
    std::pair<int64_t, int64_t> window;
    // The warm-up covers the relay taking the endpoints up again (its lease renewal, 1 s).
    result.paced_webhook_send =
        paced_part(to_webhooks, milliseconds(3000), "-paced-wh", webhook_span, &window);
    auto w = receiver.arrivals().LatenciesSentIn(window.first, window.second);
    result.paced_webhook = Summarize(&w);
    result.paced_stream_send =
        paced_part(to_streams, milliseconds(1000), "-paced-st", stream_span, &window);
    result.paced_stream = DeliveryLatency(consumers, window.first, window.second);
    stop_streams();
  }
  result.bad_requests = receiver.bad_requests();
  result.verifications = receiver.verifications();
  int code = server.Stop();
  if (code != 0) std::printf("warning: bizrelayd exited with status %d\n", code);
  return result;
}

void ReportWebhooks(WebhooksResult* r) {
  for (const auto& f : Figures()) {
    std::vector<double> v;
    for (const auto& run : r->runs) v.push_back(f.get(run));
    r->median[f.key] = Median(v);
  }
  auto& m = r->median;
  std::printf("\nwebhooks (median of %zu run(s)):\n", r->runs.size());
  std::printf(
      "  backlog delivery: webhooks %.0f msgs/s, inbox streams %.0f msgs/s (ratio %.2f); "
      "bizrelayd+PostgreSQL CPU per message %.0f us vs %.0f us\n",
      m["webhook_msgs_per_second"], m["stream_msgs_per_second"], m["webhook_to_stream_ratio"],
      m["webhook_cpu_us_per_msg"], m["stream_cpu_us_per_msg"]);
  const bool paced = r->paced_webhook_send && r->paced_stream_send;
  if (paced) {
    PrintPaced("webhook businesses", "POST", *r->paced_webhook_send, r->paced_webhook);
    PrintPaced("streamed businesses", "inbox stream", *r->paced_stream_send, r->paced_stream);
  }
  std::printf("  targets: >= %.0f webhook deliveries/s %s; p99 < %.0f ms at 1,000/s %s\n",
              kTargetWebhooksPerSecond,
              m["webhook_msgs_per_second"] >= kTargetWebhooksPerSecond ? "(met)" : "(NOT met)",
              kTargetWebhookP99Ms,
              paced && r->paced_webhook.p99_ms < kTargetWebhookP99Ms ? "(met)" : "(NOT met)");
  std::printf("  receiver: %llu handshakes, %llu requests refused (bad signature or body)\n",
              static_cast<unsigned long long>(r->verifications),
              static_cast<unsigned long long>(r->bad_requests));
}

nlohmann::json ToJson(const WebhooksResult& r) {
  nlohmann::json out;
  out["median"] = r.median;
  for (const auto& run : r.runs) {
    nlohmann::json j;
    for (const auto& f : Figures()) j[f.key] = f.get(run);
    j["webhook_complete"] = run.webhook.complete;
    j["stream_complete"] = run.stream.complete;
    j["webhook_cpu"] = ToJson(run.webhook.cpu);
    j["stream_cpu"] = ToJson(run.stream.cpu);
    out["runs"].push_back(j);
  }
  if (r.paced_webhook_send && r.paced_stream_send) {
    out["paced"] = {{"rate", r.paced_webhook_send->rate},
                    {"webhook_ok", r.paced_webhook_send->ok},
                    {"webhook_send", ToJson(r.paced_webhook_send->latency)},
                    {"webhook", ToJson(r.paced_webhook)},
                    {"stream_ok", r.paced_stream_send->ok},
                    {"stream_send", ToJson(r.paced_stream_send->latency)},
                    {"stream", ToJson(r.paced_stream)}};
  }
  out["bad_requests"] = r.bad_requests;
  out["verifications"] = r.verifications;
  return out;
}

}  // namespace bizrelay::bench

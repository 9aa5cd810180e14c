// bizrelay-bench: measures how many durable user-to-business messages per second one bizrelayd
// stores (UserChatService.SendMessage, acknowledged only after commit), against a null gRPC
// call on the same connections, and how long a message takes to reach the business's inbox
// stream; plus retention deletion speed (sweep), the cost of encryption at rest (crypto), anonymous
// sealed sends (personal) and 10,000 open mailbox streams (mailboxes), each selectable with
// --phases. Everything goes over real gRPC on loopback; see bench/README.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/crypto_cost.h"
#include "bench/ingest.h"
#include "bench/mailboxes_phase.h"
#include "bench/media_phase.h"
#include "bench/metrics_cost.h"
#include "bench/options.h"
#include "bench/personal.h"
#include "bench/report.h"
#include "bench/send_phase.h"
#include "bench/server_process.h"
#include "bench/setup.h"
#include "bench/stats.h"
#include "bench/sweep.h"
#include "bench/webhooks_phase.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "services/rpc/process.h"

namespace bizrelay::bench {
namespace {

using json = nlohmann::json;

// The server's default cap on concurrent calls per HTTP/2 connection.
constexpr int kServerStreamsPerConnection = 100;

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
  // Phases sweep, crypto and webhooks start servers of their own.
  const bool needs_server = o.Has("send") || o.Has("personal") || o.Has("mailboxes");
  if (!needs_server) {
    server_json = {{"mode", "none"}};
  } else if (o.target.empty()) {
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

  SendPhaseResult send;
  if (o.Has("send")) {
    send = RunSendPhase(o, public_target, operator_target, operator_token, &cpu);
  }

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
      if (!send.runs.empty()) {
        std::vector<double> v;
        for (const auto& r : send.runs) v.push_back(r.main.ok_per_second);
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

  // Webhook delivery: a server of the phase's own.
  std::optional<WebhooksResult> webhooks;
  if (o.Has("webhooks")) {
    WebhooksOptions wo;
    wo.bizrelayd = o.bizrelayd;
    wo.server_args = o.server_args;
    wo.businesses = o.businesses;
    wo.users = o.users;
    wo.inflight = o.inflight;
    wo.channels = o.channels;
    wo.text_bytes = o.text_bytes;
    wo.backlog = o.webhook_backlog;
    wo.runs = o.runs;
    wo.e2e_rate = o.e2e_rate;
    wo.e2e_seconds = o.e2e_seconds;
    wo.setup_threads = o.setup_threads;
    wo.drain_timeout_seconds = o.drain_timeout_seconds;
    webhooks = RunWebhooksPhase(wo);
  }

  // Media: a server of the phase's own.
  std::optional<MediaResult> media;
  if (o.Has("media")) {
    media = RunMediaPhase({.bizrelayd = o.bizrelayd,
                           .server_args = o.server_args,
                           .file_mib = o.media_file_mib,
                           .runs = std::max(3, o.runs)});
  }

  // Report.
  std::printf("\n=== bizrelay-bench report (median of %d run(s), %g s each) ===\n", o.runs,
              o.seconds);
  ReportSendPhase(o, &send);
  const SealShares shares = ReportCrypto(seal, ingest, send);
  if (personal) ReportPersonal(o, *personal);
  if (mailboxes) ReportMailboxes(*mailboxes);
  if (sweep) ReportSweep(o, *sweep);
  if (webhooks) ReportWebhooks(&*webhooks);
  if (media) ReportMedia(*media);

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
    AddSendPhaseJson(send, &out);
    if (seal) {
      out["crypto"] = {{"body_bytes", seal->body_bytes},
                       {"seal_ns_median", seal->ns_per_seal},
                       {"batches", seal->batches},
                       {"per_batch", seal->per_batch},
                       {"share_of_ingest_wall_time", shares.wall},
                       {"share_of_bizrelayd_cpu_per_message", shares.cpu}};
      if (ingest) out["crypto"]["ingest"] = ToJson(*ingest);
    }
    if (personal) {
      out["personal"] = ToJson(*personal);
      out["personal"]["targets"] = {{"sealed_sends_per_second", kTargetSealedPerSecond},
                                    {"sealed_p99_ms", kTargetSealedP99Ms}};
    }
    if (mailboxes) out["mailboxes"] = ToJson(*mailboxes);
    if (sweep) out["sweep"] = ToJson(*sweep);
    if (webhooks) out["webhooks"] = ToJson(*webhooks);
    if (media) out["media"] = ToJson(*media);
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
      "sweeping, encryption-at-rest cost, sealed sends, many open mailbox streams and webhook "
      "delivery (--phases). "
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
                 "Comma-separated phases to run: send, sweep, crypto, personal, mailboxes, "
                 "webhooks, media (default: all)");
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
  app.add_option("--webhook-backlog", o.webhook_backlog,
                 "webhooks: user messages each run's endpoints (and streams) deliver")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--media-file-mib", o.media_file_mib,
                 "media: size of the document uploaded and downloaded in each run (at least 3 "
                 "runs)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
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
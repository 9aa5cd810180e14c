#include "bench/report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "bench/setup.h"

namespace bizrelay::bench {

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

SealShares ReportCrypto(const std::optional<SealCost>& seal,
                        const std::optional<IngestResult>& ingest, const SendPhaseResult& send) {
  SealShares shares;
  std::map<std::string, double> median = send.median;
  if (seal) {
    std::printf(
        "crypto      AES-256-GCM seal of a %zu-byte body (KeyRing::SealBody, 32-byte key, "
        "in process): %.0f ns median (of %d batches of %d)\n",
        seal->body_bytes, seal->ns_per_seal, seal->batches, seal->per_batch);
    if (!send.runs.empty() && median["durable_msgs_per_second"] > 0) {
      const double wall_ns = 1e9 / median["durable_msgs_per_second"];
      shares.wall = seal->ns_per_seal / wall_ns;
      std::printf(
          "            ingest takes %.0f ns of wall time per message (1 / %.0f msgs/s): "
          "sealing is %.2f%% of it\n",
          wall_ns, median["durable_msgs_per_second"], 100 * shares.wall);
      if (median["main_cpu_bizrelayd_cores"] > 0) {
        const double cpu_ns =
            1e9 * median["main_cpu_bizrelayd_cores"] / median["durable_msgs_per_second"];
        shares.cpu = seal->ns_per_seal / cpu_ns;
        std::printf(
            "            bizrelayd spends %.0f ns of CPU per message: sealing is %.2f%% "
            "of it\n",
            cpu_ns, 100 * shares.cpu);
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
  return shares;
}

void ReportPersonal(const Options& o, PersonalResult& personal) {
  auto& m = personal.median;
  std::printf(
      "null call   personal port Health/Check    %9.0f calls/s   p50 %6.2f ms  p99 %6.2f ms\n",
      m["null_calls_per_second"], m["null_p50_ms"], m["null_p99_ms"]);
  std::printf(
      "sealed      PersonalRelayService.SendSealed %7.0f sends/s   p50 %6.2f ms  p99 %6.2f ms  "
      "max %.2f ms  (%d mailboxes, %zu-byte ciphertexts, a fresh token each)\n",
      m["sealed_sends_per_second"], m["sealed_p50_ms"], m["sealed_p99_ms"], m["sealed_max_ms"],
      personal.mailboxes, o.text_bytes + kSealedOverheadBytes);
  std::printf("ratio       sealed sends/s / null calls/s = %.3f\n", m["sealed_to_null_ratio"]);
  const double per_send_ns =
      m["sealed_sends_per_second"] > 0 ? 1e9 / m["sealed_sends_per_second"] : 0;
  std::printf(
      "token check BlindRsaPublicKey::Verify in process: %.1f us median; per send "
      "%.1f us of wall time (1 / sends/s): %.1f%%\n",
      personal.verify_ns / 1e3, per_send_ns / 1e3,
      per_send_ns > 0 ? 100 * personal.verify_ns / per_send_ns : 0.0);
  std::printf("tokens      %llu issued in %.1f s (%.0f tokens/s, 100 per IssueSendTokens)\n",
              static_cast<unsigned long long>(personal.tokens_issued), personal.token_issue_seconds,
              personal.token_issue_seconds > 0
                  ? static_cast<double>(personal.tokens_issued) / personal.token_issue_seconds
                  : 0.0);
  if (personal.paced) {
    std::printf(
        "delivery    SendSealed -> StreamMailbox reader, open loop at %g sends/s to %d "
        "streamed mailboxes for %g s: p50 %.2f ms  p99 %.2f ms  max %.2f ms (%zu envelopes; "
        "acks p50 %.2f ms p99 %.2f ms; errors: %s%s)\n",
        o.e2e_rate, std::min(o.personal_stream_mailboxes, o.personal_mailboxes), o.e2e_seconds,
        personal.paced_delivery.p50_ms, personal.paced_delivery.p99_ms,
        personal.paced_delivery.max_ms, personal.paced_delivery.count,
        personal.paced->latency.p50_ms, personal.paced->latency.p99_ms,
        ErrorCounts(personal.paced->errors).c_str(),
        personal.paced_all_delivered ? "" : "; NOT all delivered within the timeout");
  }
  std::printf("cpu (sealed) %s\n",
              CpuLine(CpuUsage{.wall_seconds = o.seconds,
                               .machine_cores = personal.runs.front().main.cpu.machine_cores,
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
  for (const auto& w : personal.warnings) std::printf("warning: %s\n", w.c_str());
}

void ReportMailboxes(const MailboxesResult& mailboxes) {
  auto mem = [](const MemoryUsage& u) {
    return Fmt(
        "bizrelayd RSS %.1f MiB; PostgreSQL %d processes, RSS sum %.1f MiB, PSS sum "
        "%.1f MiB",
        u.server_rss_mib, u.postgres_processes, u.postgres_rss_mib, u.postgres_pss_mib);
  };
  std::printf(
      "mailboxes   %d of %d recipients streaming at once over %d connections "
      "(opened in %.1f s)\n",
      mailboxes.streams_open, mailboxes.mailboxes, mailboxes.channels, mailboxes.open_seconds);
  std::printf("            before:      %s\n", mem(mailboxes.before).c_str());
  std::printf("            streams open: %s\n", mem(mailboxes.open).c_str());
  std::printf("            closed again: %s\n", mem(mailboxes.after).c_str());
  if (mailboxes.before.server_rss_mib >= 0 && mailboxes.streams_open > 0) {
    std::printf("            bizrelayd: %+.1f MiB with the streams open (%.1f KiB per stream)\n",
                mailboxes.open.server_rss_mib - mailboxes.before.server_rss_mib,
                1024 * (mailboxes.open.server_rss_mib - mailboxes.before.server_rss_mib) /
                    mailboxes.streams_open);
  }
  std::printf("            a message sent to one of them: %s\n",
              mailboxes.probe_delivered
                  ? Fmt("delivered on its stream in %.2f ms", mailboxes.probe_latency_ms).c_str()
                  : "NOT delivered");
  for (const auto& w : mailboxes.warnings) std::printf("warning: %s\n", w.c_str());
}

void ReportSweep(const Options& o, const SweepResult& sweep) {
  std::printf(
      "sweep (a)   deleting >= %d expired messages per set: Sweeper::SweepOnce (batch %d) %.0f "
      "rows/s (%lld rows, %.3f s); plain DELETE %.0f rows/s (%lld rows, %.3f s)\n",
      o.sweep_rows, o.sweep_batch, sweep.sweeper_rows_per_second,
      static_cast<long long>(sweep.sweeper_rows), sweep.sweeper_seconds,
      sweep.delete_rows_per_second, static_cast<long long>(sweep.delete_rows),
      sweep.delete_seconds);
  std::printf("            ratio sweeper / plain DELETE = %.3f  target >= %.1f: %s\n", sweep.ratio,
              kTargetSweeperRatio, sweep.ratio >= kTargetSweeperRatio ? "met" : "MISSED");
  std::printf(
      "sweep (b)   ingest (SendMessage, 1 s lifetimes, median of %d): without sweeper "
      "%.0f msgs/s, with sweeper every %d ms %.0f msgs/s; ratio %.3f (rows left with "
      "the sweeper: %lld, of them expired: %lld; expired rows left without it: %lld)\n",
      o.runs, sweep.without_median, o.sweep_interval_ms, sweep.with_median, sweep.ingest_ratio,
      static_cast<long long>(sweep.with_rows_left), static_cast<long long>(sweep.with_expired_left),
      static_cast<long long>(sweep.without_expired_left));
  for (const auto& w : sweep.warnings) std::printf("warning: %s\n", w.c_str());
}

}  // namespace bizrelay::bench

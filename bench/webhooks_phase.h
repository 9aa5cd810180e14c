#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/arrivals.h"
#include "bench/load.h"
#include "bench/stats.h"

// The webhooks phase: how fast bizrelayd delivers businesses' inboxes to their webhook endpoints
// (signed POSTs to a local keep-alive receiver that checks every signature), against inbox
// streams in the same run, and the delivery latency of both at a fixed rate. Half the
// businesses (even index) have an endpoint, the other half are followed by streams, and every
// user sends to its own business, so both halves get the same messages in kind and number; a
// 2xx acknowledges events as AcknowledgeInbox does, so the two cannot share one business's
// events. It starts its own bizrelayd (plain-HTTP loopback targets allowed).
namespace bizrelay::bench {

struct WebhooksOptions {
  std::string bizrelayd;
  std::vector<std::string> server_args;
  int businesses = 4;
  int users = 256;
  int inflight = 64;
  int channels = 4;
  size_t text_bytes = 100;
  int backlog = 20000;  // user messages delivered per run
  int runs = 3;
  double e2e_rate = 1000;
  double e2e_seconds = 5;
  int setup_threads = 8;
  double drain_timeout_seconds = 120;
};

// Delivery of one backlog: `count` messages between the first and the last arrival.
struct DrainResult {
  ArrivalSpan span;
  double start_seconds = 0;  // from the start signal to the first arrival
  bool complete = false;     // every message arrived within the timeout
  CpuUsage cpu;              // while it drained
  // CPU time of bizrelayd and PostgreSQL per message delivered, in microseconds.
  double cpu_us_per_message = -1;
};

struct WebhooksRun {
  DrainResult webhook;
  DrainResult stream;
};

struct WebhooksResult {
  std::vector<WebhooksRun> runs;
  // At --e2e-rate, first every message to a webhook business, then every one to a streamed
  // business: each half gets the whole rate. `paced_*_send` is the sends' own latency
  // (acknowledged, committed), the rest of the delivery latency is the path's.
  std::optional<PacedResult> paced_webhook_send;
  std::optional<PacedResult> paced_stream_send;
  LatencySummary paced_webhook;
  LatencySummary paced_stream;
  uint64_t bad_requests = 0;
  uint64_t verifications = 0;
  std::map<std::string, double> median;  // by JSON key; filled by ReportWebhooks
};

WebhooksResult RunWebhooksPhase(const WebhooksOptions& o);
void ReportWebhooks(WebhooksResult* r);
nlohmann::json ToJson(const WebhooksResult& r);

}  // namespace bizrelay::bench

#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/load.h"
#include "bench/stats.h"

namespace bizrelay::bench {

struct SweepOptions {
  std::string bizrelayd;
  std::vector<std::string> server_args;  // the user's --server-arg values
  int rows = 100000;                     // messages per deletion set
  int batch = 2000;                      // rows per sweeper transaction
  int interval_ms = 100;                 // sweep interval of the sweeper running beside ingest
  int64_t lifetime_seconds = 1;
  int64_t max_lifetime_seconds = 315360000;  // bizrelayd's default retention.max_seconds
  int businesses = 16;
  int users = 256;
  int inflight = 256;
  int channels = 4;
  size_t text_bytes = 100;
  double warmup_seconds = 2;
  double seconds = 10;
  int runs = 1;
  int setup_threads = 8;
};

struct SweepResult {
  std::vector<std::string> argv;  // the server (without the sweeper role)
  // (a) deletion speed over `rows` expired messages each.
  double fill_msgs_per_second = 0;
  int64_t sweeper_rows = 0;
  double sweeper_seconds = 0;
  int64_t delete_rows = 0;
  double delete_seconds = 0;
  double sweeper_rows_per_second = 0;
  double delete_rows_per_second = 0;
  double ratio = 0;  // sweeper ÷ plain DELETE
  // (b) ingest with messages expiring all the time, without and with the sweeper running.
  std::vector<PhaseResult> without, with;
  double without_median = 0;
  double with_median = 0;
  double ingest_ratio = 0;  // with ÷ without
  int64_t with_rows_left = 0;
  int64_t with_expired_left = 0;
  int64_t without_expired_left = 0;
  std::vector<std::string> warnings;
};

// Starts a bizrelayd of its own without the sweeper role, allowing 1-second lifetimes, and
// measures (a) then (b) on it; see README.md.
SweepResult RunSweepPhase(const SweepOptions& o);
nlohmann::json ToJson(const SweepResult& r);

}  // namespace bizrelay::bench

#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace bizrelay::bench {

struct MetricsCostOptions {
  std::string bizrelayd;
  std::vector<std::string> server_args;
  int businesses = 16;
  int users = 256;
  int inflight = 256;
  int channels = 4;
  int runs = 3;
  size_t text_bytes = 100;
  std::chrono::milliseconds warmup{1000};
  std::chrono::milliseconds measure{5000};
};

struct MetricsCostResult {
  std::vector<double> on, off;  // durable sends per second, per run
  double on_median = 0, off_median = 0;
  double ratio = 0;  // on / off
};

// What the metrics cost the hosted send path: two bizrelayd processes, one with metrics on
// (`--listen-metrics 127.0.0.1:0`) and one with them off (`--listen-metrics ""`), each with
// its own embedded PostgreSQL, take closed-loop SendMessage load in turn (the first of each
// pair alternating), so that both see the same machine in the same period. Prints each run.
MetricsCostResult RunMetricsCost(const MetricsCostOptions& o);

}  // namespace bizrelay::bench

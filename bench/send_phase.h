#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/load.h"
#include "bench/options.h"
#include "bench/stats.h"

// The send phase: durable sends (UserChatService.SendMessage, closed loop) against a null call
// (Health/Check) on the same connections, and how long messages take to reach the businesses'
// inbox streams, under that load and at a fixed moderate rate.
namespace bizrelay::bench {

struct RunResult {
  PhaseResult baseline;
  PhaseResult main;
  LatencySummary delivery;              // of messages sent in the main window
  std::optional<double> drain_seconds;  // after the main phase, until all were delivered
};

struct SendPhaseResult {
  std::vector<RunResult> runs;
  std::optional<PacedResult> paced;  // the open-loop delivery-latency part, if it ran
  LatencySummary paced_delivery;
  std::optional<double> paced_drain;
  std::vector<std::string> stream_problems;
  uint64_t ack_errors = 0;
  // Filled by ReportSendPhase: the median of each figure across runs, by its JSON key, and
  // whether the medians meet the targets.
  std::map<std::string, double> median;
  bool throughput_met = false;
  bool p99_met = false;
};

// Creates the businesses and users on the given server and runs the phase, printing each run.
SendPhaseResult RunSendPhase(const Options& o, const std::string& public_target,
                             const std::string& operator_target, const std::string& operator_token,
                             CpuSampler* cpu);

// Computes the medians (also without runs: the JSON report always has them) and, when the
// phase ran, prints its part of the report.
void ReportSendPhase(const Options& o, SendPhaseResult* send);

// The phase's part of the JSON report: runs, median, delivery_paced, targets and warnings.
void AddSendPhaseJson(const SendPhaseResult& send, nlohmann::json* out);

}  // namespace bizrelay::bench

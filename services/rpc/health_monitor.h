#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "services/metrics/metrics.h"
#include "services/rpc/health_service.h"

namespace bizrelay::rpc {

// Makes grpc.health.v1 tell whether a server can do its job: whether its database answers.
// A thread probes the database on a connection of its own (`SELECT 1`) every `interval` and
// sets every target service SERVING or NOT_SERVING (Check and Watch see it at once).
//
// Timing: a probe that fails on its connection reconnects once at once (an idle connection
// dropped by the server is not an outage); if that fails too the database counts as down.
// Connecting gives up after 2 s, a probe statement after 2 s, and on TCP unacknowledged data
// after 3 s (tcp_user_timeout), so a dead or unreachable database shows as NOT_SERVING within
// about interval + 4 s at worst; a refused or broken connection within one interval. When a
// probe succeeds again the targets are SERVING again within one interval.
//
// Start and Stop are called by the owner thread; up() from any thread. The health services
// must outlive this (HealthService::Shutdown during a stop takes precedence: it ignores later
// updates).
class DatabaseHealthMonitor {
 public:
  struct Target {
    HealthService* health;
    std::vector<std::string> services;  // "" is the whole server
  };
  struct Options {
    std::string name;  // for logs and the metric label: "hosting" or "personal"
    std::string conninfo;
    std::chrono::milliseconds interval{1000};
    metrics::Gauge* up = nullptr;  // 1 or 0; may be null
  };

  DatabaseHealthMonitor(Options options, std::vector<Target> targets);
  ~DatabaseHealthMonitor();
  DatabaseHealthMonitor(const DatabaseHealthMonitor&) = delete;
  DatabaseHealthMonitor& operator=(const DatabaseHealthMonitor&) = delete;

  // Starts probing; until the first probe the database counts as up (the daemon has just
  // used it to apply migrations).
  void Start();
  void Stop();
  // Tells the monitor the database has just gone (the embedded supervisor saw it die): the
  // targets are NOT_SERVING at once and stay so for at least one interval, whatever the probes
  // say meanwhile, since every pooled connection is broken and a restarted server is still
  // recovering. Callable from any thread.
  void ReportOutage();
  bool up() const { return up_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  // One probe on the monitor thread; true if the database answered.
  bool Probe();
  void Publish(bool up);

  const Options options_;
  const std::string probe_conninfo_;
  const std::vector<Target> targets_;
  std::unique_ptr<pqxx::connection> conn_;  // monitor thread only
  std::atomic<bool> up_{true};
  std::chrono::steady_clock::time_point down_since_;  // monitor thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;         // guarded by mu_
  bool outage_reported_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace bizrelay::rpc

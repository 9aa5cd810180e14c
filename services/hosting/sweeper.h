#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "services/metrics/metrics.h"

namespace bizrelay::hosting {

struct SweepReport {
  int64_t deleted_messages = 0;
  int64_t deleted_events = 0;
  // Uploads never attached to a message, past media.unattached_ttl_seconds.
  int64_t deleted_media = 0;
  // Now minus the oldest expiry still present after the sweep (0 if none is left).
  double lag_seconds = 0;
};

// What the sweeper records after each sweep; any may be null.
struct SweeperMetrics {
  metrics::Counter* deleted_messages = nullptr;
  metrics::Counter* deleted_events = nullptr;
  metrics::Counter* deleted_media = nullptr;
  metrics::Counter* failures = nullptr;
  metrics::Gauge* lag_seconds = nullptr;  // SweepReport::lag_seconds of the last sweep
};

// The retention sweeper: deletes expired messages (their events go with them) in bounded
// batches, each its own short transaction, claiming rows with FOR UPDATE SKIP LOCKED so that
// any number of sweepers (threads or bizrelayd processes) share the work without waiting on
// each other (media attached to a message goes with it). Also deletes media uploads never
// attached to a message once their time is up, and drops status and notice events older than the
// longest allowed lifetime, so nothing grows without bound. Thread-safe.
class Sweeper {
 public:
  Sweeper(std::string conninfo, std::chrono::milliseconds interval, int batch,
          int64_t max_lifetime_seconds, SweeperMetrics metrics = {});
  ~Sweeper();

  void Start();
  void Stop();

  // One full sweep on `conn`: batches until fewer than `batch` rows were expired.
  static SweepReport SweepOnce(const std::string& conninfo, int batch,
                               int64_t max_lifetime_seconds);

  int64_t total_deleted() const { return total_deleted_; }

 private:
  void Loop();

  const std::string conninfo_;
  const std::chrono::milliseconds interval_;
  const int batch_;
  const int64_t max_lifetime_seconds_;
  const SweeperMetrics metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::atomic<int64_t> total_deleted_{0};
  std::thread thread_;
};

}  // namespace bizrelay::hosting

#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace bizrelay::bench {

using Clock = std::chrono::steady_clock;

// Nanoseconds on the steady clock: comparable across all threads of this process.
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Latency percentiles of one set of samples, in milliseconds (nearest rank).
struct LatencySummary {
  size_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Summarizes latencies given in nanoseconds; sorts `samples_ns`.
LatencySummary Summarize(std::vector<int64_t>* samples_ns);
nlohmann::json ToJson(const LatencySummary& s);

// The median of `values`: the mean of the middle two for an even count, 0 if empty.
double Median(std::vector<double> values);

// CPU used during one window, in cores (CPU seconds per wall second), so that a report can say
// which process limits throughput. A group that was not measured (no pid known) reads -1.
struct CpuUsage {
  double wall_seconds = 0;
  int machine_cores = 0;
  double machine_busy = 0;  // everything on the host, including what is not ours
  double bench = 0;
  double server = -1;    // the bizrelayd process
  double postgres = -1;  // the postmaster and all its children
};
nlohmann::json ToJson(const CpuUsage& u);

// Measures CPU time from /proc between Start() and Stop(). Processes that start in between
// count from zero; processes that end in between are lost (PostgreSQL backends of a
// connection pool live as long as the server, so this loses nothing that matters here).
// Not thread-safe.
class CpuSampler {
 public:
  // A pid <= 0 leaves that group unmeasured.
  CpuSampler(pid_t server_pid, pid_t postmaster_pid);

  void Start();
  CpuUsage Stop() const;

 private:
  struct Snapshot {
    int64_t time_ns = 0;
    uint64_t machine_busy = 0;                          // clock ticks summed over all CPUs
    std::map<pid_t, uint64_t> bench, server, postgres;  // ticks per process
  };
  Snapshot Take() const;

  const pid_t server_pid_;
  const pid_t postmaster_pid_;
  Snapshot start_;
};

// Resident memory of the server and of the PostgreSQL cluster, in MiB; -1 where not measured.
// RSS sums count shared memory (PostgreSQL's shared buffers) once per process that touched it;
// PSS divides shared pages among the processes that share them, so its sum is the honest total.
struct MemoryUsage {
  double server_rss_mib = -1;
  double postgres_rss_mib = -1;
  double postgres_pss_mib = -1;
  int postgres_processes = 0;
};
MemoryUsage ReadMemory(pid_t server_pid, pid_t postmaster_pid);
nlohmann::json ToJson(const MemoryUsage& m);

}  // namespace bizrelay::bench

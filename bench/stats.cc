#include "bench/stats.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace bizrelay::bench {
namespace {

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

struct ProcStat {
  pid_t ppid = 0;
  uint64_t ticks = 0;  // user + system
};

// Reads /proc/<pid>/stat; false if the process is gone.
bool ReadProcStat(pid_t pid, ProcStat* out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name is in parentheses and may hold spaces: fields resume after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> f;
  std::string s;
  while (fields >> s && f.size() < 13) f.push_back(s);
  if (f.size() < 13) return false;
  // f[0] is field 3 (state) of proc(5); ppid is field 4, utime 14, stime 15.
  out->ppid = static_cast<pid_t>(std::stol(f[1]));
  out->ticks = std::stoull(f[11]) + std::stoull(f[12]);
  return true;
}

uint64_t MachineBusyTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;  // "cpu": the sum over all CPUs
  uint64_t busy = 0;
  for (int i = 0; i < 8; ++i) {
    uint64_t v = 0;
    in >> v;
    // user nice system idle iowait irq softirq steal: idle (3) and iowait (4) are not busy.
    if (i != 3 && i != 4) busy += v;
  }
  return busy;
}

double Cores(const std::map<pid_t, uint64_t>& start, const std::map<pid_t, uint64_t>& end,
             double ticks_per_second, double wall) {
  uint64_t ticks = 0;
  for (const auto& [pid, t] : end) {
    auto it = start.find(pid);
    uint64_t before = it == start.end() ? 0 : it->second;
    if (t > before) ticks += t - before;
  }
  return wall > 0 ? static_cast<double>(ticks) / ticks_per_second / wall : 0;
}

}  // namespace

LatencySummary Summarize(std::vector<int64_t>* samples_ns) {
  std::sort(samples_ns->begin(), samples_ns->end());
  LatencySummary s;
  s.count = samples_ns->size();
  if (s.count == 0) return s;
  s.p50_ms = Percentile(*samples_ns, 0.50);
  s.p90_ms = Percentile(*samples_ns, 0.90);
  s.p99_ms = Percentile(*samples_ns, 0.99);
  s.max_ms = static_cast<double>(samples_ns->back()) / 1e6;
  return s;
}

nlohmann::json ToJson(const LatencySummary& s) {
  return {{"count", s.count},
          {"p50_ms", s.p50_ms},
          {"p90_ms", s.p90_ms},
          {"p99_ms", s.p99_ms},
          {"max_ms", s.max_ms}};
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

nlohmann::json ToJson(const CpuUsage& u) {
  nlohmann::json j = {{"wall_seconds", u.wall_seconds},
                      {"machine_cores", u.machine_cores},
                      {"machine_busy_cores", u.machine_busy},
                      {"bench_cores", u.bench}};
  if (u.server >= 0) j["bizrelayd_cores"] = u.server;
  if (u.postgres >= 0) j["postgres_cores"] = u.postgres;
  return j;
}

CpuSampler::CpuSampler(pid_t server_pid, pid_t postmaster_pid)
    : server_pid_(server_pid), postmaster_pid_(postmaster_pid) {}

void CpuSampler::Start() { start_ = Take(); }

CpuUsage CpuSampler::Stop() const {
  Snapshot end = Take();
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  CpuUsage u;
  u.wall_seconds = static_cast<double>(end.time_ns - start_.time_ns) / 1e9;
  u.machine_cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (u.wall_seconds <= 0) return u;
  u.machine_busy =
      static_cast<double>(end.machine_busy - start_.machine_busy) / hz / u.wall_seconds;
  u.bench = Cores(start_.bench, end.bench, hz, u.wall_seconds);
  if (server_pid_ > 0) u.server = Cores(start_.server, end.server, hz, u.wall_seconds);
  if (postmaster_pid_ > 0) u.postgres = Cores(start_.postgres, end.postgres, hz, u.wall_seconds);
  return u;
}

CpuSampler::Snapshot CpuSampler::Take() const {
  Snapshot s;
  s.time_ns = NowNs();
  s.machine_busy = MachineBusyTicks();
  ProcStat st;
  if (ReadProcStat(getpid(), &st)) s.bench[getpid()] = st.ticks;
  if (server_pid_ > 0 && ReadProcStat(server_pid_, &st)) s.server[server_pid_] = st.ticks;
  if (postmaster_pid_ > 0) {
    // The cluster is the postmaster and its children (backends, WAL writer, checkpointer...).
    if (DIR* proc = opendir("/proc")) {
      while (struct dirent* e = readdir(proc)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0') continue;
        if (!ReadProcStat(static_cast<pid_t>(pid), &st)) continue;
        if (pid == postmaster_pid_ || st.ppid == postmaster_pid_) {
          s.postgres[static_cast<pid_t>(pid)] = st.ticks;
        }
      }
      closedir(proc);
    }
  }
  return s;
}

namespace {

// A "Name:   1234 kB" field of a /proc file, in kB; -1 if absent.
double ProcKb(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name + ":")) return std::strtod(line.c_str() + name.size() + 1, nullptr);
  }
  return -1;
}

}  // namespace

MemoryUsage ReadMemory(pid_t server_pid, pid_t postmaster_pid) {
  MemoryUsage m;
  if (server_pid > 0) {
    double kb = ProcKb("/proc/" + std::to_string(server_pid) + "/status", "VmRSS");
    if (kb >= 0) m.server_rss_mib = kb / 1024;
  }
  if (postmaster_pid <= 0) return m;
  double rss = 0, pss = 0;
  if (DIR* proc = opendir("/proc")) {
    while (struct dirent* e = readdir(proc)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0') continue;
      ProcStat st;
      if (!ReadProcStat(static_cast<pid_t>(pid), &st)) continue;
      if (pid != postmaster_pid && st.ppid != postmaster_pid) continue;
      std::string dir = "/proc/" + std::to_string(pid);
      rss += std::max(0.0, ProcKb(dir + "/status", "VmRSS"));
      pss += std::max(0.0, ProcKb(dir + "/smaps_rollup", "Pss"));
      ++m.postgres_processes;
    }
    closedir(proc);
  }
  m.postgres_rss_mib = rss / 1024;
  m.postgres_pss_mib = pss / 1024;
  return m;
}

nlohmann::json ToJson(const MemoryUsage& m) {
  return {{"bizrelayd_rss_mib", m.server_rss_mib},
          {"postgres_rss_sum_mib", m.postgres_rss_mib},
          {"postgres_pss_sum_mib", m.postgres_pss_mib},
          {"postgres_processes", m.postgres_processes}};
}

}  // namespace bizrelay::bench

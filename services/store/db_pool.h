#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "services/platform/error.h"

namespace bizrelay::store {

struct DbPoolOptions {
  std::string conninfo;
  // Worker threads, each owning one connection.
  int workers = 4;
  // Tasks waiting for a worker beyond this are refused at once (RESOURCE_EXHAUSTED), so a
  // stalled database turns into fast errors instead of unbounded memory and latency.
  size_t max_queue = 10000;
  // Server-side cap on any one statement.
  std::chrono::milliseconds statement_timeout{10000};
  // Name shown in pg_stat_activity.
  std::string application_name = "bizrelayd";
};

// A fixed set of worker threads, each owning one libpqxx connection (connections are not
// thread-safe). gRPC threads hand work to it and return at once; a worker runs the task and
// the task completes its RPC from the worker thread.
//
// Failure contract for a task:
// - `work` runs on a worker with that worker's connection. It may throw bizrelay::Error (passed
//   to `fail` unchanged) or a libpqxx exception (mapped: serialization failures and deadlocks
//   are retried up to 3 times; statement timeout -> DEADLINE_EXCEEDED; a broken connection is
//   replaced and `work` retried once, then UNAVAILABLE; anything else INTERNAL).
//   Because of those retries `work` must be a transaction that can be run again.
// - A task still queued at its deadline is failed with DEADLINE_EXCEEDED without running.
// - Exactly one of "work completed without throwing" or "fail called once" happens.
// Thread-safe.
class DbPool {
 public:
  using Clock = std::chrono::steady_clock;
  using Work = std::function<void(pqxx::connection&)>;
  using Fail = std::function<void(const Error&)>;

  explicit DbPool(DbPoolOptions options);
  ~DbPool();
  DbPool(const DbPool&) = delete;
  DbPool& operator=(const DbPool&) = delete;

  void Submit(Work work, Fail fail, Clock::time_point deadline);

  // Stops taking tasks, fails queued ones with UNAVAILABLE and joins the workers.
  void Stop();

  size_t queued() const;

 private:
  struct Task {
    Work work;
    Fail fail;
    Clock::time_point deadline;
  };
  void WorkerLoop(int index);
  void RunTask(std::unique_ptr<pqxx::connection>& conn, Task& task);
  std::unique_ptr<pqxx::connection> Connect();

  const DbPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::vector<std::thread> workers_;
};

// Opens one connection with the pool's session settings; for start-up work outside the pool.
std::unique_ptr<pqxx::connection> OpenConnection(const DbPoolOptions& options);

}  // namespace bizrelay::store

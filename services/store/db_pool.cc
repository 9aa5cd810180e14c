#include "services/store/db_pool.h"

#include "services/platform/log.h"

namespace bizrelay::store {
namespace {

constexpr int kMaxSerializationRetries = 3;
// After a failed connect, a worker waits this long before trying again.
constexpr auto kReconnectBackoff = std::chrono::milliseconds(200);

Error Unavailable(const std::string& what) {
  return Error(ErrorCode::kUnavailable, "DATABASE_UNAVAILABLE", what);
}

}  // namespace

std::unique_ptr<pqxx::connection> OpenConnection(const DbPoolOptions& options) {
  auto conn = std::make_unique<pqxx::connection>(options.conninfo);
  pqxx::nontransaction tx(*conn);
  tx.exec0("SET statement_timeout = " + std::to_string(options.statement_timeout.count()));
  tx.exec_params("SELECT set_config('application_name', $1, false)", options.application_name);
  return conn;
}

DbPool::DbPool(DbPoolOptions options) : options_(std::move(options)) {
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

DbPool::~DbPool() { Stop(); }

void DbPool::Submit(Work work, Fail fail, Clock::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queue) {
      queue_.push_back(Task{std::move(work), std::move(fail), deadline});
      cv_.notify_one();
      return;
    }
    if (!stopping_) {
      fail(Error(ErrorCode::kResourceExhausted, "SERVER_BUSY",
                 "too many requests waiting for the database", {{"retry_delay_ms", "100"}}));
      return;
    }
  }
  fail(Unavailable("server is shutting down"));
}

void DbPool::Stop() {
  std::deque<Task> left;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    left.swap(queue_);
    cv_.notify_all();
  }
  for (auto& t : left) t.fail(Unavailable("server is shutting down"));
  for (auto& w : workers_) w.join();
  workers_.clear();
}

size_t DbPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::unique_ptr<pqxx::connection> DbPool::Connect() {
  try {
    return OpenConnection(options_);
  } catch (const std::exception& e) {
    spdlog::warn("event=db_connect_failed error=\"{}\"", e.what());
    return nullptr;
  }
}

void DbPool::WorkerLoop(int index) {
  std::unique_ptr<pqxx::connection> conn = Connect();
  spdlog::debug("event=db_worker_started worker={}", index);
  while (true) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    if (Clock::now() >= task.deadline) {
      task.fail(Error(ErrorCode::kDeadlineExceeded, "DEADLINE_EXCEEDED",
                      "deadline passed before the database was reached"));
      continue;
    }
    RunTask(conn, task);
  }
}

void DbPool::RunTask(std::unique_ptr<pqxx::connection>& conn, Task& task) {
  int serialization_retries = 0;
  bool reconnected = false;
  while (true) {
    if (!conn || !conn->is_open()) {
      conn = Connect();
      if (!conn) {
        std::this_thread::sleep_for(kReconnectBackoff);
        conn = Connect();
      }
      if (!conn) {
        task.fail(Unavailable("database connection unavailable"));
        return;
      }
    }
    try {
      task.work(*conn);
      return;
    } catch (const Error& e) {
      task.fail(e);
      return;
    } catch (const pqxx::in_doubt_error& e) {
      conn.reset();
      task.fail(Unavailable("database connection lost during commit; outcome unknown"));
      return;
    } catch (const pqxx::broken_connection& e) {
      conn.reset();
      spdlog::warn("event=db_connection_broken error=\"{}\"", e.what());
      if (reconnected) {
        task.fail(Unavailable("database connection lost"));
        return;
      }
      reconnected = true;
    } catch (const pqxx::sql_error& e) {
      const std::string state = e.sqlstate();
      // Serialization failures, deadlocks and unique violations between concurrent
      // transactions (two batches storing the same idempotency key) are retried; the retry
      // sees the other transaction's outcome.
      if ((state == "40001" || state == "40P01" || state == "23505") &&
          serialization_retries++ < kMaxSerializationRetries) {
        continue;
      }
      if (state == "57014") {
        task.fail(Error(ErrorCode::kDeadlineExceeded, "DEADLINE_EXCEEDED",
                        "statement took longer than the server allows"));
        return;
      }
      if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03") {
        // Connection-class errors and administrator shutdowns: reconnect, retry once.
        conn.reset();
        if (!reconnected) {
          reconnected = true;
          continue;
        }
        task.fail(Unavailable("database connection lost"));
        return;
      }
      spdlog::error("event=db_error sqlstate={} error=\"{}\"", state, e.what());
      task.fail(Error(ErrorCode::kInternal, "INTERNAL", "internal database error"));
      return;
    } catch (const std::exception& e) {
      spdlog::error("event=db_task_failed error=\"{}\"", e.what());
      task.fail(Error(ErrorCode::kInternal, "INTERNAL", "internal error"));
      return;
    }
  }
}

}  // namespace bizrelay::store

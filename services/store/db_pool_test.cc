#include "services/store/db_pool.h"

#include <gtest/gtest.h>

#include <future>

#include "services/store/testing/test_postgres.h"

namespace bizrelay::store {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  std::promise<std::string> promise;
  void Ok(std::string v) { promise.set_value(std::move(v)); }
  void Fail(const Error& e) { promise.set_value("error:" + e.reason()); }
};

std::string RunAndWait(DbPool& pool, DbPool::Work work,
                       DbPool::Clock::time_point deadline = DbPool::Clock::now() + 10s) {
  auto outcome = std::make_shared<Outcome>();
  auto fut = outcome->promise.get_future();
  pool.Submit(
      [outcome, work](pqxx::connection& c) {
        work(c);
        outcome->Ok("ok");
      },
      [outcome](const Error& e) { outcome->Fail(e); }, deadline);
  EXPECT_EQ(fut.wait_for(20s), std::future_status::ready) << "task hung";
  return fut.get();
}

TEST(DbPoolTest, RunsWorkOnWorkers) {
  DbPool pool({.conninfo = testing::FreshDatabase(), .workers = 2});
  std::atomic<int> sum = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(RunAndWait(pool,
                         [&](pqxx::connection& c) {
                           pqxx::work tx(c);
                           sum += tx.exec_params1("SELECT $1::int", i)[0].as<int>();
                           tx.commit();
                         }),
              "ok");
  }
  EXPECT_EQ(sum.load(), 190);
}

TEST(DbPoolTest, BrokenConnectionIsReplacedAndRetried) {
  auto conninfo = testing::FreshDatabase();
  DbPool pool({.conninfo = conninfo, .workers = 1});
  int backend_pid = 0;
  ASSERT_EQ(RunAndWait(pool, [&](pqxx::connection& c) { backend_pid = c.backendpid(); }), "ok");
  {
    pqxx::connection killer(conninfo);
    pqxx::nontransaction tx(killer);
    tx.exec_params("SELECT pg_terminate_backend($1)", backend_pid);
  }
  int new_pid = 0;
  EXPECT_EQ(RunAndWait(pool,
                       [&](pqxx::connection& c) {
                         pqxx::work tx(c);
                         tx.exec("SELECT 1");
                         new_pid = c.backendpid();
                         tx.commit();
                       }),
            "ok");
  EXPECT_NE(new_pid, backend_pid);
}

TEST(DbPoolTest, UnreachableDatabaseFailsFastWithUnavailable) {
  DbPool pool({.conninfo = "host=/nonexistent dbname=x connect_timeout=1", .workers = 1});
  EXPECT_EQ(RunAndWait(pool, [](pqxx::connection&) {}), "error:DATABASE_UNAVAILABLE");
}

TEST(DbPoolTest, TaskPastDeadlineDoesNotRun) {
  DbPool pool({.conninfo = testing::FreshDatabase(), .workers = 1});
  bool ran = false;
  EXPECT_EQ(RunAndWait(
                pool, [&](pqxx::connection&) { ran = true; }, DbPool::Clock::now() - 1ms),
            "error:DEADLINE_EXCEEDED");
  EXPECT_FALSE(ran);
}

TEST(DbPoolTest, StatementTimeoutBecomesDeadlineExceeded) {
  DbPool pool({.conninfo = testing::FreshDatabase(), .workers = 1, .statement_timeout = 100ms});
  EXPECT_EQ(RunAndWait(pool,
                       [](pqxx::connection& c) {
                         pqxx::work tx(c);
                         tx.exec0("SELECT pg_sleep(2)");
                       }),
            "error:DEADLINE_EXCEEDED");
}

TEST(DbPoolTest, FullQueueIsRefusedAtOnce) {
  DbPool pool({.conninfo = testing::FreshDatabase(), .workers = 1, .max_queue = 1});
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> started;
  pool.Submit(
      [&](pqxx::connection&) {
        started.set_value();
        gate.wait();
      },
      [](const Error&) { ADD_FAILURE(); }, DbPool::Clock::now() + 10s);
  started.get_future().wait();
  std::atomic<int> busy = 0;
  std::vector<std::string> errors;
  std::mutex mu;
  for (int i = 0; i < 4; ++i) {  // one fits the queue
    pool.Submit([gate](pqxx::connection&) { gate.wait(); },
                [&](const Error& e) {
                  std::lock_guard lock(mu);
                  errors.push_back(e.reason());
                  ++busy;
                },
                DbPool::Clock::now() + 10s);
  }
  // One running, one queued, three refused at once (before anything is released).
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(busy.load(), 3);
    for (auto& r : errors) EXPECT_EQ(r, "SERVER_BUSY");
  }
  release.set_value();
  pool.Stop();
}

}  // namespace
}  // namespace bizrelay::store

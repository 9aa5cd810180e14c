#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "services/platform/error.h"
#include "services/store/db_pool.h"

namespace bizrelay::store {

// Group commit. Writes queue here; whenever a worker of `pool` is free, every queued write (up
// to `max_batch`) goes to `write` together, which stores them in one transaction. While one
// batch commits the next one fills, so throughput grows with load while each write still
// completes only after its own commit.
//
// `write` gets the items of a batch and returns one result per item, in order; it runs on a
// pool worker and may be run again for the same batch if the connection broke (DbPool's
// retry). `done` runs exactly once per item, on a pool worker: with its result, or with the
// error that failed the whole batch (nothing of a failed batch is stored). Thread-safe.
template <typename Item, typename Result>
class GroupCommit {
 public:
  using Done = std::function<void(const Result* result, const Error* error)>;
  using Write =
      std::function<std::vector<Result>(pqxx::connection& conn, const std::vector<Item>& items)>;

  // `pool` must outlive this; `max_in_flight` bounds the batches running at once (at most the
  // pool's workers), `max_queue` the writes waiting.
  GroupCommit(DbPool* pool, Write write, int max_in_flight, size_t max_batch, size_t max_queue)
      : pool_(pool),
        write_(std::move(write)),
        max_in_flight_(max_in_flight),
        max_batch_(max_batch),
        max_queue_(max_queue) {}

  void Submit(Item item, Done done, DbPool::Clock::time_point deadline) {
    std::vector<std::shared_ptr<Batch>> ready;
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= max_queue_) {
        Error busy(ErrorCode::kResourceExhausted, "SERVER_BUSY", "too many writes waiting",
                   {{"retry_delay_ms", "100"}});
        done(nullptr, &busy);
        return;
      }
      queue_.push_back({std::move(item), std::move(done), deadline});
      ready = TakeBatchesLocked();
    }
    Launch(std::move(ready));
  }

 private:
  struct Pending {
    Item item;
    Done done;
    DbPool::Clock::time_point deadline;
  };
  using Batch = std::vector<Pending>;

  // Takes the batches that may start now; the caller launches them without holding mu_.
  std::vector<std::shared_ptr<Batch>> TakeBatchesLocked() {
    std::vector<std::shared_ptr<Batch>> out;
    while (in_flight_ < max_in_flight_ && !queue_.empty()) {
      auto batch = std::make_shared<Batch>();
      size_t n = std::min(max_batch_, queue_.size());
      batch->reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch->push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++in_flight_;
      out.push_back(std::move(batch));
    }
    return out;
  }

  void Launch(std::vector<std::shared_ptr<Batch>> batches) {
    for (auto& batch : batches) {
      // The batch's deadline is its most patient write's; writes already past theirs are
      // refused before the transaction.
      auto deadline = DbPool::Clock::time_point::min();
      for (const auto& p : *batch) deadline = std::max(deadline, p.deadline);
      pool_->Submit([this, batch](pqxx::connection& conn) { Run(conn, *batch); },
                    [this, batch](const Error& e) {
                      for (auto& p : *batch) {
                        if (p.done) p.done(nullptr, &e);
                      }
                      BatchFinished();
                    },
                    deadline);
    }
  }

  void Run(pqxx::connection& conn, Batch& batch) {
    std::vector<Item> items;
    std::vector<Pending*> live;
    auto now = DbPool::Clock::now();
    for (auto& p : batch) {
      if (!p.done) continue;  // answered on an earlier attempt of this batch
      if (p.deadline <= now) {
        Error late(ErrorCode::kDeadlineExceeded, "DEADLINE_EXCEEDED",
                   "deadline passed before the write was stored");
        p.done(nullptr, &late);
        p.done = nullptr;
        continue;
      }
      items.push_back(p.item);
      live.push_back(&p);
    }
    std::vector<Result> results;
    if (!items.empty()) results = write_(conn, items);
    for (size_t i = 0; i < live.size(); ++i) {
      live[i]->done(&results[i], nullptr);
      live[i]->done = nullptr;
    }
    BatchFinished();
  }

  void BatchFinished() {
    std::vector<std::shared_ptr<Batch>> ready;
    {
      std::lock_guard lock(mu_);
      --in_flight_;
      ready = TakeBatchesLocked();
    }
    Launch(std::move(ready));
  }

  DbPool* const pool_;
  const Write write_;
  const int max_in_flight_;
  const size_t max_batch_;
  const size_t max_queue_;
  std::mutex mu_;
  std::deque<Pending> queue_;  // guarded by mu_
  int in_flight_ = 0;          // guarded by mu_
};

}  // namespace bizrelay::store

#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/metrics/metrics.h"
#include "services/platform/error.h"
#include "services/store/db_pool.h"
#include "services/store/shard_balancer.h"

namespace bizrelay::store {

// Group commit. Writes queue here; whenever a worker of `pool` is free, every queued write (up
// to `max_batch`) goes to `write` together, which stores them in one transaction. While one
// batch commits the next one fills, so throughput grows with load while each write still
// completes only after its own commit.
//
// Writes are split into `shards` by `key_of` (the row a write must lock, for example its
// business): a key's pending writes are all in one shard, and keys are placed so that the
// shards carry even loads (ShardBalancer). Each shard has at most one batch in flight:
// concurrent batches then touch disjoint rows and never wait for each other's locks. Writes of
// one shard are // stored in submission order.
//
// `write` gets the items of a batch and returns one result per item, in order; it runs on a
// pool worker and may be run again for the same batch if the connection broke (DbPool's
// retry). `done` runs exactly once per item, on a pool worker: with its result, or with the
// error that failed the whole batch (nothing of a failed batch is stored). Thread-safe.
// What a group commit records; any may be null.
struct GroupCommitMetrics {
  metrics::Histogram* batch_size = nullptr;      // writes per batch
  metrics::Histogram* commit_seconds = nullptr;  // time `write` took for a batch
};

template <typename Item, typename Result>
class GroupCommit {
 public:
  using Done = std::function<void(const Result* result, const Error* error)>;
  using Write =
      std::function<std::vector<Result>(pqxx::connection& conn, const std::vector<Item>& items)>;
  using KeyOf = std::function<std::string(const Item& item)>;

  // `pool` must outlive this and have at least `shards` workers; `max_queue` bounds the writes
  // waiting.
  GroupCommit(DbPool* pool, Write write, KeyOf key_of, int shards, size_t max_batch,
              size_t max_queue, GroupCommitMetrics metrics = {})
      : pool_(pool),
        write_(std::move(write)),
        key_of_(std::move(key_of)),
        max_batch_(max_batch),
        max_queue_(max_queue),
        metrics_(metrics),
        shards_(static_cast<size_t>(std::max(1, shards))),
        balancer_(shards_.size()) {}

  void Submit(Item item, Done done, DbPool::Clock::time_point deadline) {
    std::string key = key_of_(item);
    std::shared_ptr<Batch> ready;
    size_t shard = 0;
    {
      std::lock_guard lock(mu_);
      if (queued_ >= max_queue_) {
        Error busy(ErrorCode::kResourceExhausted, "SERVER_BUSY", "too many writes waiting",
                   {{"retry_delay_ms", "100"}});
        done(nullptr, &busy);
        return;
      }
      shard = balancer_.Acquire(key);
      shards_[shard].queue.push_back({std::move(item), std::move(key), std::move(done), deadline});
      ++queued_;
      ready = TakeBatchLocked(shard);
    }
    if (ready) Launch(shard, std::move(ready));
  }

  // Writes waiting for a batch (a backlog gauge); takes mu_ briefly.
  size_t queued() {
    std::lock_guard lock(mu_);
    return queued_;
  }

 private:
  struct Pending {
    Item item;
    std::string key;
    Done done;
    DbPool::Clock::time_point deadline;
  };
  using Batch = std::vector<Pending>;
  struct Shard {
    std::deque<Pending> queue;
    bool busy = false;  // a batch of this shard is in flight
  };

  // The next batch of `shard` if it may start now; the caller launches it without holding mu_.
  std::shared_ptr<Batch> TakeBatchLocked(size_t shard) {
    Shard& s = shards_[shard];
    if (s.busy || s.queue.empty()) return nullptr;
    auto batch = std::make_shared<Batch>();
    size_t n = std::min(max_batch_, s.queue.size());
    batch->reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch->push_back(std::move(s.queue.front()));
      s.queue.pop_front();
    }
    queued_ -= n;
    s.busy = true;
    return batch;
  }

  void Launch(size_t shard, std::shared_ptr<Batch> batch) {
    // The batch's deadline is its most patient write's; writes already past theirs are
    // refused before the transaction.
    auto deadline = DbPool::Clock::time_point::min();
    for (const auto& p : *batch) deadline = std::max(deadline, p.deadline);
    pool_->Submit([this, shard, batch](pqxx::connection& conn) { Run(conn, shard, *batch); },
                  [this, shard, batch](const Error& e) {
                    for (auto& p : *batch) {
                      if (p.done) p.done(nullptr, &e);
                    }
                    BatchFinished(shard, *batch);
                  },
                  deadline);
  }

  void Run(pqxx::connection& conn, size_t shard, Batch& batch) {
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
    if (!items.empty()) {
      auto start = DbPool::Clock::now();
      results = write_(conn, items);
      if (metrics_.batch_size) metrics_.batch_size->Observe(static_cast<double>(items.size()));
      if (metrics_.commit_seconds) {
        metrics_.commit_seconds->Observe(
            std::chrono::duration<double>(DbPool::Clock::now() - start).count());
      }
    }
    for (size_t i = 0; i < live.size(); ++i) {
      live[i]->done(&results[i], nullptr);
      live[i]->done = nullptr;
    }
    BatchFinished(shard, batch);
  }

  void BatchFinished(size_t shard, const Batch& finished) {
    std::shared_ptr<Batch> ready;
    {
      std::lock_guard lock(mu_);
      for (const auto& p : finished) balancer_.Release(p.key);
      shards_[shard].busy = false;
      ready = TakeBatchLocked(shard);
    }
    if (ready) Launch(shard, std::move(ready));
  }

  DbPool* const pool_;
  const Write write_;
  const KeyOf key_of_;
  const size_t max_batch_;
  const size_t max_queue_;
  const GroupCommitMetrics metrics_;
  std::mutex mu_;
  std::vector<Shard> shards_;  // guarded by mu_ (the vector's size is fixed)
  ShardBalancer balancer_;     // guarded by mu_
  size_t queued_ = 0;          // guarded by mu_
};

}  // namespace bizrelay::store

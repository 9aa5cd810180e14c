#pragma once

#include <deque>
#include <functional>
#include <mutex>

#include "services/hosting/keyring.h"
#include "services/hosting/repository.h"
#include "services/store/db_pool.h"

namespace bizrelay::hosting {

// Group commit for user messages. Sends queue here; whenever a writer of `pool` is free, every
// queued send (up to `max_batch`) goes into one transaction (HostingRepository::
// PostUserMessages). While one batch commits the next one fills, so throughput grows with
// load while each send still returns only after its own commit.
//
// `done` runs exactly once per send, on a pool worker: with the result, or with the error that
// failed the whole batch (the database's; nothing of a failed batch is stored). Thread-safe.
class SendBatcher {
 public:
  using Done = std::function<void(const PostResult* result, const Error* error)>;

  // `pool` must outlive this; its worker count bounds the batches in flight.
  // Bodies are sealed with `keys`; `default_lifetime` is the operator's default retention.
  SendBatcher(store::DbPool* pool, KeyRing* keys, int64_t default_lifetime, int max_in_flight,
              size_t max_batch, size_t max_queue);

  void Submit(PostItem item, Done done, store::DbPool::Clock::time_point deadline);

 private:
  struct Pending {
    PostItem item;
    Done done;
    store::DbPool::Clock::time_point deadline;
  };
  using Batch = std::vector<Pending>;

  // Takes the batches that may start now; the caller submits them without holding mu_.
  std::vector<std::shared_ptr<Batch>> TakeBatchesLocked();
  void Launch(std::vector<std::shared_ptr<Batch>> batches);
  void BatchFinished();

  store::DbPool* const pool_;
  KeyRing* const keys_;
  const int64_t default_lifetime_;
  const int max_in_flight_;
  const size_t max_batch_;
  const size_t max_queue_;
  std::mutex mu_;
  std::deque<Pending> queue_;  // guarded by mu_
  int in_flight_ = 0;          // guarded by mu_
};

}  // namespace bizrelay::hosting

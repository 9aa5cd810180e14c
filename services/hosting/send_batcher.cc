#include "services/hosting/send_batcher.h"

namespace bizrelay::hosting {

SendBatcher::SendBatcher(store::DbPool* pool, KeyRing* keys, int64_t default_lifetime,
                         int max_in_flight, size_t max_batch, size_t max_queue)
    : pool_(pool),
      keys_(keys),
      default_lifetime_(default_lifetime),
      max_in_flight_(max_in_flight),
      max_batch_(max_batch),
      max_queue_(max_queue) {}

void SendBatcher::Submit(PostItem item, Done done, store::DbPool::Clock::time_point deadline) {
  std::vector<std::shared_ptr<Batch>> ready;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queue_) {
      Error busy(ErrorCode::kResourceExhausted, "SERVER_BUSY", "too many sends waiting",
                 {{"retry_delay_ms", "100"}});
      done(nullptr, &busy);
      return;
    }
    queue_.push_back({std::move(item), std::move(done), deadline});
    ready = TakeBatchesLocked();
  }
  Launch(std::move(ready));
}

std::vector<std::shared_ptr<SendBatcher::Batch>> SendBatcher::TakeBatchesLocked() {
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

void SendBatcher::Launch(std::vector<std::shared_ptr<Batch>> batches) {
  for (auto& batch : batches) {
    // The batch's deadline is its most patient send's; sends already past theirs are refused
    // before the transaction.
    auto deadline = store::DbPool::Clock::time_point::min();
    for (const auto& p : *batch) deadline = std::max(deadline, p.deadline);
    pool_->Submit(
        [this, batch](pqxx::connection& conn) {
          std::vector<PostItem> items;
          std::vector<Pending*> live;
          auto now = store::DbPool::Clock::now();
          for (auto& p : *batch) {
            if (!p.done) continue;  // answered on an earlier attempt of this batch
            if (p.deadline <= now) {
              Error late(ErrorCode::kDeadlineExceeded, "DEADLINE_EXCEEDED",
                         "deadline passed before the message was stored");
              p.done(nullptr, &late);
              p.done = nullptr;
              continue;
            }
            items.push_back(p.item);
            live.push_back(&p);
          }
          std::vector<PostResult> results;
          if (!items.empty()) {
            pqxx::work tx(conn);
            results = HostingRepository::PostUserMessages(tx, items, *keys_, default_lifetime_);
            tx.commit();
          }
          for (size_t i = 0; i < live.size(); ++i) {
            live[i]->done(&results[i], nullptr);
            live[i]->done = nullptr;
          }
          BatchFinished();
        },
        [this, batch](const Error& e) {
          for (auto& p : *batch) {
            if (p.done) p.done(nullptr, &e);
          }
          BatchFinished();
        },
        deadline);
  }
}

void SendBatcher::BatchFinished() {
  std::vector<std::shared_ptr<Batch>> ready;
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    ready = TakeBatchesLocked();
  }
  Launch(std::move(ready));
}

}  // namespace bizrelay::hosting

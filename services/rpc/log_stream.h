#pragma once

#include <grpcpp/support/server_callback.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "services/rpc/status.h"
#include "services/store/db_pool.h"
#include "services/store/notify_hub.h"

namespace bizrelay::rpc {

// A server stream of one owner's append-only log (positions increase per owner), from after a
// client-given position, that stays open and follows new entries as the hub wakes it.
//
// Flow control: one write in flight; events are read from the database a page at a time and
// the next page is read only when the current one is written, so a slow client holds at most
// one page in memory. Database reads run on the pool, never on a gRPC thread.
//
// Lifetime: owned by itself through `self_` until gRPC calls OnDone; database tasks hold a
// shared_ptr, so the object outlives any task in flight. Thread-safe.
template <typename Response>
class LogStream final : public grpc::ServerWriteReactor<Response>,
                        public store::NotifySubscriber,
                        public std::enable_shared_from_this<LogStream<Response>> {
 public:
  // Resolves the caller on a database worker: the owner id of the log, or throws.
  using Authenticate = std::function<std::string(pqxx::connection&)>;
  // Reads up to `limit` entries of `owner` after position `after` on a database worker,
  // appending them to `out` in order; returns the position of the last entry read (`after`
  // if none), which may be past the last appended if some were skipped.
  using Fetch = std::function<int64_t(pqxx::connection&, const std::string& owner, int64_t after,
                                      int limit, std::deque<Response>* out)>;

  struct Params {
    store::DbPool* pool;
    store::NotifyHub* hub;
    int page_size;
    std::chrono::milliseconds call_timeout;
  };

  static LogStream* Start(Params params, int64_t after, Authenticate auth, Fetch fetch) {
    auto stream = std::shared_ptr<LogStream>(new LogStream(params, after, std::move(fetch)));
    stream->self_ = stream;
    stream->Begin(std::move(auth));
    return stream.get();
  }

  void Wake() override {
    std::lock_guard lock(mu_);
    wake_pending_ = true;
    MaybeFetchLocked();
  }

  void Close() override {
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    queue_.pop_front();
    MaybeWriteLocked();
    MaybeFetchLocked();
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    bool registered;
    std::shared_ptr<LogStream> last;
    {
      std::lock_guard lock(mu_);
      registered = registered_;
      registered_ = false;
      last = std::move(self_);
    }
    if (registered) params_.hub->Remove(owner_, this);
  }

 private:
  LogStream(Params params, int64_t after, Fetch fetch)
      : params_(params), fetched_up_to_(after), fetch_(std::move(fetch)) {}

  void Begin(Authenticate auth) {
    auto self = this->shared_from_this();
    params_.pool->Submit(
        [self, auth](pqxx::connection& conn) {
          std::string owner = auth(conn);
          {
            std::lock_guard lock(self->mu_);
            if (self->finished_) return;
            self->owner_ = owner;
          }
          // Lock order: hub before stream, so Add runs without the stream's lock.
          bool added = self->params_.hub->Add(owner, self.get());
          bool undo = false;
          {
            std::lock_guard lock(self->mu_);
            if (!added) {
              self->FinishLocked(
                  rpc::ToGrpcStatus(Error(ErrorCode::kResourceExhausted, "TOO_MANY_STREAMS",
                                          "this principal has too many open streams")));
              return;
            }
            if (self->finished_) {
              undo = true;
            } else {
              self->registered_ = true;
              self->wake_pending_ = true;
              self->MaybeFetchLocked();
            }
          }
          if (undo) self->params_.hub->Remove(owner, self.get());
        },
        [self](const Error& e) {
          std::lock_guard lock(self->mu_);
          self->FinishLocked(rpc::ToGrpcStatus(e));
        },
        store::DbPool::Clock::now() + params_.call_timeout);
  }

  // Reads the next page if the stream wants more: a wake arrived or the last page was full,
  // nothing is being read, and everything read so far has been written.
  void MaybeFetchLocked() {
    if (finished_ || fetching_ || !registered_ || !queue_.empty() || writing_) return;
    if (!wake_pending_ && !page_was_full_) return;
    wake_pending_ = false;
    fetching_ = true;
    auto self = this->shared_from_this();
    int64_t after = fetched_up_to_;
    params_.pool->Submit(
        [self, after](pqxx::connection& conn) {
          std::deque<Response> page;
          int64_t last = self->fetch_(conn, self->owner_, after, self->params_.page_size, &page);
          std::lock_guard lock(self->mu_);
          self->fetching_ = false;
          self->page_was_full_ = last > after && page.size() > 0 &&
                                 static_cast<int>(page.size()) >= self->params_.page_size;
          // Entries skipped by the fetch (unreadable) still count as read: ask again.
          if (last > after && static_cast<int>(page.size()) < self->params_.page_size &&
              last - after >= self->params_.page_size) {
            self->page_was_full_ = true;
          }
          self->fetched_up_to_ = std::max(self->fetched_up_to_, last);
          for (auto& r : page) self->queue_.push_back(std::move(r));
          self->MaybeWriteLocked();
          self->MaybeFetchLocked();
        },
        [self](const Error& e) {
          std::lock_guard lock(self->mu_);
          self->fetching_ = false;
          self->FinishLocked(rpc::ToGrpcStatus(e));
        },
        store::DbPool::Clock::now() + params_.call_timeout);
  }

  void MaybeWriteLocked() {
    if (finished_ || writing_ || queue_.empty()) return;
    writing_ = true;
    this->StartWrite(&queue_.front());
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  const Params params_;
  std::mutex mu_;
  std::shared_ptr<LogStream> self_;  // guarded by mu_; dropped in OnDone
  std::string owner_;                // set once, before registered_
  bool registered_ = false;          // guarded by mu_
  int64_t fetched_up_to_;            // guarded by mu_
  std::deque<Response> queue_;       // guarded by mu_; front is the write in flight
  bool writing_ = false;             // guarded by mu_
  bool fetching_ = false;            // guarded by mu_
  bool wake_pending_ = false;        // guarded by mu_
  bool page_was_full_ = false;       // guarded by mu_
  bool finished_ = false;            // guarded by mu_
  const Fetch fetch_;
};

}  // namespace bizrelay::rpc

#include "services/webhooks/progress_writer.h"

#include <algorithm>
#include <tuple>

#include "services/platform/log.h"
#include "services/webhooks/webhook_repository.h"

namespace bizrelay::webhooks {
namespace {

// A batch that failed is tried again after this long (a new connection each time).
constexpr auto kRetryWait = std::chrono::milliseconds(200);

}  // namespace

ProgressWriter::ProgressWriter(std::string conninfo, std::string holder,
                               std::chrono::seconds retry_horizon, int64_t no_storage_grace_seconds)
    : conninfo_(std::move(conninfo)),
      holder_(std::move(holder)),
      retry_horizon_(retry_horizon),
      no_storage_grace_seconds_(no_storage_grace_seconds),
      thread_([this] { Loop(); }) {}

ProgressWriter::~ProgressWriter() { Stop(); }

void ProgressWriter::Push(ProgressItem item) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(item));
  }
  cv_.notify_all();
}

std::vector<ProgressOutcome> ProgressWriter::TakeOutcomes() {
  std::lock_guard lock(mu_);
  return std::exchange(outcomes_, {});
}

bool ProgressWriter::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return queue_.empty() && writing_ == 0; });
}

void ProgressWriter::Stop() {
  if (!thread_.joinable()) return;
  if (!Drain(std::chrono::seconds(5))) spdlog::warn("event=webhook_progress_not_written");
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

pqxx::connection& ProgressWriter::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(conninfo_);
  return *conn_;
}

void ProgressWriter::Loop() {
  while (true) {
    std::vector<ProgressItem> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
      writing_ = batch.size();
    }
    // Business order, each endpoint's items staying in the order they came.
    std::stable_sort(batch.begin(), batch.end(), [](const ProgressItem& a, const ProgressItem& b) {
      return std::tie(a.business_id, a.endpoint_id) < std::tie(b.business_id, b.endpoint_id);
    });
    std::vector<ProgressOutcome> outcomes;
    while (true) {
      try {
        outcomes.clear();
        Write(batch, &outcomes);
        break;
      } catch (const std::exception& e) {
        spdlog::warn("event=webhook_progress_write_failed items={} error=\"{}\"", batch.size(),
                     e.what());
        conn_.reset();
        std::unique_lock lock(mu_);
        // On the way out, what cannot be written is left: it is delivered again (at least once).
        if (cv_.wait_for(lock, kRetryWait, [this] { return stopping_; })) {
          writing_ = 0;
          cv_.notify_all();
          return;
        }
      }
    }
    {
      std::lock_guard lock(mu_);
      outcomes_.insert(outcomes_.end(), outcomes.begin(), outcomes.end());
      writing_ = 0;
    }
    cv_.notify_all();
  }
}

void ProgressWriter::Write(const std::vector<ProgressItem>& batch,
                           std::vector<ProgressOutcome>* outcomes) {
  pqxx::work tx(Conn());
  tx.exec0("SET LOCAL synchronous_commit = off");
  for (const auto& item : batch) {
    if (!item.failure) {
      if (!WebhookRepository::Delivered(tx, item.endpoint_id, holder_, item.floor, item.delivered,
                                        item.succeeded, no_storage_grace_seconds_)) {
        outcomes->push_back({item.endpoint_id, item.epoch, /*disabled=*/false});
      }
      continue;
    }
    auto failing = WebhookRepository::Failed(tx, item.endpoint_id, holder_, item.error);
    if (!failing) {
      outcomes->push_back({item.endpoint_id, item.epoch, /*disabled=*/false});
    } else if (*failing > retry_horizon_.count() &&
               WebhookRepository::DisableFailing(tx, item.endpoint_id, holder_,
                                                 "failing since " + std::to_string(*failing) +
                                                     " s, past webhooks.retry_horizon_seconds")) {
      spdlog::warn("event=webhook_endpoint_disabled endpoint_id={} failing_s={} error=\"{}\"",
                   item.endpoint_id, *failing, item.error);
      outcomes->push_back({item.endpoint_id, item.epoch, /*disabled=*/true});
    }
  }
  tx.commit();
}

}  // namespace bizrelay::webhooks

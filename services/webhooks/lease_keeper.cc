#include "services/webhooks/lease_keeper.h"

#include "services/platform/log.h"

namespace bizrelay::webhooks {

LeaseKeeper::LeaseKeeper(std::string conninfo, std::string holder, std::chrono::milliseconds lease,
                         std::chrono::milliseconds renew_interval, int max_endpoints,
                         std::function<void()> claimed)
    : conninfo_(std::move(conninfo)),
      holder_(std::move(holder)),
      lease_(lease),
      renew_interval_(renew_interval),
      max_endpoints_(max_endpoints),
      claimed_(std::move(claimed)),
      thread_([this] { Loop(); }) {}

LeaseKeeper::~LeaseKeeper() { Stop(); }

std::optional<std::vector<LeasedEndpoint>> LeaseKeeper::Take() {
  std::lock_guard lock(mu_);
  return std::exchange(latest_, std::nullopt);
}

void LeaseKeeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaseKeeper::Loop() {
  std::unique_ptr<pqxx::connection> conn;
  while (true) {
    auto next = std::chrono::steady_clock::now() + renew_interval_;
    try {
      if (!conn || !conn->is_open()) conn = std::make_unique<pqxx::connection>(conninfo_);
      pqxx::work tx(*conn);
      auto rows = WebhookRepository::Claim(tx, holder_, lease_.count(), max_endpoints_);
      tx.commit();
      {
        std::lock_guard lock(mu_);
        latest_ = std::move(rows);
      }
      claimed_();
    } catch (const std::exception& e) {
      spdlog::warn("event=webhook_claim_failed error=\"{}\"", e.what());
      conn.reset();
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_until(lock, next, [this] { return stopping_; })) return;
  }
}

}  // namespace bizrelay::webhooks

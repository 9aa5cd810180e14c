#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "services/webhooks/webhook_repository.h"

namespace bizrelay::webhooks {

// Takes and renews an instance's webhook endpoint leases (hosting.webhook_claim) every
// renew_interval, on a thread and a database connection of its own, so that the dispatcher's
// thread never waits for a lease's commit (which waits for the disk) between POSTs. A claim
// that fails is tried again at the next interval; the dispatcher stops sending for an endpoint
// whose lease ran out (LogPage::driven, checked with every read).
class LeaseKeeper {
 public:
  // `claimed` runs on the keeper's thread after each successful claim.
  LeaseKeeper(std::string conninfo, std::string holder, std::chrono::milliseconds lease,
              std::chrono::milliseconds renew_interval, int max_endpoints,
              std::function<void()> claimed);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The endpoints held after the latest claim, if one completed since the previous call.
  std::optional<std::vector<LeasedEndpoint>> Take();
  // Stops renewing (the leases run out unless released).
  void Stop();

 private:
  void Loop();

  const std::string conninfo_;
  const std::string holder_;
  const std::chrono::milliseconds lease_;
  const std::chrono::milliseconds renew_interval_;
  const int max_endpoints_;
  const std::function<void()> claimed_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::vector<LeasedEndpoint>> latest_;  // guarded by mu_
  bool stopping_ = false;                              // guarded by mu_
  std::thread thread_;
};

}  // namespace bizrelay::webhooks

#include "services/store/notify_hub.h"

#include <pqxx/pqxx>
#include <vector>

#include "services/platform/log.h"

namespace bizrelay::store {
class NotifyReceiver final : public pqxx::notification_receiver {
 public:
  NotifyReceiver(pqxx::connection_base& conn, const std::string& channel, NotifyHub* hub)
      : pqxx::notification_receiver(conn, channel), hub_(hub) {}
  void operator()(const std::string& payload, int) override { hub_->Noted(payload); }

 private:
  NotifyHub* hub_;
};

NotifyHub::NotifyHub(std::string conninfo, std::string channel, int max_streams_per_owner,
                     std::chrono::milliseconds coalesce, std::chrono::milliseconds resync_interval)
    : conninfo_(std::move(conninfo)),
      channel_(std::move(channel)),
      max_per_owner_(static_cast<size_t>(max_streams_per_owner)),
      coalesce_(coalesce),
      resync_interval_(resync_interval) {}

NotifyHub::~NotifyHub() { Stop(); }

void NotifyHub::Start() {
  listener_ = std::thread([this] { ListenLoop(); });
}

void NotifyHub::Stop() {
  if (stopping_.exchange(true)) return;
  std::vector<NotifySubscriber*> all;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    for (auto& [owner, set] : subscribers_) all.insert(all.end(), set.begin(), set.end());
    for (NotifySubscriber* s : all) s->Close();
  }
  if (listener_.joinable()) listener_.join();
}

bool NotifyHub::Add(const std::string& owner, NotifySubscriber* s) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (stopping_) return false;
  auto& set = subscribers_[owner];
  if (set.size() >= max_per_owner_) return false;
  set.insert(s);
  return true;
}

void NotifyHub::Remove(const std::string& owner, NotifySubscriber* s) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = subscribers_.find(owner);
  if (it == subscribers_.end()) return;
  it->second.erase(s);
  if (it->second.empty()) subscribers_.erase(it);
}

size_t NotifyHub::streams() const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [owner, set] : subscribers_) n += set.size();
  return n;
}

void NotifyHub::WakeOwner(const std::string& owner) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = subscribers_.find(owner);
  if (it == subscribers_.end()) return;
  std::vector<NotifySubscriber*> targets(it->second.begin(), it->second.end());
  for (NotifySubscriber* s : targets) s->Wake();
}

void NotifyHub::WakeAll() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  std::vector<NotifySubscriber*> targets;
  for (auto& [owner, set] : subscribers_) targets.insert(targets.end(), set.begin(), set.end());
  for (NotifySubscriber* s : targets) s->Wake();
}

void NotifyHub::ListenLoop() {
  while (!stopping_) {
    try {
      pqxx::connection conn(conninfo_);
      NotifyReceiver receiver(conn, channel_, this);
      // Anything committed while we were not listening is picked up by this wake.
      WakeAll();
      auto last_resync = std::chrono::steady_clock::now();
      auto last_wake = last_resync;
      while (!stopping_) {
        auto wait = pending_.empty() ? std::chrono::milliseconds(200) : coalesce_;
        conn.await_notification(0, static_cast<long>(wait.count() * 1000));
        auto now = std::chrono::steady_clock::now();
        if (!pending_.empty() && now - last_wake >= coalesce_) {
          for (const auto& owner : pending_) WakeOwner(owner);
          pending_.clear();
          last_wake = now;
        }
        if (std::chrono::steady_clock::now() - last_resync > resync_interval_) {
          WakeAll();
          last_resync = std::chrono::steady_clock::now();
        }
      }
    } catch (const std::exception& e) {
      spdlog::warn("event=notify_listener_lost channel={} error=\"{}\"", channel_, e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

}  // namespace bizrelay::store

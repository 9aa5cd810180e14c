#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace bizrelay::store {

// Something that wants to know when an owner's data may have grown.
class NotifySubscriber {
 public:
  virtual ~NotifySubscriber() = default;
  // Called from the hub's thread; must not block.
  virtual void Wake() = 0;
  // The server is stopping: end the stream so the client reconnects elsewhere.
  virtual void Close() = 0;
};

// Wakes live streams when their owner's data grows, across every bizrelayd instance on the
// database: writers NOTIFY `channel` with the owner id as payload at commit, and this hub
// LISTENs on its own connection. After a lost connection, and every
// `resync_interval`, it wakes every stream so that nothing waits on a missed notification.
// Thread-safe.
class NotifyHub {
 public:
  // Notifications for one owner within `coalesce` of each other wake its streams once: a busy
  // log is read in pages rather than a query per commit, at the cost of up to `coalesce` of
  // delivery latency.
  NotifyHub(std::string conninfo, std::string channel, int max_streams_per_owner,
            std::chrono::milliseconds coalesce = std::chrono::milliseconds(0),
            std::chrono::milliseconds resync_interval = std::chrono::seconds(5));
  ~NotifyHub();

  void Start();
  // Closes every stream and stops listening.
  void Stop();

  // Registers a stream of `owner`; false if the owner already has the most streams allowed.
  bool Add(const std::string& owner, NotifySubscriber* s);
  void Remove(const std::string& owner, NotifySubscriber* s);

  void WakeOwner(const std::string& owner);
  size_t streams() const;

 private:
  void ListenLoop();
  void WakeAll();
  void Noted(const std::string& owner) { pending_.insert(owner); }
  friend class NotifyReceiver;

  const std::string conninfo_;
  const std::string channel_;
  const size_t max_per_owner_;
  const std::chrono::milliseconds coalesce_;
  const std::chrono::milliseconds resync_interval_;
  std::set<std::string> pending_;  // owners notified since the last wake; listener thread only
  // Recursive: a stream that ends while being woken or closed removes itself on this thread.
  mutable std::recursive_mutex mu_;
  std::map<std::string, std::set<NotifySubscriber*>> subscribers_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace bizrelay::store

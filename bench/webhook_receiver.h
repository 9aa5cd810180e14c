#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bench/arrivals.h"

namespace httplib {
class Server;
}

namespace bizrelay::bench {

// The businesses' webhook receivers as the benchmark plays them: one keep-alive HTTP server on
// loopback (cpp-httplib, a thread per open connection), endpoint i at Url(i). It answers the
// verification handshake, checks every event's signature under the endpoint's secret as a
// receiver must (a POST that fails the check gets 401 and counts as bad), and keeps the send
// time of each user message (MessageText) with its arrival time.
class WebhookReceiver {
 public:
  // `threads`: connections served at once; must cover every connection the relay keeps open.
  explicit WebhookReceiver(int threads);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string Url(int endpoint) const;
  // The signing secret endpoint i checks against (before its events arrive).
  void SetSecret(int endpoint, std::string secret);

  const Arrivals& arrivals() const { return arrivals_; }
  uint64_t messages() const { return arrivals_.count(); }
  uint64_t bad_requests() const { return bad_.load(); }
  uint64_t verifications() const { return verifications_.load(); }

 private:
  int Handle(int endpoint, const std::string& signature, const std::string& body,
             std::string* answer);

  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<int, std::string> secrets_;  // guarded by mu_
  Arrivals arrivals_;
  std::atomic<uint64_t> bad_{0};
  std::atomic<uint64_t> verifications_{0};
};

}  // namespace bizrelay::bench

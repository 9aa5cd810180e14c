#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

namespace bizrelay::webhooks {

// What the dispatcher thread hands over to be written: delivery progress of an endpoint, or a
// failed attempt.
struct ProgressItem {
  std::string endpoint_id;
  std::string business_id;
  uint64_t epoch = 0;  // the dispatcher's epoch of the endpoint, returned in outcomes
  bool failure = false;
  // Progress: every event up to `floor` is done; `delivered` user messages got a 2xx;
  // `succeeded`: a 2xx came since the previous item.
  int64_t floor = 0;
  std::vector<std::string> delivered;
  bool succeeded = false;
  // Failure: what failed ("http 500", "transport: timeout").
  std::string error;
};

// What the dispatcher must act on: the endpoint is no longer its own (the lease ran out or
// went to another instance), or it was disabled for failing past the retry horizon.
struct ProgressOutcome {
  std::string endpoint_id;
  uint64_t epoch = 0;
  bool disabled = false;  // else: the lease was lost
};

// Writes what the dispatcher queues, on a connection and a thread of its own, so that the
// dispatcher's thread never waits for these writes between POSTs. Items are written in the
// order they were queued (per endpoint), each batch in one transaction that takes rows in
// business order (the same lock order in every instance); a batch that fails is written again
// until it succeeds, so no progress and no failure is lost while the process lives.
//
// The commits do not wait for the disk: progress a database crash loses is delivered again
// (same event ids) and a lost failure record only delays disabling, never loses an event.
class ProgressWriter {
 public:
  ProgressWriter(std::string conninfo, std::string holder, std::chrono::seconds retry_horizon,
                 int64_t no_storage_grace_seconds);
  ~ProgressWriter();
  ProgressWriter(const ProgressWriter&) = delete;
  ProgressWriter& operator=(const ProgressWriter&) = delete;

  void Push(ProgressItem item);
  std::vector<ProgressOutcome> TakeOutcomes();
  // Waits until everything queued so far is written, or `timeout` passed; false then.
  bool Drain(std::chrono::milliseconds timeout);
  // Drains (for up to 5 s) and stops the thread.
  void Stop();

 private:
  void Loop();
  void Write(const std::vector<ProgressItem>& batch, std::vector<ProgressOutcome>* outcomes);
  pqxx::connection& Conn();

  const std::string conninfo_;
  const std::string holder_;
  const std::chrono::seconds retry_horizon_;
  const int64_t no_storage_grace_seconds_;
  std::unique_ptr<pqxx::connection> conn_;  // the writer thread's
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ProgressItem> queue_;         // guarded by mu_
  size_t writing_ = 0;                     // guarded by mu_: items taken, not yet written
  std::vector<ProgressOutcome> outcomes_;  // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  std::thread thread_;
};

}  // namespace bizrelay::webhooks

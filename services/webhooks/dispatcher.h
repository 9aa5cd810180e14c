#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/hosting/keyring.h"
#include "services/metrics/metrics.h"
#include "services/store/notify_hub.h"
#include "services/webhooks/http_client.h"
#include "services/webhooks/lease_keeper.h"
#include "services/webhooks/progress_writer.h"
#include "services/webhooks/webhook_repository.h"

namespace bizrelay::webhooks {

// What the dispatcher reports (each may be null). No label names an endpoint or a business.
struct WebhookMetrics {
  metrics::Counter* delivered = nullptr;  // events that got a 2xx
  metrics::Counter* failed = nullptr;     // attempts that did not
  metrics::Counter* skipped = nullptr;    // events expired or shredded before their turn
  metrics::Gauge* endpoints = nullptr;    // endpoints this instance drives
  metrics::Gauge* in_flight = nullptr;    // POSTs on their way
  metrics::Gauge* waiting = nullptr;      // events read and not yet delivered, all endpoints
};

struct DispatcherOptions {
  HttpOptions http;
  // Events that may be in flight at once per endpoint (each from a different conversation).
  int max_in_flight_per_endpoint = 16;
  // Undelivered events of an endpoint held in memory (ids and positions; a body only for a
  // moment): those waiting behind a failing event of their conversation, plus a read-ahead of
  // 8 x max_in_flight_per_endpoint. When conversations held back by failures fill it, the
  // endpoint's other conversations wait too.
  int window = 4096;
  // Endpoints one instance drives at most.
  int max_endpoints = 1000;
  std::chrono::milliseconds lease{5000};
  std::chrono::milliseconds renew_interval{1000};
  // How long an endpoint may fail without a success before it is disabled.
  std::chrono::seconds retry_horizon{7 * 86400};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{std::chrono::hours(1)};
  // Delivered progress is written at most this often per endpoint.
  std::chrono::milliseconds flush_interval{20};
  int64_t default_lifetime_seconds = 30 * 86400;
  int64_t no_storage_grace_seconds = 3600;
  WebhookMetrics metrics;
};

// Delivers inbox events to webhook endpoints. One thread drives every endpoint this instance
// holds a lease on, over one HttpClient and one database connection of its own (reads only);
// a LeaseKeeper takes and renews the leases every renew_interval (so a dead instance's
// endpoints are taken over within `lease` + renew_interval) and a ProgressWriter writes what
// was delivered, each on its own thread, so that no commit holds up the POSTs.
//
// Per endpoint, events are read from the business's log after its delivered position, in
// order. A conversation's next event is POSTed only after the previous one got a 2xx;
// different conversations go in parallel, up to max_in_flight_per_endpoint. A body is opened
// from hosted storage when it is sent (read again for every retry), so an expired or shredded
// message is never sent. Failed events wait with exponential backoff and jitter (Retry-After
// on 429 and 503), blocking only their own conversation; an endpoint failing for longer than
// retry_horizon is disabled. Before the first event, and after a URL change or a test request,
// the endpoint must echo a challenge.
class Dispatcher {
 public:
  // `hub` (may be null) wakes the dispatcher when a business's log grows; without it, or
  // besides it, every endpoint's log is read at least every poll interval.
  Dispatcher(std::string conninfo, hosting::KeyRing* keys, store::NotifyHub* hub,
             DispatcherOptions options);
  ~Dispatcher();
  void Start();
  // Stops the thread and lets go of every lease, so another instance takes over at once.
  void Stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Event {
    std::string conversation_id;
    std::string message_id;  // a user message: its 2xx makes it DELIVERED
    std::string payload;     // JSON; kept only while fresh (see kFreshFor)
    Clock::time_point read_at;
    bool in_flight = false;
    int failures = 0;
    Clock::time_point not_before;
  };
  struct Endpoint;
  class Waker;

  void Loop();
  // Takes up the endpoints of a claim's result and drops those no longer held.
  void Apply(std::vector<LeasedEndpoint> rows);
  void Drop(const std::string& endpoint_id);
  // How many events to read into the endpoint's window now (0: none).
  int Room(Endpoint& ep, Clock::time_point now);
  // Reads the next events of every endpoint with room in one statement; lets go of those no
  // longer driven (disabled, changed, taken over, business offboarded or disabled).
  void ReadLogs();
  void TakePage(Endpoint& ep, LogPage page, int room);
  // Sends the verification challenge or the events whose turn it is.
  void Pump(Endpoint& ep);
  enum class Refreshed { kFresh, kGone, kNotDriven };
  // Reads the event's body again: kGone if its message expired, was shredded or erased.
  Refreshed Refresh(Endpoint& ep, int64_t position, Event& ev);
  // POSTs the event; false if the endpoint was let go instead.
  bool Send(Endpoint& ep, int64_t position, Event& ev);
  // Stops driving an endpoint disabled, changed or taken over since the lease was renewed,
  // after writing its progress (so nothing delivered goes again); what is in flight finishes.
  void LetGo(Endpoint& ep);
  void SendChallenge(Endpoint& ep);
  void OnEventResult(const std::string& endpoint_id, uint64_t epoch, int64_t position,
                     HttpResult result);
  void OnChallengeResult(const std::string& endpoint_id, uint64_t epoch,
                         const std::string& challenge, HttpResult result);
  // Sends the conversation's next event at once if it is in the window and may go, rather than
  // at the next turn of the loop (which first reads every endpoint's log). Send may let go of
  // the endpoint: `ep` is not to be used after.
  void SendNext(Endpoint& ep, const std::string& conversation);
  void MarkDone(Endpoint& ep, int64_t position);
  void RecordFailure(Endpoint& ep, const std::string& error);
  // Hands the delivered progress of `eps` to the writer.
  void Flush(std::vector<Endpoint*> eps);
  // Drops the endpoints the writer found lost or disabled.
  void TakeOutcomes();
  // Flushes every endpoint whose progress waited flush_interval (every one with progress if
  // `force`).
  void FlushDue(bool force);
  std::vector<std::string> Headers(const Endpoint& ep, const std::string& event_id,
                                   const std::string& body) const;
  Endpoint* Find(const std::string& endpoint_id, uint64_t epoch);
  void UpdateGauges() const;
  pqxx::connection& Conn();

  const std::string conninfo_;
  hosting::KeyRing* const keys_;
  store::NotifyHub* const hub_;
  const DispatcherOptions options_;
  const std::string holder_;  // this instance's lease id
  // Everything below is used by the dispatcher thread only.
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<ProgressWriter> writer_;
  std::unique_ptr<LeaseKeeper> leases_;
  std::map<std::string, std::unique_ptr<Endpoint>> endpoints_;
  uint64_t next_epoch_ = 1;
  std::mt19937_64 rng_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace bizrelay::webhooks

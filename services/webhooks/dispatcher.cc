#include "services/webhooks/dispatcher.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <tuple>

#include "services/hosting/chats.h"
#include "services/hosting/convert.h"
#include "services/hosting/event_repository.h"
#include "services/platform/log.h"
#include "services/platform/token.h"
#include "services/webhooks/retry.h"
#include "services/webhooks/signature.h"
#include "services/webhooks/webhook_desk.h"

namespace bizrelay::webhooks {
namespace {

// A body read from hosted storage is sent within this long or read again: an event waiting
// behind its conversation's failing predecessor never keeps plaintext, and a message that
// expires meanwhile is not sent.
constexpr auto kFreshFor = std::chrono::seconds(1);
// Every endpoint's log is read at least this often, whatever the notifications say.
constexpr auto kPollInterval = std::chrono::seconds(1);
constexpr auto kIdleWait = std::chrono::milliseconds(100);
// The fewest events a read asks for while the endpoint's window is filling.
constexpr int kMinPage = 64;
// Endpoints read by one statement: bounds its result (each asks for up to its read-ahead,
// 8 x max_in_flight_per_endpoint events) while one round trip still serves many endpoints.
constexpr size_t kEndpointsPerRead = 32;

int KindBit(hosting::EventKind kind) {
  switch (kind) {
    case hosting::EventKind::kMessage:
    case hosting::EventKind::kReaction:  // a reaction is part of the chat's messages
      return kMessageBit;
    case hosting::EventKind::kStatus:
      return kStatusBit;
    default:
      return kNoticeBit;
  }
}

std::string EventJson(const hosting::EventRow& row) {
  v1::StreamInboxResponse event;
  hosting::ToProto(row, &event);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(event, &json).ok()) {
    throw std::runtime_error("event does not convert to JSON");
  }
  return json;
}

void Count(metrics::Counter* counter) {
  if (counter != nullptr) counter->Add();
}

std::string Describe(const HttpResult& r) {
  return r.status != 0 ? "http " + std::to_string(r.status) : "transport: " + r.error;
}

bool Is2xx(const HttpResult& r) { return r.status >= 200 && r.status < 300; }

// The challenge echoed as the whole body (whitespace around it ignored) or as a JSON object's
// "challenge".
bool Echoes(const std::string& body, const std::string& challenge) {
  size_t start = body.find_first_not_of(" \t\r\n");
  size_t end = body.find_last_not_of(" \t\r\n");
  if (start != std::string::npos && body.substr(start, end - start + 1) == challenge) return true;
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return json.is_object() && json.contains("challenge") && json["challenge"].is_string() &&
         json["challenge"].get<std::string>() == challenge;
}

}  // namespace

// Wakes the dispatcher when the business's log grows. Called on the hub's thread.
class Dispatcher::Waker final : public store::NotifySubscriber {
 public:
  explicit Waker(HttpClient* http) : http_(http) {}
  void Wake() override {
    woken.store(true);
    http_->Wakeup();
  }
  void Close() override {}
  std::atomic<bool> woken{true};

 private:
  HttpClient* const http_;
};

struct Dispatcher::Endpoint {
  LeasedEndpoint lease;
  std::vector<std::string> secrets;  // opened; the current one first
  uint64_t epoch = 0;
  int64_t read_position = 0;
  // Events read and not yet done, by position: one leaves as soon as it is delivered or given
  // up on, so a failing conversation holds only its own events here, never the done ones of
  // the others behind it.
  std::map<int64_t, Event> window;
  std::map<std::string, std::deque<int64_t>> conversations;  // positions in the window, in order
  int in_flight = 0;
  bool more = true;
  Clock::time_point next_read;
  // Progress not yet written.
  std::vector<std::string> delivered;
  bool succeeded = false;
  bool dirty = false;
  Clock::time_point last_flush;
  // The verification handshake.
  bool verifying = false;
  int verify_failures = 0;
  Clock::time_point verify_not_before;
  std::unique_ptr<Waker> waker;
  bool subscribed = false;

  // Every event up to here is done.
  int64_t Floor() const { return window.empty() ? read_position : window.begin()->first - 1; }
};

Dispatcher::Dispatcher(std::string conninfo, hosting::KeyRing* keys, store::NotifyHub* hub,
                       DispatcherOptions options)
    : conninfo_(std::move(conninfo)),
      keys_(keys),
      hub_(hub),
      options_(std::move(options)),
      holder_(TimeOrderedUuid()),
      http_(std::make_unique<HttpClient>(options_.http)),
      rng_(std::random_device{}()) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  writer_ = std::make_unique<ProgressWriter>(conninfo_, holder_, options_.retry_horizon,
                                             options_.no_storage_grace_seconds);
  leases_ =
      std::make_unique<LeaseKeeper>(conninfo_, holder_, options_.lease, options_.renew_interval,
                                    options_.max_endpoints, [this] { http_->Wakeup(); });
  thread_ = std::thread([this] { Loop(); });
  spdlog::info("event=webhook_dispatcher_started lease_ms={} retry_horizon_s={}",
               options_.lease.count(), options_.retry_horizon.count());
}

void Dispatcher::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  http_->Wakeup();
  thread_.join();
}

pqxx::connection& Dispatcher::Conn() {
  if (!conn_ || !conn_->is_open()) {
    conn_ = std::make_unique<pqxx::connection>(conninfo_);
  }
  return *conn_;
}

void Dispatcher::Loop() {
  while (!stopping_.load()) {
    try {
      if (auto held = leases_->Take()) Apply(std::move(*held));
      std::vector<std::string> ids;
      for (const auto& [id, ep] : endpoints_) ids.push_back(id);
      bool dirty = false;
      ReadLogs();
      for (const auto& id : ids) {
        auto it = endpoints_.find(id);
        if (it == endpoints_.end()) continue;
        Pump(*it->second);
      }
      http_->Run(std::chrono::milliseconds(0));
      FlushDue(false);
      TakeOutcomes();
      for (const auto& [id, ep] : endpoints_) dirty = dirty || ep->dirty;
      UpdateGauges();
      http_->Run(dirty ? options_.flush_interval : kIdleWait);
    } catch (const std::exception& e) {
      spdlog::warn("event=webhook_dispatcher_failed error=\"{}\"", e.what());
      std::vector<std::string> ids;
      for (const auto& [id, ep] : endpoints_) ids.push_back(id);
      for (const auto& id : ids) Drop(id);
      conn_.reset();
      // The endpoints are taken up again with the next claim.
      for (int i = 0; i < 10 && !stopping_.load(); ++i) http_->Run(kIdleWait);
    }
  }
  try {
    leases_->Stop();
    FlushDue(true);
    writer_->Stop();
    pqxx::work tx(Conn());
    WebhookRepository::Release(tx, holder_);
    tx.commit();
  } catch (const std::exception& e) {
    spdlog::warn("event=webhook_release_failed error=\"{}\"", e.what());
  }
  std::vector<std::string> ids;
  for (const auto& [id, ep] : endpoints_) ids.push_back(id);
  for (const auto& id : ids) Drop(id);
  conn_.reset();
}

void Dispatcher::Apply(std::vector<LeasedEndpoint> rows) {
  std::set<std::string> held;
  for (auto& row : rows) {
    held.insert(row.endpoint_id);
    auto it = endpoints_.find(row.endpoint_id);
    if (it != endpoints_.end() && it->second->lease.generation == row.generation &&
        it->second->secrets.size() == (row.previous_secret ? 2u : 1u)) {
      continue;
    }
    if (it != endpoints_.end()) Drop(row.endpoint_id);
    std::vector<std::string> secrets;
    {
      pqxx::nontransaction tx(Conn());
      auto key = keys_->DataKey(tx, row.business_id, /*create=*/false);
      if (!key) continue;  // offboarded: the secret is shredded with the data key
      for (const auto* sealed :
           {&row.secret, row.previous_secret ? &*row.previous_secret : nullptr}) {
        if (sealed == nullptr) continue;
        auto secret = WebhookDesk::OpenSecret(*key, row.business_id, row.endpoint_id, *sealed);
        if (secret) secrets.push_back(std::move(*secret));
      }
    }
    if (secrets.empty()) {
      spdlog::error("event=webhook_secret_does_not_open endpoint_id={}", row.endpoint_id);
      continue;
    }
    auto ep = std::make_unique<Endpoint>();
    ep->lease = std::move(row);
    ep->secrets = std::move(secrets);
    ep->epoch = next_epoch_++;
    ep->read_position = ep->lease.delivered_position;
    ep->waker = std::make_unique<Waker>(http_.get());
    if (hub_ != nullptr) ep->subscribed = hub_->Add(ep->lease.business_id, ep->waker.get());
    spdlog::info("event=webhook_endpoint_driven endpoint_id={} generation={} verified={}",
                 ep->lease.endpoint_id, ep->lease.generation, ep->lease.verified);
    std::string id = ep->lease.endpoint_id;
    endpoints_[id] = std::move(ep);
  }
  std::vector<std::string> gone;
  for (const auto& [id, ep] : endpoints_) {
    if (!held.contains(id)) gone.push_back(id);
  }
  for (const auto& id : gone) Drop(id);
}

void Dispatcher::Drop(const std::string& endpoint_id) {
  auto it = endpoints_.find(endpoint_id);
  if (it == endpoints_.end()) return;
  if (it->second->subscribed && hub_ != nullptr) {
    hub_->Remove(it->second->lease.business_id, it->second->waker.get());
  }
  spdlog::info("event=webhook_endpoint_released endpoint_id={}", endpoint_id);
  // Transfers still in flight finish; their results find no endpoint of their epoch.
  endpoints_.erase(it);
}

void Dispatcher::UpdateGauges() const {
  const WebhookMetrics& m = options_.metrics;
  if (m.endpoints != nullptr) m.endpoints->Set(static_cast<double>(endpoints_.size()));
  if (m.in_flight != nullptr) m.in_flight->Set(static_cast<double>(http_->in_flight()));
  if (m.waiting != nullptr) {
    size_t waiting = 0;
    for (const auto& [id, ep] : endpoints_) waiting += ep->window.size();
    m.waiting->Set(static_cast<double>(waiting));
  }
}

Dispatcher::Endpoint* Dispatcher::Find(const std::string& endpoint_id, uint64_t epoch) {
  auto it = endpoints_.find(endpoint_id);
  if (it == endpoints_.end() || it->second->epoch != epoch) return nullptr;
  return it->second.get();
}

int Dispatcher::Room(Endpoint& ep, Clock::time_point now) {
  if (!ep.lease.verified) return 0;
  bool woken = ep.waker->woken.exchange(false);
  if (!woken && !ep.more && now < ep.next_read) return 0;
  // Read ahead enough to keep every slot busy, few enough that each is sent while its body is
  // fresh; events held back behind a failing one do not count, up to the window. A full
  // read-ahead is read into again once a page's worth left it, not for every event.
  int held = 0;
  for (const auto& [conversation, queue] : ep.conversations) {
    if (ep.window.at(queue.front()).failures > 0) held += static_cast<int>(queue.size());
  }
  int target =
      std::min(options_.window, held + std::max(kMinPage, 8 * options_.max_in_flight_per_endpoint));
  int room = target - static_cast<int>(ep.window.size());
  if (room >= std::min(target, kMinPage)) return room;
  ep.more = true;
  return 0;
}

void Dispatcher::ReadLogs() {
  auto now = Clock::now();
  std::vector<std::pair<Endpoint*, int>> due;  // with their room
  for (auto& [id, ep] : endpoints_) {
    if (int room = Room(*ep, now); room > 0) due.emplace_back(ep.get(), room);
  }
  for (size_t first = 0; first < due.size(); first += kEndpointsPerRead) {
    size_t end = std::min(due.size(), first + kEndpointsPerRead);
    std::vector<LogRead> reads;
    for (size_t i = first; i < end; ++i) {
      const Endpoint& ep = *due[i].first;
      reads.push_back({.endpoint_id = ep.lease.endpoint_id,
                       .generation = ep.lease.generation,
                       .business_id = ep.lease.business_id,
                       .after = ep.read_position,
                       .limit = due[i].second});
    }
    std::vector<LogPage> pages;
    {
      pqxx::nontransaction tx(Conn());
      pages = WebhookRepository::ReadLogs(tx, holder_, reads, options_.default_lifetime_seconds);
      // Costs a query only for a page with media attached.
      for (auto& page : pages) hosting::OpenBodies(tx, *keys_, &page.events);
    }
    for (size_t i = first; i < end; ++i) {
      auto& [ep, room] = due[i];
      if (pages[i - first].driven) {
        TakePage(*ep, std::move(pages[i - first]), room);
      } else {
        LetGo(*ep);
      }
    }
  }
}

void Dispatcher::TakePage(Endpoint& ep, LogPage page, int room) {
  int64_t before = ep.Floor();
  // A full page: there may be more right behind it.
  ep.more = page.read >= room;
  ep.read_position = page.last_read;
  auto now = Clock::now();
  ep.next_read = now + kPollInterval;
  for (const auto& row : page.events) {
    if ((ep.lease.event_kinds & KindBit(row.kind)) == 0) continue;
    auto& queue = ep.conversations[row.conversation_id];
    // Behind a failing event the body is not kept: it is read again when its turn comes.
    bool blocked = !queue.empty() && ep.window.at(queue.front()).failures > 0;
    Event ev{.conversation_id = row.conversation_id,
             .message_id = "",
             .payload = blocked ? "" : EventJson(row),
             .read_at = now};
    if (row.kind == hosting::EventKind::kMessage &&
        row.message.direction == hosting::Direction::kUserToBusiness) {
      ev.message_id = row.message_id;
    }
    queue.push_back(row.position);
    ep.window.emplace(row.position, std::move(ev));
  }
  if (ep.Floor() != before) ep.dirty = true;
}

void Dispatcher::Pump(Endpoint& ep) {
  auto now = Clock::now();
  if (!ep.lease.verified) {
    if (!ep.verifying && now >= ep.verify_not_before) SendChallenge(ep);
    return;
  }
  std::vector<int64_t> ready;
  for (const auto& [conversation, queue] : ep.conversations) {
    if (ep.in_flight + static_cast<int>(ready.size()) >= options_.max_in_flight_per_endpoint) {
      break;
    }
    const Event& ev = ep.window.at(queue.front());
    if (!ev.in_flight && now >= ev.not_before) ready.push_back(queue.front());
  }
  for (int64_t position : ready) {
    auto it = ep.window.find(position);
    if (it != ep.window.end() && !Send(ep, position, it->second)) return;  // let go
  }
}

Dispatcher::Refreshed Dispatcher::Refresh(Endpoint& ep, int64_t position, Event& ev) {
  std::vector<LogPage> pages;
  {
    pqxx::nontransaction tx(Conn());
    pages = WebhookRepository::ReadLogs(tx, holder_,
                                        {{.endpoint_id = ep.lease.endpoint_id,
                                          .generation = ep.lease.generation,
                                          .business_id = ep.lease.business_id,
                                          .after = position - 1,
                                          .limit = 1}},
                                        options_.default_lifetime_seconds);
    hosting::OpenBodies(tx, *keys_, &pages[0].events);
  }
  if (!pages[0].driven) return Refreshed::kNotDriven;
  const auto& rows = pages[0].events;
  if (rows.empty() || rows[0].position != position) return Refreshed::kGone;
  ev.payload = EventJson(rows[0]);
  ev.read_at = Clock::now();
  return Refreshed::kFresh;
}

void Dispatcher::LetGo(Endpoint& ep) {
  std::string id = ep.lease.endpoint_id;
  spdlog::info("event=webhook_endpoint_let_go endpoint_id={}", id);
  Flush({&ep});
  Drop(id);
}

std::vector<std::string> Dispatcher::Headers(const Endpoint& ep, const std::string& event_id,
                                             const std::string& body) const {
  return {"Bizrelay-Event-Id: " + event_id, "Bizrelay-Endpoint-Id: " + ep.lease.endpoint_id,
          "Bizrelay-Signature: " +
              SignatureHeader(static_cast<int64_t>(time(nullptr)), body, ep.secrets)};
}

bool Dispatcher::Send(Endpoint& ep, int64_t position, Event& ev) {
  if (ev.payload.empty() || Clock::now() - ev.read_at > kFreshFor) {
    ev.payload.clear();
    switch (Refresh(ep, position, ev)) {
      case Refreshed::kFresh:
        break;
      case Refreshed::kGone:
        // Expired, shredded or erased since it was logged: never sent.
        Count(options_.metrics.skipped);
        MarkDone(ep, position);
        return true;
      case Refreshed::kNotDriven:
        LetGo(ep);
        return false;
    }
  }
  std::string body = std::move(ev.payload);
  ev.payload.clear();
  ev.in_flight = true;
  ++ep.in_flight;
  std::string id = ep.lease.endpoint_id;
  uint64_t epoch = ep.epoch;
  auto headers = Headers(ep, std::to_string(position), body);
  http_->Post(ep.lease.url, headers, std::move(body),
              [this, id, epoch, position](HttpResult result) {
                OnEventResult(id, epoch, position, std::move(result));
              });
  return true;
}

void Dispatcher::SendChallenge(Endpoint& ep) {
  std::string challenge = ToHex(RandomBytes(16));
  nlohmann::json body = {{"type", "bizrelay.verification"}, {"challenge", challenge}};
  std::string text = body.dump();
  ep.verifying = true;
  std::string id = ep.lease.endpoint_id;
  uint64_t epoch = ep.epoch;
  auto headers = Headers(ep, "verification", text);
  http_->Post(ep.lease.url, headers, std::move(text),
              [this, id, epoch, challenge](HttpResult result) {
                OnChallengeResult(id, epoch, challenge, std::move(result));
              });
}

void Dispatcher::OnChallengeResult(const std::string& endpoint_id, uint64_t epoch,
                                   const std::string& challenge, HttpResult result) {
  Endpoint* ep = Find(endpoint_id, epoch);
  if (ep == nullptr) return;
  ep->verifying = false;
  if (Is2xx(result) && Echoes(result.body, challenge)) {
    pqxx::work tx(Conn());
    WebhookRepository::Verified(tx, endpoint_id, holder_, ep->lease.generation);
    tx.commit();
    ep->lease.verified = true;
    ep->verify_failures = 0;
    spdlog::info("event=webhook_endpoint_verified endpoint_id={}", endpoint_id);
    return;
  }
  ++ep->verify_failures;
  ep->verify_not_before = Clock::now() + RetryDelay(ep->verify_failures, options_.backoff_initial,
                                                    options_.backoff_max, rng_);
  RecordFailure(*ep, Is2xx(result) ? "verification: the answer did not echo the challenge"
                                   : "verification: " + Describe(result));
}

void Dispatcher::OnEventResult(const std::string& endpoint_id, uint64_t epoch, int64_t position,
                               HttpResult result) {
  Endpoint* ep = Find(endpoint_id, epoch);
  if (ep == nullptr) return;
  auto it = ep->window.find(position);
  if (it == ep->window.end()) return;
  Event& ev = it->second;
  ev.in_flight = false;
  --ep->in_flight;
  if (Is2xx(result)) {
    Count(options_.metrics.delivered);
    if (!ev.message_id.empty()) ep->delivered.push_back(ev.message_id);
    ep->succeeded = true;
    std::string conversation = ev.conversation_id;
    MarkDone(*ep, position);
    SendNext(*ep, conversation);
    return;
  }
  Count(options_.metrics.failed);
  ++ev.failures;
  std::chrono::milliseconds delay =
      RetryDelay(ev.failures, options_.backoff_initial, options_.backoff_max, rng_);
  if ((result.status == 429 || result.status == 503) && result.retry_after) {
    delay = std::min<std::chrono::milliseconds>(*result.retry_after, options_.retry_horizon);
  }
  ev.not_before = Clock::now() + delay;
  // What waits behind it is read again when its turn comes.
  for (int64_t later : ep->conversations[ev.conversation_id]) ep->window[later].payload.clear();
  spdlog::debug("event=webhook_attempt_failed endpoint_id={} position={} error=\"{}\" retry_ms={}",
                endpoint_id, position, Describe(result), delay.count());
  RecordFailure(*ep, Describe(result));
}

void Dispatcher::SendNext(Endpoint& ep, const std::string& conversation) {
  auto conv = ep.conversations.find(conversation);
  if (conv == ep.conversations.end()) return;
  int64_t position = conv->second.front();
  Event& next = ep.window.at(position);
  if (next.in_flight || ep.in_flight >= options_.max_in_flight_per_endpoint ||
      Clock::now() < next.not_before) {
    return;
  }
  Send(ep, position, next);
}

void Dispatcher::MarkDone(Endpoint& ep, int64_t position) {
  auto it = ep.window.find(position);
  if (it == ep.window.end()) return;
  auto conv = ep.conversations.find(it->second.conversation_id);
  if (conv != ep.conversations.end()) {
    auto& queue = conv->second;
    queue.erase(std::remove(queue.begin(), queue.end(), position), queue.end());
    if (queue.empty()) ep.conversations.erase(conv);
  }
  ep.window.erase(it);
  ep.dirty = true;
}

void Dispatcher::RecordFailure(Endpoint& ep, const std::string& error) {
  // Progress first: what succeeded before this failure stays delivered.
  Flush({&ep});
  writer_->Push({.endpoint_id = ep.lease.endpoint_id,
                 .business_id = ep.lease.business_id,
                 .epoch = ep.epoch,
                 .failure = true,
                 .error = error});
}

void Dispatcher::FlushDue(bool force) {
  auto now = Clock::now();
  std::vector<Endpoint*> due;
  for (auto& [id, ep] : endpoints_) {
    if (ep->dirty && (force || now - ep->last_flush >= options_.flush_interval)) {
      due.push_back(ep.get());
    }
  }
  Flush(std::move(due));
}

void Dispatcher::Flush(std::vector<Endpoint*> eps) {
  auto now = Clock::now();
  for (Endpoint* ep : eps) {
    if (!ep->dirty) continue;
    writer_->Push({.endpoint_id = ep->lease.endpoint_id,
                   .business_id = ep->lease.business_id,
                   .epoch = ep->epoch,
                   .floor = ep->Floor(),
                   .delivered = std::exchange(ep->delivered, {}),
                   .succeeded = ep->succeeded});
    ep->succeeded = false;
    ep->dirty = false;
    ep->last_flush = now;
  }
}

void Dispatcher::TakeOutcomes() {
  for (const auto& outcome : writer_->TakeOutcomes()) {
    if (Find(outcome.endpoint_id, outcome.epoch) != nullptr) Drop(outcome.endpoint_id);
  }
}

}  // namespace bizrelay::webhooks

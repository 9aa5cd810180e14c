#include "services/hosting/sweeper.h"

#include <pqxx/pqxx>

#include "services/hosting/media_repository.h"
#include "services/platform/log.h"

namespace bizrelay::hosting {
namespace {

// The rows are found by expiry, locked (skipping what another sweeper holds) and deleted by
// their physical address: locked rows cannot move, and a TID scan needs no second index walk.
constexpr const char* kDeleteExpired =
    "DELETE FROM hosting.messages WHERE ctid = ANY (ARRAY("
    "  SELECT ctid FROM hosting.messages WHERE expires_at <= now() "
    "  ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED))";

constexpr const char* kDeleteOldEvents =
    "DELETE FROM hosting.events WHERE (owner_id, position) IN ("
    "  SELECT owner_id, position FROM hosting.events "
    "  WHERE message_id IS NULL AND created_at < now() - make_interval(secs => $2) "
    "  LIMIT $1 FOR UPDATE SKIP LOCKED)";

constexpr const char* kLag =
    "SELECT coalesce(extract(epoch from now() - min(expires_at)), 0)::float8 "
    "FROM hosting.messages WHERE expires_at <= now()";

}  // namespace

Sweeper::Sweeper(std::string conninfo, std::chrono::milliseconds interval, int batch,
                 int64_t max_lifetime_seconds, SweeperMetrics metrics)
    : conninfo_(std::move(conninfo)),
      interval_(interval),
      batch_(batch),
      max_lifetime_seconds_(max_lifetime_seconds),
      metrics_(metrics) {}

Sweeper::~Sweeper() { Stop(); }

void Sweeper::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Sweeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SweepReport Sweeper::SweepOnce(const std::string& conninfo, int batch,
                               int64_t max_lifetime_seconds) {
  pqxx::connection conn(conninfo);
  SweepReport report;
  while (true) {
    pqxx::work tx(conn);
    auto n = tx.exec_params0(kDeleteExpired, batch).affected_rows();
    tx.commit();
    report.deleted_messages += static_cast<int64_t>(n);
    if (static_cast<int>(n) < batch) break;
  }
  while (true) {
    pqxx::work tx(conn);
    int64_t n = MediaRepository::DeleteExpiredPending(tx, batch);
    tx.commit();
    report.deleted_media += n;
    if (n < batch) break;
  }
  while (true) {
    pqxx::work tx(conn);
    auto n = tx.exec_params0(kDeleteOldEvents, batch, max_lifetime_seconds).affected_rows();
    tx.commit();
    report.deleted_events += static_cast<int64_t>(n);
    if (static_cast<int>(n) < batch) break;
  }
  pqxx::read_transaction tx(conn);
  report.lag_seconds = tx.exec1(kLag)[0].as<double>();
  return report;
}

void Sweeper::Loop() {
  while (true) {
    try {
      auto start = std::chrono::steady_clock::now();
      SweepReport r = SweepOnce(conninfo_, batch_, max_lifetime_seconds_);
      total_deleted_ += r.deleted_messages;
      if (metrics_.deleted_messages) {
        metrics_.deleted_messages->Add(static_cast<uint64_t>(r.deleted_messages));
      }
      if (metrics_.deleted_events) {
        metrics_.deleted_events->Add(static_cast<uint64_t>(r.deleted_events));
      }
      if (metrics_.deleted_media) {
        metrics_.deleted_media->Add(static_cast<uint64_t>(r.deleted_media));
      }
      if (metrics_.lag_seconds) metrics_.lag_seconds->Set(r.lag_seconds);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
      if (r.deleted_messages > 0 || r.deleted_events > 0 || r.deleted_media > 0) {
        spdlog::info(
            "event=sweep deleted_messages={} deleted_events={} deleted_unattached_media={} "
            "lag_s={:.3f} took_ms={}",
            r.deleted_messages, r.deleted_events, r.deleted_media, r.lag_seconds, ms);
      } else {
        spdlog::debug("event=sweep deleted_messages=0 lag_s={:.3f}", r.lag_seconds);
      }
    } catch (const std::exception& e) {
      spdlog::warn("event=sweep_failed error=\"{}\"", e.what());
      if (metrics_.failures) metrics_.failures->Add();
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) return;
  }
}

}  // namespace bizrelay::hosting

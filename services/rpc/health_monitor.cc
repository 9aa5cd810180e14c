#include "services/rpc/health_monitor.h"

#include <utility>

#include "services/platform/log.h"
#include "services/store/conninfo.h"

namespace bizrelay::rpc {
namespace {

std::string ProbeConnInfo(const std::string& conninfo) {
  std::string c = store::WithConnParam(conninfo, "connect_timeout", "2");
  c = store::WithConnParam(c, "tcp_user_timeout", "3000");
  return store::WithConnParam(c, "application_name", "bizrelayd-health");
}

}  // namespace

DatabaseHealthMonitor::DatabaseHealthMonitor(Options options, std::vector<Target> targets)
    : options_(std::move(options)),
      probe_conninfo_(ProbeConnInfo(options_.conninfo)),
      targets_(std::move(targets)) {}

DatabaseHealthMonitor::~DatabaseHealthMonitor() { Stop(); }

void DatabaseHealthMonitor::Start() {
  if (options_.up != nullptr) options_.up->Set(1);
  thread_ = std::thread([this] { Loop(); });
}

void DatabaseHealthMonitor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool DatabaseHealthMonitor::Probe() {
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!conn_) {
        conn_ = std::make_unique<pqxx::connection>(probe_conninfo_);
        pqxx::nontransaction(*conn_).exec0("SET statement_timeout = 2000");
      }
      pqxx::nontransaction(*conn_).exec1("SELECT 1");
      return true;
    } catch (const std::exception& e) {
      conn_.reset();
      if (attempt == 1 && up()) {
        spdlog::warn("event=database_probe_failed path={} error=\"{}\"", options_.name, e.what());
      }
    }
  }
  return false;
}

void DatabaseHealthMonitor::Publish(bool up) {
  if (up == this->up()) return;
  up_.store(up, std::memory_order_relaxed);
  if (options_.up != nullptr) options_.up->Set(up ? 1 : 0);
  auto status = up ? grpc::health::v1::HealthCheckResponse::SERVING
                   : grpc::health::v1::HealthCheckResponse::NOT_SERVING;
  for (const auto& t : targets_) {
    for (const auto& s : t.services) t.health->SetStatus(s, status);
  }
  if (up) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - down_since_)
                  .count();
    spdlog::info("event=database_reachable path={} health=SERVING down_ms={}", options_.name, ms);
  } else {
    down_since_ = std::chrono::steady_clock::now();
    spdlog::error("event=database_unreachable path={} health=NOT_SERVING", options_.name);
  }
}

void DatabaseHealthMonitor::ReportOutage() {
  {
    std::lock_guard lock(mu_);
    outage_reported_ = true;
  }
  cv_.notify_all();
}

void DatabaseHealthMonitor::Loop() {
  auto hold_down_until = std::chrono::steady_clock::time_point::min();
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, options_.interval, [this] { return stopping_ || outage_reported_; });
    if (stopping_) return;
    bool outage = std::exchange(outage_reported_, false);
    lock.unlock();
    if (outage) {
      Publish(false);
      hold_down_until = std::chrono::steady_clock::now() + options_.interval;
    } else {
      bool answered = Probe();
      if (!answered || std::chrono::steady_clock::now() >= hold_down_until) Publish(answered);
    }
    lock.lock();
  }
}

}  // namespace bizrelay::rpc

#include "services/rpc/health_service.h"

namespace bizrelay::rpc {

using grpc::health::v1::HealthCheckResponse;

// One Watch stream. At most one write in flight; a status change that arrives during a write
// replaces any not-yet-sent one, so a slow client only ever gets the latest status.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* owner, std::string service)
      : owner_(owner), service_(std::move(service)) {}

  // Called with owner_->mu_ held.
  void Push(ServingStatus status, bool last) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    pending_ = status;
    finish_after_pending_ = finish_after_pending_ || last;
    MaybeWriteLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    MaybeWriteLocked();
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      std::lock_guard lock(owner_->mu_);
      owner_->watchers_.erase(this);
    }
    delete this;
  }

 private:
  void MaybeWriteLocked() {
    if (writing_ || finished_) return;
    if (pending_.has_value()) {
      if (last_sent_ == *pending_ && !finish_after_pending_) {
        pending_.reset();
        return;
      }
      response_.set_status(*pending_);
      last_sent_ = *pending_;
      pending_.reset();
      writing_ = true;
      StartWrite(&response_);
      return;
    }
    if (finish_after_pending_) FinishLocked(grpc::Status::OK);
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  HealthService* const owner_;
  const std::string service_;
  std::mutex mu_;
  HealthCheckResponse response_;          // guarded by mu_; owned by the write in flight
  std::optional<ServingStatus> pending_;  // guarded by mu_
  std::optional<ServingStatus> last_sent_;
  bool writing_ = false;
  bool finished_ = false;
  bool finish_after_pending_ = false;

  friend class HealthService;
};

HealthService::ServingStatus HealthService::StatusLocked(const std::string& service) const {
  auto it = statuses_.find(service);
  if (it == statuses_.end()) return HealthCheckResponse::SERVICE_UNKNOWN;
  return it->second;
}

void HealthService::SetStatus(const std::string& service, ServingStatus status) {
  std::lock_guard lock(mu_);
  if (shut_down_) return;
  statuses_[service] = status;
  for (Watcher* w : watchers_) {
    if (w->service_ == service) w->Push(status, false);
  }
}

void HealthService::Shutdown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  for (Watcher* w : watchers_) w->Push(StatusLocked(w->service_), true);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx,
                                               const grpc::health::v1::HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  ServingStatus status;
  {
    std::lock_guard lock(mu_);
    status = StatusLocked(request->service());
  }
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    response->set_status(status);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext*, const grpc::health::v1::HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  std::lock_guard lock(mu_);
  watchers_.insert(watcher);
  watcher->Push(StatusLocked(request->service()), shut_down_);
  return watcher;
}

}  // namespace bizrelay::rpc

#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"

namespace bizrelay::rpc {

// grpc.health.v1.Health, compiled from our own descriptor so that server reflection lists it.
// The empty service name stands for the whole server. Thread-safe.
class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  void SetStatus(const std::string& service, ServingStatus status);
  // Marks every service NOT_SERVING and ends every Watch after that last update; later
  // Watch calls get the status once and end.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  ServingStatus StatusLocked(const std::string& service) const;

  std::mutex mu_;
  std::map<std::string, ServingStatus> statuses_;  // guarded by mu_
  std::set<Watcher*> watchers_;                    // guarded by mu_
  bool shut_down_ = false;                         // guarded by mu_
};

}  // namespace bizrelay::rpc

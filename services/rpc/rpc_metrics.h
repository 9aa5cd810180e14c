#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "services/metrics/metrics.h"

namespace bizrelay::rpc {

// Counts the calls of one gRPC server and their latency (from the call's arrival to its
// status), by service, method and status code:
//   bizrelay_grpc_server_handled_total{server,service,method,code}
//   bizrelay_grpc_server_handling_seconds{server,service,method,code} (histogram)
// Only methods of the services named at construction get their own label; any other path a
// client sends (it is the client's text) is counted as service="other", method="other".
// A series appears at the first call that ends with its code. Recording is lock-free except
// the first time a (method, code) pair is seen. Thread-safe; must outlive its servers.
class RpcMetrics {
 public:
  // `server` names the listener ("public", "personal", "operator"); `services` are full
  // service names found in the generated descriptor pool.
  RpcMetrics(metrics::Registry* registry, std::string server,
             const std::vector<std::string>& services);

  // For ServerBuilder::experimental().SetInterceptorCreators; the factory refers to this.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  static constexpr size_t kCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED
  struct Series {
    metrics::Counter* handled;
    metrics::Histogram* seconds;
  };
  struct Method {
    std::string service;
    std::string name;
    std::array<std::atomic<Series*>, kCodes> by_code{};  // published once, under mu_
  };
  class Interceptor;
  class Factory;

  Method* Find(std::string_view path);
  void Record(Method* method, grpc::StatusCode code, std::chrono::steady_clock::duration took);

  metrics::Registry* const registry_;
  const std::string server_;
  struct PathHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Built in the constructor, read-only afterwards: lookups take no lock (and no copy of the
  // path).
  std::unordered_map<std::string, std::unique_ptr<Method>, PathHash, std::equal_to<>> methods_;
  Method other_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Series>> series_;  // guarded by mu_
};

}  // namespace bizrelay::rpc

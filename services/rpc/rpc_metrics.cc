#include "services/rpc/rpc_metrics.h"

#include <google/protobuf/descriptor.h>

namespace bizrelay::rpc {
namespace {

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  auto i = static_cast<size_t>(code);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

}  // namespace

class RpcMetrics::Interceptor final : public grpc::experimental::Interceptor {
 public:
  Interceptor(RpcMetrics* owner, Method* method)
      : owner_(owner), method_(method), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      owner_->Record(method_, methods->GetSendStatus().error_code(),
                     std::chrono::steady_clock::now() - start_);
    }
    methods->Proceed();
  }

 private:
  RpcMetrics* const owner_;
  Method* const method_;
  const std::chrono::steady_clock::time_point start_;
};

class RpcMetrics::Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(RpcMetrics* owner) : owner_(owner) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new Interceptor(owner_, owner_->Find(info->method()));
  }

 private:
  RpcMetrics* const owner_;
};

RpcMetrics::RpcMetrics(metrics::Registry* registry, std::string server,
                       const std::vector<std::string>& services)
    : registry_(registry), server_(std::move(server)) {
  other_.service = "other";
  other_.name = "other";
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& name : services) {
    const auto* service = pool->FindServiceByName(name);
    if (service == nullptr) continue;  // its calls count as "other"
    for (int i = 0; i < service->method_count(); ++i) {
      auto m = std::make_unique<Method>();
      m->service = name;
      m->name = service->method(i)->name();
      methods_["/" + name + "/" + m->name] = std::move(m);
    }
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<Factory>(this);
}

RpcMetrics::Method* RpcMetrics::Find(std::string_view path) {
  auto it = methods_.find(path);
  return it == methods_.end() ? &other_ : it->second.get();
}

void RpcMetrics::Record(Method* method, grpc::StatusCode code,
                        std::chrono::steady_clock::duration took) {
  size_t i = static_cast<size_t>(code) < kCodes ? static_cast<size_t>(code)
                                                : static_cast<size_t>(grpc::StatusCode::UNKNOWN);
  Series* s = method->by_code[i].load(std::memory_order_acquire);
  if (s == nullptr) {
    std::lock_guard lock(mu_);
    s = method->by_code[i].load(std::memory_order_acquire);
    if (s == nullptr) {
      metrics::Labels labels = {{"server", server_},
                                {"service", method->service},
                                {"method", method->name},
                                {"code", CodeName(static_cast<grpc::StatusCode>(i))}};
      auto series = std::make_unique<Series>(
          Series{registry_->AddCounter("bizrelay_grpc_server_handled_total",
                                       "gRPC calls completed, by method and status code.", labels),
                 registry_->AddHistogram("bizrelay_grpc_server_handling_seconds",
                                         "Time from a call's arrival to its status, in seconds.",
                                         labels, metrics::LatencyBuckets())});
      s = series.get();
      series_.push_back(std::move(series));
      method->by_code[i].store(s, std::memory_order_release);
    }
  }
  s->handled->Add();
  s->seconds->Observe(std::chrono::duration<double>(took).count());
}

}  // namespace bizrelay::rpc

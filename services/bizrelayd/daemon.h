#pragma once

#include <grpcpp/server.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "services/auth/authenticator.h"
#include "services/bizrelayd/config.h"
#include "services/crypto/blind_rsa.h"
#include "services/hosting/keyring.h"
#include "services/hosting/media_streams.h"
#include "services/hosting/rules.h"
#include "services/hosting/send_batcher.h"
#include "services/hosting/sweeper.h"
#include "services/metrics/exporter.h"
#include "services/metrics/metrics.h"
#include "services/personal/personal_relay_service.h"
#include "services/platform/rate_limiter.h"
#include "services/rpc/health_monitor.h"
#include "services/rpc/health_service.h"
#include "services/rpc/rpc_metrics.h"
#include "services/rpc/unary.h"
#include "services/store/db_pool.h"
#include "services/store/embedded_postgres.h"
#include "services/store/notify_hub.h"
#include "services/webhooks/dispatcher.h"

namespace bizrelay::daemon {

// The wiring of one bizrelayd process: database (embedded or external), migrations, the
// services of its roles, and their listeners. Start and Stop are called from one thread.
class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();

  // Brings everything up; throws std::runtime_error with a message for the operator.
  void Start();
  // Graceful stop: health NOT_SERVING, no new calls, in-flight calls get shutdown.grace_ms,
  // then the pool and (if embedded) PostgreSQL stop.
  void Stop();

  int public_port() const { return public_port_; }
  int operator_port() const { return operator_port_; }
  int personal_port() const { return personal_port_; }
  int metrics_port() const { return metrics_port_; }

 private:
  std::string ResolveOperatorTokenHash();
  // The master key ring from configuration (generated under data_dir if none is set), with
  // data keys of earlier master keys re-wrapped.
  std::unique_ptr<hosting::KeyRing> LoadKeyRing(pqxx::connection& conn);
  std::unique_ptr<crypto::BlindRsaPrivateKey> LoadTokenIssuer();
  void StartWebhooks(const std::string& conninfo);
  webhooks::TargetPolicy WebhookTargetPolicy() const;
  void StartPersonal(const store::DbPoolOptions& base, const rpc::RpcEnv& hosting_env);
  std::shared_ptr<grpc::ServerCredentials> Credentials() const;
  // A listener serving `services` and `health`; with metrics on, its calls are counted under
  // the server label `name`.
  // SERVING is set for "" and `service_names`.
  std::unique_ptr<grpc::Server> BuildServer(const std::string& name, const std::string& address,
                                            const std::vector<grpc::Service*>& services,
                                            const std::vector<std::string>& service_names,
                                            rpc::HealthService* health, int* port);
  bool metrics_on() const { return !config_.listen_metrics.empty(); }
  // With metrics on, a counter/gauge/histogram registered in registry_; with them off, null
  // (every recorder takes null as "do not record").
  metrics::Counter* Counter(const std::string& name, const std::string& help,
                            metrics::Labels labels = {});
  metrics::Gauge* Gauge(const std::string& name, const std::string& help,
                        metrics::Labels labels = {});
  store::GroupCommitMetrics GroupCommitInstruments(const std::string& path);
  // Backlog and stream gauges read at each scrape; the objects must outlive the exporter.
  void ExportPoolGauges(const std::string& pool_name, store::DbPool* pool);
  // A path's writer pool, group-commit backlog and open streams.
  void ExportPathGauges(const std::string& path, store::DbPool* writer_pool, store::NotifyHub* hub,
                        std::function<double()> group_commit_queued);
  // Health of `path`'s servers follows its database (see DatabaseHealthMonitor).
  void MonitorDatabase(const std::string& path, const std::string& conninfo,
                       std::vector<rpc::DatabaseHealthMonitor::Target> targets);
  void WriteReadyFile() const;

  Config config_;
  // Declared first so that it outlives everything that records into it. Instruments are
  // registered only when metrics are on.
  metrics::Registry registry_;
  // One per gRPC server; each outlives its server (declared before them).
  std::vector<std::unique_ptr<rpc::RpcMetrics>> rpc_metrics_;
  std::unique_ptr<store::EmbeddedPostgres> embedded_;
  std::unique_ptr<store::DbPool> pool_;
  // Group commit of user messages runs on its own connections.
  std::unique_ptr<store::DbPool> writer_pool_;
  hosting::HostingOptions hosting_options_;
  std::unique_ptr<hosting::SendBatcher> batcher_;
  std::unique_ptr<store::NotifyHub> hub_;
  std::unique_ptr<RateLimiter> send_limiter_;
  std::unique_ptr<hosting::UploadSlots> upload_slots_;
  std::unique_ptr<hosting::KeyRing> keys_;
  std::unique_ptr<hosting::Sweeper> sweeper_;
  // Webhook delivery: its own wake-ups and its own database connection.
  std::unique_ptr<store::NotifyHub> webhook_hub_;
  std::unique_ptr<webhooks::Dispatcher> webhook_dispatcher_;
  std::unique_ptr<crypto::BlindRsaPrivateKey> token_issuer_;
  // The personal path: its own pool and hub, connected as the personal database role.
  std::unique_ptr<store::DbPool> personal_pool_;
  std::unique_ptr<store::NotifyHub> personal_hub_;
  std::unique_ptr<personal::SendTokenVerifier> token_verifier_;
  std::unique_ptr<RateLimiter> personal_limiter_;
  std::unique_ptr<personal::PersonalRelay> personal_relay_;
  // Group commit of sealed sends runs on its own connections.
  std::unique_ptr<store::DbPool> personal_writer_pool_;
  std::unique_ptr<personal::SealedBatcher> sealed_batcher_;
  std::unique_ptr<grpc::Server> personal_server_;
  std::thread personal_sweeper_;
  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool sweep_stop_ = false;  // guarded by sweep_mu_
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<RateLimiter> registrations_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::vector<std::unique_ptr<rpc::HealthService>> health_;
  std::unique_ptr<grpc::Server> public_server_;
  std::unique_ptr<grpc::Server> operator_server_;
  int public_port_ = 0;
  int operator_port_ = 0;
  int personal_port_ = 0;
  int metrics_port_ = 0;
  // Each server's health service and service names ("" included), by server name, for the
  // database monitors.
  std::map<std::string, rpc::DatabaseHealthMonitor::Target> health_targets_;
  std::vector<std::unique_ptr<rpc::DatabaseHealthMonitor>> monitors_;
  std::unique_ptr<metrics::HttpExporter> exporter_;
  bool stopped_ = false;
};

}  // namespace bizrelay::daemon

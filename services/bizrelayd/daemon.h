#pragma once

#include <grpcpp/server.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "services/auth/authenticator.h"
#include "services/bizrelayd/config.h"
#include "services/crypto/blind_rsa.h"
#include "services/hosting/keyring.h"
#include "services/hosting/rules.h"
#include "services/hosting/send_batcher.h"
#include "services/hosting/sweeper.h"
#include "services/personal/personal_relay_service.h"
#include "services/platform/rate_limiter.h"
#include "services/rpc/health_service.h"
#include "services/rpc/unary.h"
#include "services/store/db_pool.h"
#include "services/store/embedded_postgres.h"
#include "services/store/notify_hub.h"

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

 private:
  std::string ResolveOperatorTokenHash();
  // The master key ring from configuration (generated under data_dir if none is set), with
  // data keys of earlier master keys re-wrapped.
  std::unique_ptr<hosting::KeyRing> LoadKeyRing(pqxx::connection& conn);
  std::unique_ptr<crypto::BlindRsaPrivateKey> LoadTokenIssuer();
  void StartPersonal(const store::DbPoolOptions& base, const rpc::RpcEnv& hosting_env);
  std::shared_ptr<grpc::ServerCredentials> Credentials() const;
  std::unique_ptr<grpc::Server> BuildServer(const std::string& address,
                                            const std::vector<grpc::Service*>& services, int* port);
  void WriteReadyFile() const;

  Config config_;
  std::unique_ptr<store::EmbeddedPostgres> embedded_;
  std::unique_ptr<store::DbPool> pool_;
  // Group commit of user messages runs on its own connections.
  std::unique_ptr<store::DbPool> writer_pool_;
  hosting::HostingOptions hosting_options_;
  std::unique_ptr<hosting::SendBatcher> batcher_;
  std::unique_ptr<store::NotifyHub> hub_;
  std::unique_ptr<RateLimiter> send_limiter_;
  std::unique_ptr<hosting::KeyRing> keys_;
  std::unique_ptr<hosting::Sweeper> sweeper_;
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
  bool stopped_ = false;
};

}  // namespace bizrelay::daemon

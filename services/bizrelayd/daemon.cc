#include "services/bizrelayd/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "services/account/account_service.h"
#include "services/hosting/business_service.h"
#include "services/hosting/user_chat_service.h"
#include "services/media/content_type.h"
#include "services/operator/operator_service.h"
#include "services/personal/personal_relay_service.h"
#include "services/personal/personal_sweeper.h"
#include "services/platform/log.h"
#include "services/platform/token.h"
#include "services/store/conninfo.h"
#include "services/store/durability.h"
#include "services/store/migrator.h"
#include "services/webhooks/webhook_service.h"

namespace bizrelay::daemon {
namespace fs = std::filesystem;
using ServingStatus = grpc::health::v1::HealthCheckResponse;

namespace {

std::string ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(what + ": cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// The connection string of a path's database role: `explicit_url` if set, else `base` with
// the role as user (libpq takes the last `user` given).
std::string RoleConnInfo(const std::string& base, const std::string& role,
                         const std::string& explicit_url) {
  if (!explicit_url.empty()) return explicit_url;
  return store::WithConnParam(base, "user", role);
}

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)) {}

Daemon::~Daemon() { Stop(); }

std::string Daemon::ResolveOperatorTokenHash() {
  if (!config_.operator_token_sha256.empty()) {
    std::string hash;
    if (!FromHex(config_.operator_token_sha256, &hash)) {
      throw std::runtime_error("operator.token_sha256: not hex");
    }
    return hash;
  }
  std::string path = config_.operator_token_file;
  if (path.empty()) {
    path = (fs::path(config_.data_dir) / "operator.token").string();
    if (!fs::exists(path)) {
      fs::create_directories(config_.data_dir);
      std::ofstream out(path);
      out << GenerateToken("bro_") << "\n";
      out.close();
      fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace);
      spdlog::info("event=operator_token_generated path={}", path);
    }
  }
  std::string token = Trim(ReadFile(path, "operator.token_file"));
  if (token.size() < 16) throw std::runtime_error("operator token in " + path + " is too short");
  return Sha256(token);
}

std::shared_ptr<grpc::ServerCredentials> Daemon::Credentials() const {
  if (config_.tls_plaintext) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      config_.tls_client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : (config_.tls_require_client_cert
                 ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                 : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY));
  if (!config_.tls_client_ca_file.empty()) {
    options.pem_root_certs = ReadFile(config_.tls_client_ca_file, "tls.client_ca_file");
  }
  options.pem_key_cert_pairs.push_back({ReadFile(config_.tls_key_file, "tls.key_file"),
                                        ReadFile(config_.tls_cert_file, "tls.cert_file")});
  return grpc::SslServerCredentials(options);
}

std::unique_ptr<grpc::Server> Daemon::BuildServer(const std::string& name,
                                                  const std::string& address,
                                                  const std::vector<grpc::Service*>& services,
                                                  const std::vector<std::string>& service_names,
                                                  rpc::HealthService* health, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, Credentials(), port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.limits_max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.limits_max_message_bytes) * 4);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config_.limits_max_concurrent_streams));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(config_.keepalive_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(config_.keepalive_timeout_ms));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(config_.keepalive_min_ping_interval_ms));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES,
                             static_cast<int>(config_.keepalive_max_ping_strikes));
  // Connections that never complete the HTTP/2 handshake are dropped.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 10000);
  for (grpc::Service* s : services) builder.RegisterService(s);
  builder.RegisterService(health);
  if (metrics_on()) {
    std::vector<std::string> counted = service_names;
    counted.push_back(grpc::health::v1::Health::service_full_name());
    counted.push_back("grpc.reflection.v1alpha.ServerReflection");
    rpc_metrics_.push_back(std::make_unique<rpc::RpcMetrics>(&registry_, name, counted));
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(rpc_metrics_.back()->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  auto server = builder.BuildAndStart();
  if (!server || *port == 0) throw std::runtime_error("cannot listen on " + address);
  health->SetStatus("", ServingStatus::SERVING);
  for (const auto& n : service_names) health->SetStatus(n, ServingStatus::SERVING);
  health_targets_[name] = {health, service_names};
  health_targets_[name].services.push_back("");
  spdlog::info("event=listening role={} address={} port={}", name, address, *port);
  return server;
}

std::unique_ptr<crypto::BlindRsaPrivateKey> Daemon::LoadTokenIssuer() {
  std::string path = config_.tokens_issuer_key_file;
  if (path.empty()) {
    path = (fs::path(config_.data_dir) / "token_issuer.pem").string();
    if (!fs::exists(path)) {
      fs::create_directories(config_.data_dir);
      std::ofstream(path) << crypto::BlindRsaPrivateKey::Generate(2048).ToPem();
      fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace);
      spdlog::info("event=token_issuer_key_generated path={}", path);
    }
  }
  auto key = std::make_unique<crypto::BlindRsaPrivateKey>(
      crypto::BlindRsaPrivateKey::FromPem(ReadFile(path, "tokens.issuer_key_file")));
  // The key id is not logged: the personal path's logs carry no token or key ids at all.
  spdlog::info("event=token_issuer_key_loaded bits={}", key->public_key().modulus_bits());
  return key;
}

void Daemon::StartPersonal(const store::DbPoolOptions& base, const rpc::RpcEnv& hosting_env) {
  std::string conninfo =
      RoleConnInfo(base.conninfo, config_.database_personal_role, config_.database_personal_url);
  store::DbPoolOptions options = base;
  options.conninfo = conninfo;
  options.application_name = "bizrelayd-personal";
  personal_pool_ = std::make_unique<store::DbPool>(options);
  personal_hub_ = std::make_unique<store::NotifyHub>(
      conninfo, "bizrelay_personal", static_cast<int>(config_.personal_max_streams_per_mailbox));
  personal_hub_->Start();
  token_verifier_ = std::make_unique<personal::SendTokenVerifier>(token_issuer_->public_key());
  double per_minute = static_cast<double>(config_.personal_sends_per_mailbox_per_minute);
  personal_limiter_ = std::make_unique<RateLimiter>(per_minute / 60.0, per_minute);
  personal::PersonalOptions p;
  p.max_envelope_bytes = static_cast<size_t>(config_.personal_max_envelope_bytes);
  p.max_mailbox_depth = static_cast<int>(config_.personal_max_mailbox_depth);
  p.sends_per_mailbox_per_minute = static_cast<int>(config_.personal_sends_per_mailbox_per_minute);
  p.envelope_ttl_days = static_cast<int>(config_.personal_envelope_ttl_days);
  p.max_streams_per_mailbox = static_cast<int>(config_.personal_max_streams_per_mailbox);
  p.access_cache_entries = static_cast<size_t>(config_.personal_access_cache_entries);
  personal_relay_ =
      std::make_unique<personal::PersonalRelay>(p, token_verifier_.get(), personal_limiter_.get());
  store::DbPoolOptions writer_options = options;
  writer_options.workers = static_cast<int>(config_.personal_writer_threads);
  writer_options.application_name = "bizrelayd-personal-writer";
  personal_writer_pool_ = std::make_unique<store::DbPool>(writer_options);
  sealed_batcher_ = personal::MakeSealedBatcher(
      personal_writer_pool_.get(), personal_relay_.get(), writer_options.workers,
      static_cast<size_t>(config_.personal_max_batch), options.max_queue,
      GroupCommitInstruments("personal"));
  rpc::RpcEnv env{.pool = personal_pool_.get(), .call_timeout = hosting_env.call_timeout};
  auto health = std::make_unique<rpc::HealthService>();
  auto relay = std::make_unique<personal::PersonalRelayServiceImpl>(
      env, personal_relay_.get(), sealed_batcher_.get(), personal_hub_.get(),
      Counter("bizrelay_send_tokens_spent_total",
              "Anonymous send tokens spent (sealed sends stored, mailboxes created)."));
  personal_server_ =
      BuildServer("personal", config_.listen_personal, {relay.get()},
                  {v1::PersonalRelayService::service_full_name()}, health.get(), &personal_port_);
  services_.push_back(std::move(relay));
  health_.push_back(std::move(health));
  ExportPoolGauges("personal", personal_pool_.get());
  ExportPathGauges("personal", personal_writer_pool_.get(), personal_hub_.get(),
                   [b = sealed_batcher_.get()] { return double(b->queued()); });
  MonitorDatabase("personal", conninfo, {health_targets_.at("personal")});
}

std::unique_ptr<hosting::KeyRing> Daemon::LoadKeyRing(pqxx::connection& conn) {
  hosting::MasterKey current;
  if (!config_.crypto_master_key_hex.empty()) {
    current = hosting::MasterKey::FromHex(config_.crypto_master_key_hex);
  } else {
    std::string path = config_.crypto_master_key_file;
    if (path.empty()) {
      path = (fs::path(config_.data_dir) / "master.key").string();
      if (!fs::exists(path)) {
        fs::create_directories(config_.data_dir);
        std::ofstream(path) << hosting::MasterKey::Generate().ToHex() << "\n";
        fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write,
                        fs::perm_options::replace);
        spdlog::info("event=master_key_generated path={}", path);
      }
    }
    current = hosting::MasterKey::FromHex(ReadFile(path, "crypto.master_key_file"));
  }
  std::vector<hosting::MasterKey> previous;
  std::stringstream files(config_.crypto_previous_master_key_files);
  std::string file;
  while (std::getline(files, file, ',')) {
    file = Trim(file);
    if (!file.empty()) {
      previous.push_back(
          hosting::MasterKey::FromHex(ReadFile(file, "crypto.previous_master_key_files")));
    }
  }
  auto keys = std::make_unique<hosting::KeyRing>(current, previous);
  pqxx::work tx(conn);
  int rewrapped = keys->RewrapAll(tx);
  tx.commit();
  spdlog::info("event=master_key_loaded id={} rewrapped_data_keys={}", keys->master_key_id(),
               rewrapped);
  return keys;
}

metrics::Counter* Daemon::Counter(const std::string& name, const std::string& help,
                                  metrics::Labels labels) {
  return metrics_on() ? registry_.AddCounter(name, help, std::move(labels)) : nullptr;
}

metrics::Gauge* Daemon::Gauge(const std::string& name, const std::string& help,
                              metrics::Labels labels) {
  return metrics_on() ? registry_.AddGauge(name, help, std::move(labels)) : nullptr;
}

store::GroupCommitMetrics Daemon::GroupCommitInstruments(const std::string& path) {
  if (!metrics_on()) return {};
  return {.batch_size = registry_.AddHistogram("bizrelay_group_commit_batch_size",
                                               "Writes stored per group-commit transaction.",
                                               {{"path", path}}, metrics::SizeBuckets()),
          .commit_seconds = registry_.AddHistogram(
              "bizrelay_group_commit_seconds",
              "Time to store one group-commit batch (durable when it ends), in seconds.",
              {{"path", path}}, metrics::LatencyBuckets())};
}

void Daemon::ExportPoolGauges(const std::string& pool_name, store::DbPool* pool) {
  if (!metrics_on() || pool == nullptr) return;
  registry_.AddCallbackGauge("bizrelay_db_pool_queued",
                             "Database tasks waiting for a worker of the pool.",
                             {{"pool", pool_name}}, [pool] { return double(pool->queued()); });
}

void Daemon::ExportPathGauges(const std::string& path, store::DbPool* writer_pool,
                              store::NotifyHub* hub, std::function<double()> group_commit_queued) {
  if (!metrics_on()) return;
  ExportPoolGauges(path + "_writer", writer_pool);
  registry_.AddCallbackGauge("bizrelay_group_commit_queued",
                             "Writes waiting for a group-commit batch.", {{"path", path}},
                             std::move(group_commit_queued));
  registry_.AddCallbackGauge("bizrelay_open_streams", "Open event streams.", {{"path", path}},
                             [hub] { return double(hub->streams()); });
}

void Daemon::MonitorDatabase(const std::string& path, const std::string& conninfo,
                             std::vector<rpc::DatabaseHealthMonitor::Target> targets) {
  rpc::DatabaseHealthMonitor::Options options{
      .name = path,
      .conninfo = conninfo,
      .interval = std::chrono::milliseconds(config_.health_probe_interval_ms),
      .up = Gauge("bizrelay_database_up",
                  "1 if the path's database answered its last health probe, else 0.",
                  {{"path", path}})};
  monitors_.push_back(
      std::make_unique<rpc::DatabaseHealthMonitor>(std::move(options), std::move(targets)));
  monitors_.back()->Start();
}

webhooks::TargetPolicy Daemon::WebhookTargetPolicy() const {
  return {.allow_plain_http = config_.webhooks_allow_plain_http,
          .allow_private_targets = config_.webhooks_allow_private_targets};
}

void Daemon::StartWebhooks(const std::string& conninfo) {
  webhooks::DispatcherOptions options;
  options.http.policy = WebhookTargetPolicy();
  options.http.connect_timeout = std::chrono::milliseconds(config_.webhooks_connect_timeout_ms);
  options.http.total_timeout = std::chrono::milliseconds(config_.webhooks_timeout_ms);
  options.http.max_response_bytes = static_cast<size_t>(config_.webhooks_max_response_bytes);
  options.http.ca_file = config_.webhooks_ca_file;
  options.max_in_flight_per_endpoint =
      static_cast<int>(config_.webhooks_max_in_flight_per_endpoint);
  options.lease = std::chrono::milliseconds(config_.webhooks_lease_ms);
  options.renew_interval = options.lease / 5;
  options.retry_horizon = std::chrono::seconds(config_.webhooks_retry_horizon_seconds);
  options.backoff_initial = std::chrono::milliseconds(config_.webhooks_backoff_initial_ms);
  options.backoff_max = std::chrono::milliseconds(config_.webhooks_backoff_max_ms);
  options.default_lifetime_seconds = config_.retention_default_seconds;
  options.no_storage_grace_seconds = config_.retention_no_storage_grace_seconds;
  options.metrics = {
      .delivered = Counter("bizrelay_webhook_events_total",
                           "Webhook events by outcome: delivered (2xx), or skipped (expired or "
                           "shredded before their turn).",
                           {{"outcome", "delivered"}}),
      .failed = Counter("bizrelay_webhook_failed_attempts_total",
                        "Webhook POSTs answered with anything but a 2xx, or not answered."),
      .skipped = Counter("bizrelay_webhook_events_total",
                         "Webhook events by outcome: delivered (2xx), or skipped (expired or "
                         "shredded before their turn).",
                         {{"outcome", "skipped"}}),
      .endpoints = Gauge("bizrelay_webhook_endpoints", "Webhook endpoints this instance drives."),
      .in_flight = Gauge("bizrelay_webhook_in_flight", "Webhook POSTs on their way."),
      .waiting = Gauge("bizrelay_webhook_waiting_events",
                       "Webhook events read and not yet delivered, over this instance's "
                       "endpoints.")};
  // Wakes within 5 ms of each other are one read of the business's log.
  webhook_hub_ = std::make_unique<store::NotifyHub>(conninfo, "bizrelay_mailbox", 1000000,
                                                    std::chrono::milliseconds(5));
  webhook_hub_->Start();
  webhook_dispatcher_ =
      std::make_unique<webhooks::Dispatcher>(conninfo, keys_.get(), webhook_hub_.get(), options);
  webhook_dispatcher_->Start();
}

void Daemon::WriteReadyFile() const {
  if (config_.ready_file.empty()) return;
  nlohmann::json ready = {{"public_port", public_port_},
                          {"operator_port", operator_port_},
                          {"personal_port", personal_port_},
                          {"metrics_port", metrics_port_}};
  std::string tmp = config_.ready_file + ".tmp";
  std::ofstream(tmp) << ready.dump() << "\n";
  fs::rename(tmp, config_.ready_file);
}

void Daemon::Start() {
  grpc::EnableDefaultHealthCheckService(false);
  if (config_.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::string conninfo = config_.database_url;
  if (conninfo.empty()) {
    store::EmbeddedPostgresOptions options{.data_dir = config_.data_dir,
                                           .bin_dir = config_.database_embedded_bin_dir};
    embedded_ = std::make_unique<store::EmbeddedPostgres>(options);
    embedded_->Start();
    conninfo = embedded_->ConnInfo();
  }

  store::DbPoolOptions pool_options{
      .conninfo = conninfo,
      .workers = static_cast<int>(config_.database_pool_size),
      .max_queue = static_cast<size_t>(config_.database_max_queue),
      .statement_timeout = std::chrono::milliseconds(config_.database_statement_timeout_ms)};
  {
    auto conn = store::OpenConnection(pool_options);
    store::CheckDurability(*conn, config_.database_allow_unsafe_durability);
    store::ApplySchema(*conn);
    keys_ = LoadKeyRing(*conn);
  }
  token_issuer_ = LoadTokenIssuer();
  // From here on each path connects as its own database role.
  std::string admin_conninfo = conninfo;
  conninfo =
      RoleConnInfo(admin_conninfo, config_.database_hosting_role, config_.database_hosting_url);
  pool_options.conninfo = conninfo;
  pool_ = std::make_unique<store::DbPool>(pool_options);
  auth_ = std::make_unique<auth::Authenticator>(ResolveOperatorTokenHash());
  registrations_ = std::make_unique<RateLimiter>(
      static_cast<double>(config_.limits_registrations_per_second),
      2.0 * static_cast<double>(config_.limits_registrations_per_second));

  rpc::RpcEnv env{.pool = pool_.get(),
                  .call_timeout = std::chrono::milliseconds(config_.limits_call_timeout_ms)};

  if (config_.HasRole("hosting")) {
    auto& h = hosting_options_;
    h.default_lifetime_seconds = config_.retention_default_seconds;
    h.min_lifetime_seconds = config_.retention_min_seconds;
    h.max_lifetime_seconds = config_.retention_max_seconds;
    h.no_storage_grace_seconds = config_.retention_no_storage_grace_seconds;
    h.max_text_chars = static_cast<size_t>(config_.hosting_max_text_chars);
    h.service_window = std::chrono::seconds(config_.hosting_service_window_seconds);
    h.max_streams_per_principal = static_cast<int>(config_.hosting_max_streams_per_principal);
    h.sends_per_second = static_cast<double>(config_.hosting_sends_per_second);
    h.max_batch = static_cast<size_t>(config_.hosting_max_batch);
    h.writer_threads = static_cast<int>(config_.hosting_writer_threads);
    h.media.allowed_types = config_.media_allowed_types;
    h.media.max_image_bytes = config_.media_max_image_bytes;
    h.media.max_audio_bytes = config_.media_max_audio_bytes;
    h.media.max_video_bytes = config_.media_max_video_bytes;
    h.media.max_document_bytes = config_.media_max_document_bytes;
    h.media.max_chunk_bytes = static_cast<size_t>(config_.media_max_chunk_bytes);
    h.media.max_concurrent_uploads = static_cast<int>(config_.media_max_concurrent_uploads);
    h.media.max_pending_bytes = config_.media_max_pending_bytes;
    h.media.unattached_ttl = std::chrono::seconds(config_.media_unattached_ttl_seconds);
    upload_slots_ = std::make_unique<hosting::UploadSlots>(h.media.max_concurrent_uploads);
    // Loads libmagic's database now: a machine without it fails at start, not on an upload.
    media::DetectMimeType("");

    store::DbPoolOptions writer_options = pool_options;
    writer_options.workers = h.writer_threads;
    writer_options.application_name = "bizrelayd-writer";
    writer_pool_ = std::make_unique<store::DbPool>(writer_options);
    batcher_ = hosting::MakeSendBatcher(writer_pool_.get(), keys_.get(), h.default_lifetime_seconds,
                                        h.writer_threads, h.max_batch, pool_options.max_queue,
                                        GroupCommitInstruments("hosting"));
    // Inbox streams read in pages: wakes within 10 ms of each other are one read.
    hub_ = std::make_unique<store::NotifyHub>(
        conninfo, "bizrelay_mailbox", h.max_streams_per_principal, std::chrono::milliseconds(10));
    hub_->Start();
    send_limiter_ = std::make_unique<RateLimiter>(h.sends_per_second, 2 * h.sends_per_second);
    hosting::HostingEnv henv{.rpc = env,
                             .auth = auth_.get(),
                             .options = &hosting_options_,
                             .batcher = batcher_.get(),
                             .hub = hub_.get(),
                             .keys = keys_.get(),
                             .send_limiter = send_limiter_.get(),
                             .upload_slots = upload_slots_.get()};

    auto health = std::make_unique<rpc::HealthService>();
    auto accounts = std::make_unique<account::AccountServiceImpl>(
        env, auth_.get(), registrations_.get(), token_issuer_.get(),
        static_cast<int>(config_.tokens_per_day), keys_.get(),
        Counter("bizrelay_send_tokens_issued_total",
                "Anonymous send tokens issued (blind signatures committed)."));
    auto user_chats = std::make_unique<hosting::UserChatServiceImpl>(henv);
    webhooks::WebhookOptions webhook_options{
        .policy = WebhookTargetPolicy(),
        .secret_overlap_seconds = config_.webhooks_secret_overlap_seconds};
    auto business = std::make_unique<webhooks::BusinessServiceWithWebhooks>(henv, webhook_options);
    public_server_ = BuildServer(
        "public", config_.listen_public, {accounts.get(), user_chats.get(), business.get()},
        {v1::AccountService::service_full_name(), v1::UserChatService::service_full_name(),
         v1::BusinessService::service_full_name()},
        health.get(), &public_port_);
    services_.push_back(std::move(accounts));
    services_.push_back(std::move(user_chats));
    services_.push_back(std::move(business));
    health_.push_back(std::move(health));
    ExportPathGauges("hosting", writer_pool_.get(), hub_.get(),
                     [b = batcher_.get()] { return double(b->queued()); });
  }
  if (config_.HasRole("operator")) {
    auto health = std::make_unique<rpc::HealthService>();
    auto ops = std::make_unique<operator_api::OperatorServiceImpl>(env, auth_.get(), keys_.get());
    operator_server_ =
        BuildServer("operator", config_.listen_operator, {ops.get()},
                    {v1::OperatorService::service_full_name()}, health.get(), &operator_port_);
    services_.push_back(std::move(ops));
    health_.push_back(std::move(health));
  }
  ExportPoolGauges("hosting", pool_.get());
  {
    std::vector<rpc::DatabaseHealthMonitor::Target> targets;
    for (const char* server : {"public", "operator"}) {
      if (health_targets_.count(server)) targets.push_back(health_targets_.at(server));
    }
    if (!targets.empty()) MonitorDatabase("hosting", conninfo, std::move(targets));
  }
  if (config_.HasRole("personal")) StartPersonal(pool_options, env);
  if (config_.HasRole("sweeper")) {
    hosting::SweeperMetrics sweep_metrics{
        .deleted_messages =
            Counter("bizrelay_sweeper_deleted_total", "Rows deleted by the retention sweepers.",
                    {{"kind", "messages"}}),
        .deleted_events = Counter("bizrelay_sweeper_deleted_total",
                                  "Rows deleted by the retention sweepers.", {{"kind", "events"}}),
        .deleted_media =
            Counter("bizrelay_sweeper_deleted_total", "Rows deleted by the retention sweepers.",
                    {{"kind", "unattached_media"}}),
        .failures = Counter("bizrelay_sweeper_failures_total", "Sweeps that failed.",
                            {{"path", "hosting"}}),
        .lag_seconds = Gauge("bizrelay_sweeper_expiry_lag_seconds",
                             "After the last sweep: now minus the oldest expiry still stored "
                             "(0 when nothing expired is left).")};
    sweeper_ = std::make_unique<hosting::Sweeper>(
        conninfo, std::chrono::milliseconds(config_.retention_sweep_interval_ms),
        static_cast<int>(config_.retention_sweep_batch), config_.retention_max_seconds,
        sweep_metrics);
    sweeper_->Start();
    std::string personal_conninfo =
        RoleConnInfo(admin_conninfo, config_.database_personal_role, config_.database_personal_url);
    std::vector<std::string> accepted = {crypto::BlindRsaKeyId(token_issuer_->public_key())};
    metrics::Counter* personal_deleted =
        Counter("bizrelay_sweeper_deleted_total", "Rows deleted by the retention sweepers.",
                {{"kind", "personal"}});
    metrics::Counter* personal_failures =
        Counter("bizrelay_sweeper_failures_total", "Sweeps that failed.", {{"path", "personal"}});
    personal_sweeper_ =
        std::thread([this, personal_conninfo, accepted, personal_deleted, personal_failures] {
          auto interval = std::chrono::milliseconds(config_.retention_sweep_interval_ms);
          while (true) {
            try {
              int n = personal::SweepPersonal(
                  personal_conninfo, static_cast<int>(config_.retention_sweep_batch), accepted);
              if (n > 0) spdlog::info("event=personal_sweep deleted={}", n);
              if (personal_deleted) personal_deleted->Add(static_cast<uint64_t>(n));
            } catch (const std::exception& e) {
              spdlog::warn("event=personal_sweep_failed error=\"{}\"", e.what());
              if (personal_failures) personal_failures->Add();
            }
            std::unique_lock lock(sweep_mu_);
            if (sweep_cv_.wait_for(lock, interval, [this] { return sweep_stop_; })) return;
          }
        });
    spdlog::info("event=sweeper_started interval_ms={}", config_.retention_sweep_interval_ms);
  }
  if (config_.HasRole("webhooks")) StartWebhooks(conninfo);
  if (metrics_on()) {
    exporter_ = std::make_unique<metrics::HttpExporter>(&registry_);
    metrics_port_ = exporter_->Start(config_.listen_metrics);
    spdlog::info("event=listening role=metrics address={} port={}", config_.listen_metrics,
                 metrics_port_);
  }
  if (embedded_) {
    // Supervised from here on, once every health monitor exists: a death is reported to them
    // at once (monitors_ does not change after this point).
    embedded_->Supervise(Counter("bizrelay_embedded_postgres_restarts_total",
                                 "Times the embedded PostgreSQL was started again after it died."),
                         [this] {
                           for (auto& m : monitors_) m->ReportOutage();
                         });
  }
  WriteReadyFile();
  spdlog::info("event=ready tls={} reflection={}", !config_.tls_plaintext, config_.reflection);
}

void Daemon::Stop() {
  if (stopped_) return;
  stopped_ = true;
  spdlog::info("event=shutdown_started grace_ms={}", config_.shutdown_grace_ms);
  for (auto& m : monitors_) m->Stop();
  for (auto& h : health_) h->Shutdown();
  // Open event streams end now (UNAVAILABLE) so clients reconnect to another instance.
  if (hub_) hub_->Stop();
  if (personal_hub_) personal_hub_->Stop();
  auto deadline =
      std::chrono::system_clock::now() + std::chrono::milliseconds(config_.shutdown_grace_ms);
  // Shutdown refuses new calls at once and cancels what is still running at the deadline.
  std::vector<std::thread> stoppers;
  for (auto* server : {public_server_.get(), operator_server_.get(), personal_server_.get()}) {
    if (server != nullptr)
      stoppers.emplace_back([server, deadline] { server->Shutdown(deadline); });
  }
  for (auto& t : stoppers) t.join();
  if (sweeper_) sweeper_->Stop();
  // Leases are let go of, so another instance takes over the endpoints at once.
  if (webhook_dispatcher_) webhook_dispatcher_->Stop();
  if (webhook_hub_) webhook_hub_->Stop();
  {
    std::lock_guard lock(sweep_mu_);
    sweep_stop_ = true;
  }
  sweep_cv_.notify_all();
  if (personal_sweeper_.joinable()) personal_sweeper_.join();
  if (personal_writer_pool_) personal_writer_pool_->Stop();
  if (personal_pool_) personal_pool_->Stop();
  if (writer_pool_) writer_pool_->Stop();
  if (pool_) pool_->Stop();
  if (embedded_) embedded_->Stop();
  // Last: the exporter's gauges read the pools and hubs, which live until the destructor.
  if (exporter_) exporter_->Stop();
  spdlog::info("event=shutdown_complete");
}

}  // namespace bizrelay::daemon

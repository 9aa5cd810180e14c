#include "services/bizrelayd/config.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "services/media/media_rules.h"
#include "services/platform/log.h"

extern char** environ;

namespace bizrelay::daemon {
namespace {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Kind { kString, kInt, kBool, kList };

struct Option {
  const char* key;
  Kind kind;
  const char* default_value;
  const char* help;
  int64_t min = 0;
  int64_t max = 0;
  std::function<void(Config&, const std::string&)> set;
};

int64_t ParseInt(const std::string& key, const std::string& v, int64_t min, int64_t max) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size()) throw ConfigError(key + ": not an integer: '" + v + "'");
  if (n < min || n > max) {
    throw ConfigError(key + ": " + v + " is outside " + std::to_string(min) + ".." +
                      std::to_string(max));
  }
  return n;
}

bool ParseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  throw ConfigError(key + ": not a boolean (true/false): '" + v + "'");
}

std::vector<std::string> ParseRoles(const std::string& key, const std::string& v) {
  std::vector<std::string> roles;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (item.empty()) continue;
    if (item == "all") return kRoles;
    if (std::find(kRoles.begin(), kRoles.end(), item) == kRoles.end()) {
      throw ConfigError(key + ": unknown role '" + item + "'");
    }
    roles.push_back(item);
  }
  if (roles.empty()) throw ConfigError(key + ": at least one role is needed");
  return roles;
}

// A comma-separated list of MIME types (type/subtype, lower case).
std::vector<std::string> ParseMimeTypes(const std::string& key, const std::string& v) {
  std::vector<std::string> types;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (item.empty()) continue;
    auto slash = item.find('/');
    bool ok = slash != std::string::npos && slash > 0 && slash + 1 < item.size() &&
              item.find('/', slash + 1) == std::string::npos;
    for (char c : item) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '-' ||
            c == '+')) {
        ok = false;
      }
    }
    if (!ok) throw ConfigError(key + ": not a MIME type: '" + item + "'");
    types.push_back(item);
  }
  if (types.empty()) throw ConfigError(key + ": at least one type is needed");
  return types;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

#define STR(field) [](Config& c, const std::string& v) { c.field = v; }
#define INT(field, key, lo, hi) \
  lo, hi, [](Config& c, const std::string& v) { c.field = ParseInt(key, v, lo, hi); }
#define BOOL(field, key) 0, 0, [](Config& c, const std::string& v) { c.field = ParseBool(key, v); }

const std::vector<Option>& Options() {
  static const std::string kDefaultMediaTypes = Joined(media::DefaultAllowedTypes());
  static const std::vector<Option> kOptions = {
      {"data_dir", Kind::kString, "./var",
       "Directory for the embedded PostgreSQL cluster and generated files (operator token)", 0, 0,
       STR(data_dir)},
      {"roles", Kind::kList, "all",
       "Comma-separated roles this process serves: hosting (public API), personal (personal "
       "relay), operator (operator API), sweeper (retention), webhooks (delivery to businesses' "
       "webhook endpoints), or all",
       0, 0, [](Config& c, const std::string& v) { c.roles = ParseRoles("roles", v); }},
      {"log.level", Kind::kString, "info", "trace, debug, info, warn, error or off", 0, 0,
       [](Config& c, const std::string& v) {
         if (!IsLogLevel(v)) throw ConfigError("log.level: unknown level '" + v + "'");
         c.log_level = v;
       }},
      {"ready_file", Kind::kString, "",
       "If set, written with the bound ports as JSON once every listener serves", 0, 0,
       STR(ready_file)},
      {"listen.public", Kind::kString, "0.0.0.0:7000",
       "Address of the public API (accounts, hosting); port 0 picks a free port", 0, 0,
       STR(listen_public)},
      {"listen.personal", Kind::kString, "0.0.0.0:7001",
       "Address of the personal relay (its own port, apart from the public API)", 0, 0,
       STR(listen_personal)},
      {"listen.operator", Kind::kString, "127.0.0.1:7002",
       "Address of the operator API (loopback by default)", 0, 0, STR(listen_operator)},
      {"listen.metrics", Kind::kString, "127.0.0.1:7003",
       "Address of the Prometheus metrics endpoint (plain HTTP, GET /metrics; loopback by "
       "default); empty: no metrics are recorded or served",
       0, 0, STR(listen_metrics)},
      {"health.probe_interval_ms", Kind::kInt, "1000",
       "How often each path's database is probed; health turns NOT_SERVING when it does not "
       "answer and SERVING when it does again",
       INT(health_probe_interval_ms, "health.probe_interval_ms", 100, 60000)},
      {"reflection", Kind::kBool, "true", "Serve gRPC server reflection",
       BOOL(reflection, "reflection")},
      {"tls.plaintext", Kind::kBool, "false",
       "Serve without TLS (development only); otherwise tls.cert_file and tls.key_file are "
       "required",
       BOOL(tls_plaintext, "tls.plaintext")},
      {"tls.cert_file", Kind::kString, "", "PEM certificate chain of the server", 0, 0,
       STR(tls_cert_file)},
      {"tls.key_file", Kind::kString, "", "PEM private key of the server", 0, 0, STR(tls_key_file)},
      {"tls.client_ca_file", Kind::kString, "",
       "PEM CA bundle for client certificates (mTLS); presented certificates are verified", 0, 0,
       STR(tls_client_ca_file)},
      {"tls.require_client_cert", Kind::kBool, "false",
       "Refuse connections without a client certificate signed by tls.client_ca_file",
       BOOL(tls_require_client_cert, "tls.require_client_cert")},
      {"database.url", Kind::kString, "",
       "libpq connection string or URL; empty runs an embedded PostgreSQL under data_dir", 0, 0,
       STR(database_url)},
      {"database.pool_size", Kind::kInt, "8", "Database worker threads (one connection each)",
       INT(database_pool_size, "database.pool_size", 1, 256)},
      {"database.max_queue", Kind::kInt, "10000",
       "Requests waiting for a database worker before new ones get RESOURCE_EXHAUSTED",
       INT(database_max_queue, "database.max_queue", 1, 1000000)},
      {"database.statement_timeout_ms", Kind::kInt, "10000", "Server-side cap on one statement",
       INT(database_statement_timeout_ms, "database.statement_timeout_ms", 100, 600000)},
      {"database.allow_unsafe_durability", Kind::kBool, "false",
       "Start even if PostgreSQL runs with fsync or synchronous_commit off (development only)",
       BOOL(database_allow_unsafe_durability, "database.allow_unsafe_durability")},
      {"database.embedded_bin_dir", Kind::kString, "",
       "PostgreSQL binaries for the embedded cluster; empty finds /usr/lib/postgresql/*/bin", 0, 0,
       STR(database_embedded_bin_dir)},
      {"database.hosting_url", Kind::kString, "",
       "Connection for the hosting path; empty: database.url as database.hosting_role", 0, 0,
       STR(database_hosting_url)},
      {"database.personal_url", Kind::kString, "",
       "Connection for the personal path; empty: database.url as database.personal_role", 0, 0,
       STR(database_personal_url)},
      {"database.hosting_role", Kind::kString, "bizrelay_hosting",
       "Database role of the hosting path (no privilege on schema personal)", 0, 0,
       STR(database_hosting_role)},
      {"database.personal_role", Kind::kString, "bizrelay_personal",
       "Database role of the personal path (no privilege on schemas core and hosting)", 0, 0,
       STR(database_personal_role)},
      {"tokens.issuer_key_file", Kind::kString, "",
       "PEM RSA key that blind-signs anonymous send tokens; empty: generated into "
       "<data_dir>/token_issuer.pem. Every instance needs the same key",
       0, 0, STR(tokens_issuer_key_file)},
      {"tokens.per_day", Kind::kInt, "500", "Send tokens a user may get per day",
       INT(tokens_per_day, "tokens.per_day", 1, 1000000000)},
      {"personal.max_envelope_bytes", Kind::kInt, "65536",
       "Largest sealed envelope; larger ones get RESOURCE_EXHAUSTED",
       INT(personal_max_envelope_bytes, "personal.max_envelope_bytes", 256, 1 << 20)},
      {"personal.max_mailbox_depth", Kind::kInt, "1000",
       "Envelopes a mailbox may hold unacknowledged",
       INT(personal_max_mailbox_depth, "personal.max_mailbox_depth", 1, 1000000)},
      {"personal.sends_per_mailbox_per_minute", Kind::kInt, "120",
       "Anonymous sends accepted per mailbox per minute (per instance)",
       INT(personal_sends_per_mailbox_per_minute, "personal.sends_per_mailbox_per_minute", 1,
           100000000)},
      {"personal.envelope_ttl_days", Kind::kInt, "30",
       "Unacknowledged envelopes are deleted after this many days",
       INT(personal_envelope_ttl_days, "personal.envelope_ttl_days", 1, 365)},
      {"personal.access_cache_entries", Kind::kInt, "100000",
       "Mailboxes whose access-key hash is kept in memory for sealed sends (0: none)",
       INT(personal_access_cache_entries, "personal.access_cache_entries", 0, 10000000)},
      {"personal.max_batch", Kind::kInt, "256", "Most sealed sends stored in one transaction",
       INT(personal_max_batch, "personal.max_batch", 1, 10000)},
      {"personal.writer_threads", Kind::kInt, "2",
       "Database connections that store batches of sealed sends",
       INT(personal_writer_threads, "personal.writer_threads", 1, 64)},
      {"personal.max_streams_per_mailbox", Kind::kInt, "4", "Open mailbox streams per mailbox",
       INT(personal_max_streams_per_mailbox, "personal.max_streams_per_mailbox", 1, 100)},
      {"operator.token_sha256", Kind::kString, "", "Hex SHA-256 of the operator bearer token", 0, 0,
       STR(operator_token_sha256)},
      {"operator.token_file", Kind::kString, "",
       "File holding the operator bearer token; with neither option set, a token is generated "
       "into <data_dir>/operator.token",
       0, 0, STR(operator_token_file)},
      {"limits.max_message_bytes", Kind::kInt, "262144",
       "Largest request message accepted; larger ones get RESOURCE_EXHAUSTED",
       INT(limits_max_message_bytes, "limits.max_message_bytes", 1024, 16 << 20)},
      {"limits.max_concurrent_streams", Kind::kInt, "100", "Concurrent calls per HTTP/2 connection",
       INT(limits_max_concurrent_streams, "limits.max_concurrent_streams", 1, 10000)},
      {"limits.call_timeout_ms", Kind::kInt, "10000",
       "Server-side deadline of a unary call, whatever the client asks",
       INT(limits_call_timeout_ms, "limits.call_timeout_ms", 100, 600000)},
      {"limits.registrations_per_second", Kind::kInt, "20",
       "RegisterUser calls per second across all callers (burst: twice as many)",
       INT(limits_registrations_per_second, "limits.registrations_per_second", 1, 100000)},
      {"keepalive.time_ms", Kind::kInt, "60000", "Ping an idle client connection this often",
       INT(keepalive_time_ms, "keepalive.time_ms", 1000, 86400000)},
      {"keepalive.timeout_ms", Kind::kInt, "20000", "Close a connection whose ping goes unanswered",
       INT(keepalive_timeout_ms, "keepalive.timeout_ms", 1000, 600000)},
      {"keepalive.min_ping_interval_ms", Kind::kInt, "10000",
       "Clients pinging more often than this earn a strike",
       INT(keepalive_min_ping_interval_ms, "keepalive.min_ping_interval_ms", 1000, 3600000)},
      {"keepalive.max_ping_strikes", Kind::kInt, "2",
       "Strikes before a client connection is closed (GOAWAY)",
       INT(keepalive_max_ping_strikes, "keepalive.max_ping_strikes", 0, 100)},
      {"shutdown.grace_ms", Kind::kInt, "10000",
       "On SIGTERM/SIGINT, how long in-flight calls may finish before they are cancelled",
       INT(shutdown_grace_ms, "shutdown.grace_ms", 0, 600000)},
      {"hosting.max_text_chars", Kind::kInt, "4096", "Longest hosted message, in characters",
       INT(hosting_max_text_chars, "hosting.max_text_chars", 1, 65536)},
      {"hosting.service_window_seconds", Kind::kInt, "86400",
       "How long after a user's last message a business may reply with free text",
       INT(hosting_service_window_seconds, "hosting.service_window_seconds", 1, 30 * 86400)},
      {"hosting.max_streams_per_principal", Kind::kInt, "8",
       "Open event streams per user or business",
       INT(hosting_max_streams_per_principal, "hosting.max_streams_per_principal", 1, 1000)},
      {"hosting.sends_per_second", Kind::kInt, "100",
       "Messages per second per credential (bursts of twice as many); more get "
       "RESOURCE_EXHAUSTED with a retry delay",
       INT(hosting_sends_per_second, "hosting.sends_per_second", 1, 1000000)},
      {"hosting.max_batch", Kind::kInt, "256", "Most user messages stored in one transaction",
       INT(hosting_max_batch, "hosting.max_batch", 1, 10000)},
      {"hosting.writer_threads", Kind::kInt, "2",
       "Database connections that store batches of user messages",
       INT(hosting_writer_threads, "hosting.writer_threads", 1, 64)},
      {"retention.default_seconds", Kind::kInt, "2592000",
       "Lifetime of hosted messages of businesses that set none (30 days)",
       INT(retention_default_seconds, "retention.default_seconds", 1, 3650LL * 86400)},
      {"retention.min_seconds", Kind::kInt, "3600", "Shortest lifetime a business may set",
       INT(retention_min_seconds, "retention.min_seconds", 1, 3650LL * 86400)},
      {"retention.max_seconds", Kind::kInt, "315360000",
       "Longest lifetime a business may set (3650 days)",
       INT(retention_max_seconds, "retention.max_seconds", 1, 3650LL * 86400)},
      {"retention.no_storage_grace_seconds", Kind::kInt, "3600",
       "In no-storage mode, how long a message stays after its recipient acknowledged it",
       INT(retention_no_storage_grace_seconds, "retention.no_storage_grace_seconds", 0, 86400)},
      {"retention.sweep_interval_ms", Kind::kInt, "5000",
       "Pause between sweeps; an expired message is gone within about this long",
       INT(retention_sweep_interval_ms, "retention.sweep_interval_ms", 10, 3600000)},
      {"retention.sweep_batch", Kind::kInt, "2000", "Rows deleted per sweeper transaction",
       INT(retention_sweep_batch, "retention.sweep_batch", 1, 100000)},
      {"media.allowed_types", Kind::kList, kDefaultMediaTypes.c_str(),
       "Comma-separated MIME types accepted for uploads; each upload's bytes must agree with "
       "its declared type (libmagic)",
       0, 0,
       [](Config& c, const std::string& v) {
         c.media_allowed_types = ParseMimeTypes("media.allowed_types", v);
       }},
      {"media.max_image_bytes", Kind::kInt, "5242880", "Largest image upload (image/*)",
       INT(media_max_image_bytes, "media.max_image_bytes", 1, 1LL << 30)},
      {"media.max_audio_bytes", Kind::kInt, "16777216", "Largest audio upload (audio/*)",
       INT(media_max_audio_bytes, "media.max_audio_bytes", 1, 1LL << 30)},
      {"media.max_video_bytes", Kind::kInt, "16777216", "Largest video upload (video/*)",
       INT(media_max_video_bytes, "media.max_video_bytes", 1, 1LL << 30)},
      {"media.max_document_bytes", Kind::kInt, "104857600",
       "Largest document upload (every other allowed type)",
       INT(media_max_document_bytes, "media.max_document_bytes", 1, 1LL << 30)},
      {"media.max_chunk_bytes", Kind::kInt, "131072",
       "Largest chunk in one upload message (must leave room in limits.max_message_bytes)",
       INT(media_max_chunk_bytes, "media.max_chunk_bytes", 1024, 16 << 20)},
      {"media.max_concurrent_uploads", Kind::kInt, "4",
       "Uploads one user or business may run at once (per instance)",
       INT(media_max_concurrent_uploads, "media.max_concurrent_uploads", 1, 1000)},
      {"media.max_pending_bytes", Kind::kInt, "268435456",
       "Bytes one user or business may hold in uploads not attached to a message",
       INT(media_max_pending_bytes, "media.max_pending_bytes", 1, 1LL << 40)},
      {"media.unattached_ttl_seconds", Kind::kInt, "900",
       "An upload not attached to a message within this time is deleted by the sweeper",
       INT(media_unattached_ttl_seconds, "media.unattached_ttl_seconds", 1, 7 * 86400)},
      {"webhooks.retry_horizon_seconds", Kind::kInt, "604800",
       "How long a webhook endpoint may fail without a success before it is disabled (7 days); "
       "a message is never sent past its own expiry",
       INT(webhooks_retry_horizon_seconds, "webhooks.retry_horizon_seconds", 1, 90LL * 86400)},
      {"webhooks.secret_overlap_seconds", Kind::kInt, "86400",
       "After a signing secret is rotated, how long the previous one signs beside it",
       INT(webhooks_secret_overlap_seconds, "webhooks.secret_overlap_seconds", 0, 30LL * 86400)},
      {"webhooks.allow_plain_http", Kind::kBool, "false",
       "Accept http:// webhook URLs (development only)",
       BOOL(webhooks_allow_plain_http, "webhooks.allow_plain_http")},
      {"webhooks.allow_private_targets", Kind::kBool, "false",
       "Accept webhook targets on loopback, private, link-local and metadata addresses "
       "(development and tests only)",
       BOOL(webhooks_allow_private_targets, "webhooks.allow_private_targets")},
      {"webhooks.ca_file", Kind::kString, "",
       "PEM CA bundle webhook receivers' certificates are verified against; empty: the system's", 0,
       0, STR(webhooks_ca_file)},
      {"webhooks.connect_timeout_ms", Kind::kInt, "5000", "Connecting to a webhook receiver",
       INT(webhooks_connect_timeout_ms, "webhooks.connect_timeout_ms", 100, 60000)},
      {"webhooks.timeout_ms", Kind::kInt, "10000",
       "Whole webhook request, connection included; longer is a failed attempt",
       INT(webhooks_timeout_ms, "webhooks.timeout_ms", 100, 120000)},
      {"webhooks.max_response_bytes", Kind::kInt, "4096",
       "Bytes of a webhook receiver's answer that are read",
       INT(webhooks_max_response_bytes, "webhooks.max_response_bytes", 64, 1048576)},
      {"webhooks.max_in_flight_per_endpoint", Kind::kInt, "16",
       "Events in flight at once per endpoint (each from a different conversation)",
       INT(webhooks_max_in_flight_per_endpoint, "webhooks.max_in_flight_per_endpoint", 1, 1024)},
      {"webhooks.backoff_initial_ms", Kind::kInt, "1000",
       "First retry delay of a failed webhook event; doubles per failure, with jitter",
       INT(webhooks_backoff_initial_ms, "webhooks.backoff_initial_ms", 10, 3600000)},
      {"webhooks.backoff_max_ms", Kind::kInt, "3600000", "Longest retry delay (1 hour)",
       INT(webhooks_backoff_max_ms, "webhooks.backoff_max_ms", 10, 86400000)},
      {"webhooks.lease_ms", Kind::kInt, "5000",
       "Lease of an endpoint by the instance delivering to it; a dead instance's endpoints are "
       "taken over after about this long",
       INT(webhooks_lease_ms, "webhooks.lease_ms", 1000, 600000)},
      {"crypto.master_key_file", Kind::kString, "",
       "File with the 64-hex-character master key that wraps the businesses' data keys; with "
       "neither this nor crypto.master_key_hex, one is generated into <data_dir>/master.key",
       0, 0, STR(crypto_master_key_file)},
      {"crypto.master_key_hex", Kind::kString, "",
       "The master key itself (64 hex characters); set it through the environment, never in a "
       "file others can read",
       0, 0, STR(crypto_master_key_hex)},
      {"crypto.previous_master_key_files", Kind::kString, "",
       "Comma-separated files of earlier master keys: data keys they wrapped are re-wrapped with "
       "the current one at start (rotation; messages are not rewritten)",
       0, 0, STR(crypto_previous_master_key_files)},
  };
  return kOptions;
}

#undef STR
#undef INT
#undef BOOL

std::string EnvName(const std::string& key) {
  std::string out = "BIZRELAY_";
  for (char c : key) out += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

std::string FlagName(const std::string& key) {
  std::string out = "--";
  for (char c : key) out += (c == '.' || c == '_') ? '-' : c;
  return out;
}

const Option* Find(const std::string& key) {
  for (const auto& o : Options()) {
    if (key == o.key) return &o;
  }
  return nullptr;
}

void Flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string>* out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      Flatten(kv.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  const Option* opt = Find(prefix);
  if (opt == nullptr) throw ConfigError(prefix + ": unknown key");
  if (node.IsSequence() && opt->kind == Kind::kList) {
    std::string joined;
    for (const auto& item : node) joined += (joined.empty() ? "" : ",") + item.as<std::string>();
    (*out)[prefix] = joined;
    return;
  }
  if (!node.IsScalar()) throw ConfigError(prefix + ": expected a single value");
  (*out)[prefix] = node.Scalar();
}

}  // namespace

bool Config::HasRole(const std::string& role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::map<std::string, std::string> BizrelayEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    if (!kv.starts_with("BIZRELAY_")) continue;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

LoadResult LoadConfig(int argc, const char* const* argv,
                      const std::map<std::string, std::string>& env) {
  LoadResult result;
  CLI::App app{
      "bizrelayd: business-message hosting relay.\n"
      "Every option can also be set in the YAML file given by --config (nested keys, e.g.\n"
      "database: {url: ...}) or in the environment as BIZRELAY_<KEY> (e.g.\n"
      "BIZRELAY_DATABASE_URL). Precedence: flag > environment > file > default.",
      "bizrelayd"};
  app.get_formatter()->column_width(40);
  std::string config_file;
  app.add_option("--config", config_file, "YAML configuration file")->envname("BIZRELAY_CONFIG");
  std::map<std::string, std::string> flag_values;
  for (const auto& o : Options()) {
    std::string help =
        std::string(o.help) + " [env " + EnvName(o.key) + "; default '" + o.default_value + "']";
    app.add_option(FlagName(o.key), flag_values[o.key], help)
        ->type_name("")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    result.outcome = LoadResult::Outcome::kHelp;
    result.message = app.help();
    return result;
  } catch (const CLI::ParseError& e) {
    result.outcome = LoadResult::Outcome::kError;
    result.message = e.what();
    return result;
  }

  try {
    std::map<std::string, std::string> values;
    for (const auto& o : Options()) values[o.key] = o.default_value;
    if (!config_file.empty()) {
      YAML::Node root;
      try {
        root = YAML::LoadFile(config_file);
      } catch (const YAML::Exception& e) {
        throw ConfigError(config_file + ": " + e.what());
      }
      if (root.IsDefined() && !root.IsNull()) {
        if (!root.IsMap()) throw ConfigError(config_file + ": expected a mapping at the top");
        std::map<std::string, std::string> file_values;
        Flatten(root, "", &file_values);
        for (auto& [k, v] : file_values) values[k] = v;
      }
    }
    for (const auto& [name, value] : env) {
      if (name == "BIZRELAY_CONFIG") continue;
      bool known = false;
      for (const auto& o : Options()) {
        if (EnvName(o.key) == name) {
          values[o.key] = value;
          known = true;
        }
      }
      if (!known) throw ConfigError(name + ": unknown environment variable");
    }
    for (const auto& o : Options()) {
      if (app.count(FlagName(o.key)) > 0) values[o.key] = flag_values[o.key];
    }
    for (const auto& o : Options()) o.set(result.config, values[o.key]);

    const Config& c = result.config;
    if (!c.tls_plaintext && (c.tls_cert_file.empty() || c.tls_key_file.empty())) {
      throw ConfigError(
          "tls.cert_file: TLS needs tls.cert_file and tls.key_file (or tls.plaintext=true)");
    }
    if (c.tls_require_client_cert && c.tls_client_ca_file.empty()) {
      throw ConfigError("tls.require_client_cert: needs tls.client_ca_file");
    }
    if (c.retention_min_seconds > c.retention_max_seconds ||
        c.retention_default_seconds < c.retention_min_seconds ||
        c.retention_default_seconds > c.retention_max_seconds) {
      throw ConfigError(
          "retention.default_seconds: must lie within retention.min_seconds and "
          "retention.max_seconds");
    }
    if (c.media_max_chunk_bytes + 1024 > c.limits_max_message_bytes) {
      throw ConfigError(
          "media.max_chunk_bytes: must be at least 1024 below limits.max_message_bytes");
    }
    if (!c.operator_token_sha256.empty() && c.operator_token_sha256.size() != 64) {
      throw ConfigError("operator.token_sha256: must be 64 hex characters");
    }
  } catch (const ConfigError& e) {
    result.outcome = LoadResult::Outcome::kError;
    result.message = e.what();
  }
  return result;
}

}  // namespace bizrelay::daemon

#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bizrelay::daemon {

// Everything bizrelayd can be told. Each field is one option in kOptions (config.cc), settable
// from the YAML file (nested keys), the environment (BIZRELAY_<KEY>, dots as underscores) or a
// flag (--key, dots and underscores as dashes); later sources win.
struct Config {
  std::string data_dir;
  std::vector<std::string> roles;
  std::string log_level;
  std::string ready_file;

  std::string listen_public;
  std::string listen_operator;
  std::string listen_personal;
  std::string listen_metrics;  // empty: metrics off
  int64_t health_probe_interval_ms = 0;
  bool reflection = true;

  bool tls_plaintext = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  bool tls_require_client_cert = false;

  std::string database_url;
  int64_t database_pool_size = 0;
  int64_t database_max_queue = 0;
  int64_t database_statement_timeout_ms = 0;
  bool database_allow_unsafe_durability = false;
  std::string database_embedded_bin_dir;
  std::string database_hosting_url;
  std::string database_personal_url;
  std::string database_hosting_role;
  std::string database_personal_role;

  std::string tokens_issuer_key_file;
  int64_t tokens_per_day = 0;

  int64_t personal_max_envelope_bytes = 0;
  int64_t personal_max_mailbox_depth = 0;
  int64_t personal_access_cache_entries = 0;
  int64_t personal_sends_per_mailbox_per_minute = 0;
  int64_t personal_envelope_ttl_days = 0;
  int64_t personal_max_streams_per_mailbox = 0;
  int64_t personal_max_batch = 0;
  int64_t personal_writer_threads = 0;

  std::string operator_token_sha256;
  std::string operator_token_file;

  int64_t limits_max_message_bytes = 0;
  int64_t limits_max_concurrent_streams = 0;
  int64_t limits_call_timeout_ms = 0;
  int64_t limits_registrations_per_second = 0;

  int64_t keepalive_time_ms = 0;
  int64_t keepalive_timeout_ms = 0;
  int64_t keepalive_min_ping_interval_ms = 0;
  int64_t keepalive_max_ping_strikes = 0;

  int64_t shutdown_grace_ms = 0;

  int64_t hosting_max_text_chars = 0;
  int64_t hosting_service_window_seconds = 0;
  int64_t hosting_max_streams_per_principal = 0;
  int64_t hosting_sends_per_second = 0;
  int64_t hosting_max_batch = 0;
  int64_t hosting_writer_threads = 0;

  std::vector<std::string> media_allowed_types;
  int64_t media_max_image_bytes = 0;
  int64_t media_max_audio_bytes = 0;
  int64_t media_max_video_bytes = 0;
  int64_t media_max_document_bytes = 0;
  int64_t media_max_chunk_bytes = 0;
  int64_t media_max_concurrent_uploads = 0;
  int64_t media_max_pending_bytes = 0;
  int64_t media_unattached_ttl_seconds = 0;

  int64_t retention_default_seconds = 0;
  int64_t retention_min_seconds = 0;
  int64_t retention_max_seconds = 0;
  int64_t retention_no_storage_grace_seconds = 0;
  int64_t retention_sweep_interval_ms = 0;
  int64_t retention_sweep_batch = 0;

  int64_t webhooks_retry_horizon_seconds = 0;
  int64_t webhooks_secret_overlap_seconds = 0;
  bool webhooks_allow_plain_http = false;
  bool webhooks_allow_private_targets = false;
  std::string webhooks_ca_file;
  int64_t webhooks_connect_timeout_ms = 0;
  int64_t webhooks_timeout_ms = 0;
  int64_t webhooks_max_response_bytes = 0;
  int64_t webhooks_max_in_flight_per_endpoint = 0;
  int64_t webhooks_backoff_initial_ms = 0;
  int64_t webhooks_backoff_max_ms = 0;
  int64_t webhooks_lease_ms = 0;

  std::string crypto_master_key_file;
  std::string crypto_master_key_hex;
  std::string crypto_previous_master_key_files;

  bool HasRole(const std::string& role) const;
};

// The roles a process can serve; "all" stands for every one.
inline const std::vector<std::string> kRoles = {"hosting", "personal", "operator", "sweeper",
                                                "webhooks"};

struct LoadResult {
  enum class Outcome { kOk, kHelp, kError } outcome = Outcome::kOk;
  Config config;
  std::string message;  // help text or the error, naming the key at fault
};

// Parses argv (with --config FILE), the file, and `env`. Never exits; the caller maps kError
// to exit status 2.
LoadResult LoadConfig(int argc, const char* const* argv,
                      const std::map<std::string, std::string>& env);

// The process environment as a map (only BIZRELAY_* variables).
std::map<std::string, std::string> BizrelayEnvironment();

}  // namespace bizrelay::daemon

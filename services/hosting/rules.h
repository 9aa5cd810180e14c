#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "services/media/media_rules.h"

namespace bizrelay::hosting {

// Limits and timings of the hosting path; each is a configuration option of bizrelayd.
struct HostingOptions {
  size_t max_text_chars = 4096;
  size_t max_idempotency_key_chars = 128;
  size_t max_statement_chars = 2000;
  size_t max_template_chars = 1024;
  size_t max_template_params = 20;
  // Free-form business replies are allowed for this long after the user's last message.
  std::chrono::seconds service_window{24 * 3600};
  // Retention bounds set by the operator, in seconds: a business's rules must lie within
  // [min, max]; a business that sets none gets the default. No-storage messages are kept
  // `no_storage_grace` after their recipient acknowledges them.
  int64_t default_lifetime_seconds = 30 * 86400;
  int64_t min_lifetime_seconds = 3600;
  int64_t max_lifetime_seconds = 3650LL * 86400;
  int64_t no_storage_grace_seconds = 3600;
  size_t max_label_rules = 20;
  // Concurrent event streams one user or business may hold open.
  int max_streams_per_principal = 8;
  // Sends (messages and replies) per second per credential, with bursts of twice as many.
  double sends_per_second = 100;
  // Group commit: most messages stored in one transaction, and writer connections.
  size_t max_batch = 256;
  int writer_threads = 2;
  // Events read from the database per fetch for one stream (its queue bound).
  int stream_page = 100;
  // Media uploads: allowlist, sizes, chunk and pending limits.
  media::MediaOptions media;
};

// Page sizes: `requested` 0 means `fallback`; above `max` is clamped to `max`; negative is
// INVALID_ARGUMENT (field page_size).
int PageSize(int requested, int fallback, int max);

// Opaque page tokens: a version tag and keyset values, base64url. A token that does not decode
// is INVALID_ARGUMENT (field page_token). Tokens only select within the caller's own data, so
// a forged token cannot reach anything the caller could not list anyway.
std::string EncodePageToken(const std::vector<std::string>& values);
std::vector<std::string> DecodePageToken(const std::string& token, size_t expected_values);

// Request fields (INVALID_ARGUMENT naming the field).
void CheckMessageText(const std::string& field, const std::string& text,
                      const HostingOptions& options);
// A caption of attached media: like a message text, but may be empty.
void CheckCaption(const std::string& field, const std::string& text, const HostingOptions& options);
void CheckIdempotencyKey(const std::string& key, const HostingOptions& options);

// SHA-256 over the length-prefixed parts: what a retry must repeat exactly.
std::string RequestHash(const std::vector<std::string>& parts);

// Whether a free-form business reply is allowed, given how long ago the user last wrote
// (nullopt: never).
bool ServiceWindowOpen(std::optional<double> seconds_since_user_message,
                       const HostingOptions& options);

struct TemplateDef {
  std::string name;
  std::string body;
  std::vector<std::string> parameters;  // in order of first use
};

// Validates a template (name: 1-64 of [a-z0-9_]; body with {{param}} placeholders whose names
// follow the same rule) and lists its parameters.
TemplateDef ParseTemplate(const std::string& name, const std::string& body,
                          const HostingOptions& options);
// Fills every placeholder. A missing or unknown parameter, or a value that is not plain text,
// is INVALID_ARGUMENT (field template_parameters); the result obeys the text limit.
std::string FillTemplate(const TemplateDef& def, const std::map<std::string, std::string>& values,
                         const HostingOptions& options);

// "30 days", "1 hour", "90 seconds": the largest whole unit.
std::string HumanDuration(int64_t seconds);

struct RetentionRule {
  int64_t default_lifetime_seconds = 0;  // 0: the operator's default
  bool no_storage = false;
  std::vector<std::pair<std::string, int64_t>> label_lifetimes;
};

// Checks a business's rule against the operator's bounds: INVALID_ARGUMENT (reason
// RETENTION_OUT_OF_BOUNDS, metadata min_seconds/max_seconds and the field) for a lifetime
// outside them; INVALID_FIELD for a bad or repeated label. Returns it with labels sorted.
RetentionRule CheckRetentionRule(RetentionRule rule, const HostingOptions& options);
// Conversation labels: 1-32 of [a-z0-9_-]; empty clears a label (only where allowed).
void CheckLabel(const std::string& field, const std::string& label, bool allow_empty);

// The plain-language disclosure a user sees before starting a chat.
std::string DisclosureSummary(const std::string& business_name, int64_t lifetime_seconds,
                              bool no_storage,
                              const std::vector<std::pair<std::string, int64_t>>& labels,
                              const std::string& data_use_statement);

}  // namespace bizrelay::hosting

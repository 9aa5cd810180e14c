#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

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
  // Retention shown in the disclosure of a business that has set none.
  int default_retention_days = 30;
  // Concurrent event streams one user or business may hold open.
  int max_streams_per_principal = 8;
  // Sends (messages and replies) per second per credential, with bursts of twice as many.
  double sends_per_second = 100;
  // Group commit: most messages stored in one transaction, and writer connections.
  size_t max_batch = 256;
  int writer_threads = 2;
  // Events read from the database per fetch for one stream (its queue bound).
  int stream_page = 100;
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

// The plain-language disclosure a user sees before starting a chat.
std::string DisclosureSummary(const std::string& business_name, int retention_days,
                              const std::string& data_use_statement);

}  // namespace bizrelay::hosting

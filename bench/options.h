#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

// What bizrelay-bench is asked to do (its flags; see main.cc) and what it compares with.
namespace bizrelay::bench {

// What the project aims for on one node (printed for comparison, not asserted).
inline constexpr double kTargetMsgsPerSecond = 10000;
inline constexpr double kTargetAckP99Ms = 25;
inline constexpr int kTargetInflight = 256;
inline constexpr double kTargetSealedPerSecond = 8000;
inline constexpr double kTargetSealedP99Ms = 25;
inline constexpr double kTargetSweeperRatio = 0.5;
inline constexpr double kTargetWebhooksPerSecond = 10000;
inline constexpr double kTargetWebhookP99Ms = 50;
// A sealed envelope's size for a text of n bytes: the sealed box's overhead (version, ephemeral
// key, sender key and signature, tag: services/crypto/sealed_box.h).
inline constexpr size_t kSealedOverheadBytes = 145;

inline const std::vector<std::string> kAllPhases = {"send",      "sweep",    "crypto", "personal",
                                                    "mailboxes", "webhooks", "media"};

struct Options {
  double seconds = 10;
  double warmup_seconds = 2;
  int runs = 1;
  int inflight = 256;
  int businesses = 16;
  int users = 256;
  int channels = 4;
  size_t text_bytes = 100;
  double e2e_rate = 1000;
  double e2e_seconds = 5;
  double drain_timeout_seconds = 120;
  int setup_threads = 8;
  bool inbox = true;
  std::string json_path;
  std::string bizrelayd = BIZRELAYD_PATH;
  std::vector<std::string> server_args;
  std::string target;
  std::string operator_target;
  std::string operator_token_file;
  int server_pid = 0;
  int postgres_pid = 0;
  std::string personal_target;
  std::vector<std::string> phases = kAllPhases;
  bool Has(const std::string& phase) const {
    return std::find(phases.begin(), phases.end(), phase) != phases.end();
  }
  // sweep
  int sweep_rows = 100000;
  int sweep_batch = 2000;
  int sweep_interval_ms = 100;
  // personal
  int personal_users = 32;
  int personal_mailboxes = 1000;
  int personal_stream_mailboxes = 8;
  // mailboxes
  int mailboxes = 10000;
  int mailbox_streams_per_channel = 100;
  // webhooks
  int webhook_backlog = 20000;
  // media
  int media_file_mib = 32;
};

}  // namespace bizrelay::bench

#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/personal.h"
#include "bench/stats.h"

// The mailboxes phase: many recipients streaming their mailboxes at once, what that costs
// bizrelayd and PostgreSQL in memory, and whether a message still reaches one of them.
namespace bizrelay::bench {

struct MailboxesOptions {
  int mailboxes = 10000;
  int streams_per_channel = 100;  // the server's default concurrent streams per connection
  int open_wave = 500;            // streams opened before waiting for them
};

struct MailboxesResult {
  int mailboxes = 0;
  int channels = 0;
  double setup_seconds = 0;
  int streams_open = 0;  // streams that delivered the envelope held for them
  double open_seconds = 0;
  MemoryUsage before;  // mailboxes created, no stream open
  MemoryUsage open;    // every stream open
  MemoryUsage after;   // streams closed again
  bool probe_delivered = false;
  double probe_latency_ms = -1;
  std::vector<std::string> warnings;
};

MailboxesResult RunMailboxesPhase(PersonalContext* pc, const MailboxesOptions& o, pid_t server_pid,
                                  pid_t postmaster_pid);
nlohmann::json ToJson(const MailboxesResult& r);

}  // namespace bizrelay::bench

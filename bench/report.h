#pragma once

#include <optional>
#include <string>

#include "bench/crypto_cost.h"
#include "bench/ingest.h"
#include "bench/mailboxes_phase.h"
#include "bench/options.h"
#include "bench/personal.h"
#include "bench/send_phase.h"
#include "bench/stats.h"
#include "bench/sweep.h"

// The human-readable report of each phase but send (send_phase.h), printed on stdout after
// every phase has run.
namespace bizrelay::bench {

// Where the CPU time went: bench, bizrelayd, PostgreSQL (when their pids are known), the rest
// of the machine, and idle, in cores.
std::string CpuLine(const CpuUsage& u);

// How much of the ingest cost sealing a body is, as fractions; -1 when not measured.
struct SealShares {
  double wall = -1;  // of the wall time per message of the send phase
  double cpu = -1;   // of bizrelayd's CPU time per message
};
// Encryption at rest: in-process sealing time against the send phase's per-message ingest
// time, and the in-process ingest with and without sealing.
SealShares ReportCrypto(const std::optional<SealCost>& seal,
                        const std::optional<IngestResult>& ingest, const SendPhaseResult& send);

void ReportPersonal(const Options& o, PersonalResult& personal);
void ReportMailboxes(const MailboxesResult& mailboxes);
void ReportSweep(const Options& o, const SweepResult& sweep);

}  // namespace bizrelay::bench

#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/load.h"
#include "bench/personal_clients.h"
#include "bench/stats.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"

// The personal phase: anonymous sealed sends (PersonalRelayService.SendSealed, a fresh send
// token each) against a null call on the personal port, and their delivery to mailbox streams.
namespace bizrelay::bench {

// What the personal and mailboxes phases share: the personal relay's address, users that get
// tokens, and the tokens not spent yet.
struct PersonalContext {
  std::string personal_target;
  std::shared_ptr<grpc::Channel> setup_channel;  // to the personal relay
  std::unique_ptr<v1::PersonalRelayService::Stub> setup_stub;
  std::unique_ptr<TokenIssuer> issuer;
  TokenPool pool;
  int setup_threads = 8;
};

struct PersonalOptions {
  int users = 32;
  int mailboxes = 1000;
  int inflight = 256;
  int channels = 4;
  size_t ciphertext_bytes = 245;
  double warmup_seconds = 2;
  double seconds = 10;
  int runs = 1;
  double rate_estimate = 25000;  // sealed sends/s assumed before the first run, to size tokens
  double e2e_rate = 1000;
  double e2e_seconds = 5;
  int stream_mailboxes = 8;
  double drain_timeout_seconds = 120;
};

struct PersonalRun {
  PhaseResult baseline;
  PhaseResult main;
  uint64_t out_of_tokens = 0;
};

struct PersonalResult {
  int mailboxes = 0;
  double setup_seconds = 0;
  uint64_t tokens_issued = 0;
  double token_issue_seconds = 0;
  std::vector<PersonalRun> runs;
  std::map<std::string, double> median;
  double verify_ns = 0;  // in-process BlindRsaPublicKey::Verify of one token
  std::optional<PacedResult> paced;
  LatencySummary paced_delivery;
  bool paced_all_delivered = false;
  std::vector<std::string> warnings;
};

PersonalResult RunPersonalPhase(PersonalContext* pc, const PersonalOptions& o, CpuSampler* cpu);
nlohmann::json ToJson(const PersonalResult& r);

}  // namespace bizrelay::bench

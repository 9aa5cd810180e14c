#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/load.h"
#include "bench/stats.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "services/crypto/blind_rsa.h"

namespace bizrelay::bench {

// An anonymous send token (PersonalRelayService's SendToken), ready to spend.
struct SendToken {
  std::string message;  // the prepared message: 32 random bytes || the client's 32-byte nonce
  std::string signature;
  std::string key_id;
};

// Unspent tokens shared by the sending slots. Thread-safe.
class TokenPool {
 public:
  void Add(std::vector<SendToken> tokens);
  // False if the pool is empty.
  bool Take(SendToken* out);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<SendToken> tokens_;  // guarded by mu_
};

// Gets tokens as a user's client does (AccountService.GetSendTokenKey once, then
// IssueSendTokens with 100 blinded messages per call, then Finalize), round robin over the
// given users. Not thread-safe: one caller at a time (it uses threads of its own).
class TokenIssuer {
 public:
  static constexpr int kPerCall = 100;  // the server's limit per IssueSendTokens call

  TokenIssuer(const std::shared_ptr<grpc::Channel>& public_channel,
              std::vector<std::string> user_tokens, int threads);

  // Issues at least `n` tokens (whole calls of kPerCall) into `pool`.
  void Issue(int n, TokenPool* pool);

  const crypto::BlindRsaPublicKey& key() const { return *key_; }
  uint64_t issued() const { return issued_; }
  double seconds() const { return seconds_; }  // spent in Issue so far

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::vector<std::string> users_;
  int threads_;
  std::optional<crypto::BlindRsaPublicKey> key_;
  std::string key_id_;
  uint64_t next_user_ = 0;
  uint64_t issued_ = 0;
  double seconds_ = 0;
};

struct Mailbox {
  std::string id;
  std::string access_key;
  std::string owner_secret;
};

// Creates `n` mailboxes (CreateMailbox, each spending a token from `pool`); with `publish_keys`
// each also publishes an Ed25519 identity key and an X25519 signed prekey it signed.
std::vector<Mailbox> CreateMailboxes(v1::PersonalRelayService::Stub* stub, int n, TokenPool* pool,
                                     bool publish_keys, int threads);

// Deletes every envelope the mailboxes hold (AcknowledgeEnvelopes up to the largest sequence).
void EmptyMailboxes(v1::PersonalRelayService::Stub* stub, const std::vector<Mailbox>& mailboxes,
                    int threads);

// A sealed envelope's stand-in: `bytes` random bytes, or with a send time (MessageText's
// "t=<ns>;" prefix) followed by random bytes.
std::string RandomCiphertext(std::mt19937_64* rng, size_t bytes);
std::string TimedCiphertext(std::mt19937_64* rng, int64_t send_ns, size_t bytes);

// PersonalRelayService.SendSealed to a random mailbox of `mailboxes` with a random ciphertext,
// spending a fresh token from `tokens` per call. With the pool empty a call fails locally
// (ABORTED) after 1 ms and `out_of_tokens` counts it.
class SendSealedSlot final : public CallSlot {
 public:
  // Everything pointed to must outlive this.
  SendSealedSlot(v1::PersonalRelayService::Stub* stub, const std::vector<Mailbox>* mailboxes,
                 TokenPool* tokens, size_t ciphertext_bytes, uint64_t seed,
                 std::atomic<uint64_t>* out_of_tokens)
      : stub_(stub),
        mailboxes_(mailboxes),
        tokens_(tokens),
        ciphertext_bytes_(ciphertext_bytes),
        rng_(seed),
        out_of_tokens_(out_of_tokens) {}
  void Start(grpc::ClientContext* ctx, int64_t send_ns,
             std::function<void(const grpc::Status&)> done) override;

 private:
  v1::PersonalRelayService::Stub* const stub_;
  const std::vector<Mailbox>* const mailboxes_;
  TokenPool* const tokens_;
  const size_t ciphertext_bytes_;
  std::mt19937_64 rng_;
  std::atomic<uint64_t>* const out_of_tokens_;
  v1::SendSealedRequest request_;
  v1::SendSealedResponse response_;
};

// Sends at `rate` per second to `mailboxes` round robin, each envelope a TimedCiphertext of
// `bytes`, for `warmup` then `measure`; counts the sends that start in the second part, and
// in `ok_total` every OK send.
PacedResult RunPacedSealed(v1::PersonalRelayService::Stub* stub,
                           const std::vector<Mailbox>& mailboxes, double rate,
                           std::chrono::milliseconds warmup, std::chrono::milliseconds measure,
                           TokenPool* tokens, size_t bytes, uint64_t* ok_total);

// A recipient following its mailbox (StreamMailbox with the owner secret, from the start). For
// envelopes whose ciphertext starts with a send time it keeps the delivery latency.
// Thread-safe.
class MailboxReader final : public grpc::ClientReadReactor<v1::StreamMailboxResponse> {
 public:
  // `stub` must outlive this.
  MailboxReader(v1::PersonalRelayService::Stub* stub, std::string owner_secret);

  void Start();
  // Cancels the stream without waiting.
  void Cancel();
  // Waits until the stream has ended. Must be called before destruction once Start() was.
  void Wait();
  // Waits until `n` envelopes have arrived or the stream ended; false on timeout or end.
  bool WaitForReceived(uint64_t n, int64_t until_ns);

  uint64_t received() const;
  std::vector<int64_t> LatenciesSentIn(int64_t from_ns, int64_t to_ns) const;
  std::optional<grpc::Status> ended() const;

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  struct Sample {
    int64_t send_ns;
    int64_t recv_ns;
  };
  v1::PersonalRelayService::Stub* const stub_;
  grpc::ClientContext ctx_;
  v1::StreamMailboxRequest request_;
  v1::StreamMailboxResponse response_;  // touched only by the read callbacks, one at a time
  bool started_ = false;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t received_ = 0;        // guarded by mu_
  std::vector<Sample> samples_;  // guarded by mu_
  bool done_ = false;            // guarded by mu_
  grpc::Status status_;          // guarded by mu_; valid once done_
};

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

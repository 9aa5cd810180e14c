#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/load.h"
#include "bench/stats.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "services/crypto/blind_rsa.h"

// The clients of the personal relay that the personal and mailboxes phases drive: send tokens
// (issued as a user's client gets them), mailboxes, sealed sends and mailbox readers.
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

// Cancels every stream of `readers` and waits for them to end when it goes out of scope,
// however the scope is left: a stream must end before its reactor is destroyed. `readers` must
// outlive this.
class StopReadersOnExit {
 public:
  explicit StopReadersOnExit(std::vector<std::unique_ptr<MailboxReader>>* readers)
      : readers_(readers) {}
  StopReadersOnExit(const StopReadersOnExit&) = delete;
  StopReadersOnExit& operator=(const StopReadersOnExit&) = delete;
  ~StopReadersOnExit() {
    for (auto& r : *readers_) r->Cancel();
    for (auto& r : *readers_) r->Wait();
  }

 private:
  std::vector<std::unique_ptr<MailboxReader>>* const readers_;
};

// Takes `n` tokens from `pool`; throws if it has fewer.
std::vector<SendToken> TakeTokens(TokenPool* pool, int n);

// One SendSealed to `m` spending `t`, retried as setup calls are (CallWithRetry).
void SendSealedOnce(v1::PersonalRelayService::Stub* stub, const Mailbox& m, const SendToken& t,
                    const std::string& ciphertext);

}  // namespace bizrelay::bench

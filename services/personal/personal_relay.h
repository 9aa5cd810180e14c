#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/personal/access_key_cache.h"
#include "services/personal/personal_repository.h"
#include "services/personal/send_token.h"
#include "services/platform/error.h"
#include "services/platform/rate_limiter.h"

namespace bizrelay::personal {

struct PersonalOptions {
  size_t max_envelope_bytes = 64 * 1024;
  // Envelopes held per mailbox before senders get RESOURCE_EXHAUSTED.
  int max_mailbox_depth = 1000;
  int sends_per_mailbox_per_minute = 120;
  // Unacknowledged envelopes are deleted after this many days.
  int envelope_ttl_days = 30;
  int max_prekeys = 200;
  int max_prekeys_per_publish = 100;
  int max_streams_per_mailbox = 4;
  int stream_page = 100;
  // Mailboxes whose access-key hash is held in memory (AccessKeyCache).
  size_t access_cache_entries = 100000;
};

struct SendTokenInput {
  std::string message, signature, key_id;
};

// One sealed send: to a mailbox, opened by the access key its owner handed out, paid with an
// anonymous token.
struct SealedSend {
  std::string mailbox_id, access_key, ciphertext;
  SendTokenInput token;
};
// What became of one send of a batch: nothing (stored) or why it was refused.
using SendOutcome = std::optional<Error>;

struct PublishedKeys {
  std::string identity_key, signed_prekey, signed_prekey_signature;
  int64_t signed_prekey_id = 0;
  std::vector<Prekey> one_time_prekeys;
};

// The rules of the personal relay. It never learns who sends: a send is accepted on a valid,
// unspent anonymous token and the access key the recipient handed out. A wrong access key
// and an unknown mailbox give the same NOT_FOUND. Runs in the caller's transaction (as the
// personal database role). Thread-safe.
class PersonalRelay {
 public:
  PersonalRelay(const PersonalOptions& options, const SendTokenVerifier* tokens,
                RateLimiter* sends_per_mailbox)
      : options_(options),
        tokens_(tokens),
        sends_(sends_per_mailbox),
        access_cache_(std::make_unique<AccessKeyCache>(options.access_cache_entries)) {}

  struct Created {
    std::string mailbox_id, owner_secret;
  };
  // Checks done before any database work (INVALID_ARGUMENT, PERMISSION_DENIED).
  void CheckToken(const SendTokenInput& token) const;
  void CheckAccessKey(const std::string& access_key) const;
  void CheckEnvelope(const std::string& ciphertext) const;
  void CheckKeys(const PublishedKeys& keys) const;

  Created CreateMailbox(pqxx::transaction_base& tx, const SendTokenInput& token,
                        const std::string& access_key) const;
  // The mailbox of an owner secret; UNAUTHENTICATED if none.
  std::string Authenticate(pqxx::transaction_base& tx, const std::string& owner_secret) const;
  int PublishKeys(pqxx::transaction_base& tx, const std::string& mailbox_id,
                  const PublishedKeys& keys) const;
  int PrekeyCount(pqxx::transaction_base& tx, const std::string& mailbox_id) const;
  Bundle FetchBundle(pqxx::transaction_base& tx, const std::string& mailbox_id,
                     const std::string& access_key) const;
  // Stores a batch of sends (group commit) in the caller's transaction, one outcome per send
  // in order. Each send is refused on its own (NOT_FOUND, RATE_LIMITED, MAILBOX_FULL,
  // TOKEN_SPENT) without failing the others. Envelope and token are checked by the caller
  // (CheckEnvelope, CheckToken) before the batch.
  std::vector<SendOutcome> SendSealed(pqxx::transaction_base& tx,
                                      const std::vector<SealedSend>& sends) const;
  // One send: throws its refusal.
  void SendSealed(pqxx::transaction_base& tx, const SealedSend& send) const;
  int Acknowledge(pqxx::transaction_base& tx, const std::string& mailbox_id, int64_t up_to) const;
  void DeleteMailbox(pqxx::transaction_base& tx, const std::string& mailbox_id) const;

  const PersonalOptions& options() const { return options_; }

 private:
  // NOT_FOUND unless `access_key` opens the mailbox; compares in constant time, against a
  // dummy hash for unknown mailboxes.
  void CheckAccess(pqxx::transaction_base& tx, const std::string& mailbox_id,
                   const std::string& access_key) const;
  // Whether `access_hash` (of the key presented) is `stored` (nullopt: no such mailbox), in
  // constant time.
  static bool AccessMatches(const std::optional<std::string>& stored,
                            const std::string& access_hash);
  void Spend(pqxx::transaction_base& tx, const SendTokenInput& token) const;

  const PersonalOptions options_;
  const SendTokenVerifier* const tokens_;
  RateLimiter* const sends_;
  // Access-key hashes of mailboxes sent to lately. Only a send presenting the right key is
  // answered from it: any other asks the database, as a send to an unknown mailbox does.
  const std::unique_ptr<AccessKeyCache> access_cache_;
};

}  // namespace bizrelay::personal

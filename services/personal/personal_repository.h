#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace bizrelay::personal {

struct Prekey {
  int64_t id = 0;
  std::string public_key;
};

struct Bundle {
  std::string identity_key;
  std::string signed_prekey;
  std::string signed_prekey_signature;
  int64_t signed_prekey_id = 0;
  std::optional<Prekey> one_time_prekey;
};

// A sealed send to store: the recipient's mailbox, the hash and key id of the token it spends,
// and its ciphertext.
struct NewEnvelope {
  std::string mailbox_id, token_hash, key_id, ciphertext;
};
// The outcome of one sealed send in a batch (personal.post_envelopes).
enum class PostOutcome : int { kStored = 0, kTokenSpent = 1, kMailboxFull = 2, kMailboxGone = 3 };

struct Envelope {
  int64_t seq = 0;
  std::string ciphertext;
};

// The SQL of the personal path (schema `personal`), run as the personal database role. Every
// function runs in the caller's transaction.
class PersonalRepository {
 public:
  static std::string CreateMailbox(pqxx::transaction_base& tx, const std::string& owner_hash,
                                   const std::string& access_hash);
  static std::optional<std::string> MailboxOfOwner(pqxx::transaction_base& tx,
                                                   const std::string& owner_hash);
  // The stored access-key hash of a mailbox, or nullopt for an unknown one.
  static std::optional<std::string> AccessHash(pqxx::transaction_base& tx,
                                               const std::string& mailbox_id);
  // The identity key already published, if any.
  static std::optional<std::string> IdentityKey(pqxx::transaction_base& tx,
                                                const std::string& mailbox_id);
  static void SetKeys(pqxx::transaction_base& tx, const std::string& mailbox_id,
                      const std::string& identity_key, const std::string& signed_prekey,
                      const std::string& signature, int64_t signed_prekey_id);
  // Adds one-time prekeys (an id already present is kept as it is).
  static void AddPrekeys(pqxx::transaction_base& tx, const std::string& mailbox_id,
                         const std::vector<Prekey>& prekeys);
  static int PrekeyCount(pqxx::transaction_base& tx, const std::string& mailbox_id);
  // The bundle, consuming one one-time prekey; nullopt if no keys were published.
  static std::optional<Bundle> TakeBundle(pqxx::transaction_base& tx,
                                          const std::string& mailbox_id);
  // Records a spent token; false if it was spent before.
  static bool SpendToken(pqxx::transaction_base& tx, const std::string& token_hash,
                         const std::string& key_id);
  // The access-key hash of each of the given mailboxes that exists, by mailbox id. Every id
  // must be a well-formed uuid.
  static std::map<std::string, std::string> AccessKeyHashes(
      pqxx::transaction_base& tx, const std::vector<std::string>& mailbox_ids);
  // Stores a batch of sealed sends in one statement (so `tx` may be a nontransaction): locks
  // the mailboxes, spends each token and appends each envelope, unless its token was spent
  // before, its mailbox is full or its mailbox is gone; one outcome per send, in order. Wakes
  // the readers of the mailboxes.
  static std::vector<PostOutcome> PostEnvelopes(pqxx::transaction_base& tx,
                                                const std::vector<NewEnvelope>& sends, int ttl_days,
                                                int max_depth);
  static std::vector<Envelope> Envelopes(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                         int64_t after, int limit);
  static int DeleteUpTo(pqxx::transaction_base& tx, const std::string& mailbox_id, int64_t up_to);
  // The mailbox's public keys and counts, for its owner's export.
  static Bundle Keys(pqxx::transaction_base& tx, const std::string& mailbox_id, int* prekeys,
                     int* envelopes);
  // Deletes the mailbox with its keys and envelopes.
  static void DeleteMailbox(pqxx::transaction_base& tx, const std::string& mailbox_id);
};

}  // namespace bizrelay::personal

#pragma once

#include <cstdint>
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
  // Envelopes held for the mailbox, counting up to `cap`.
  static int Depth(pqxx::transaction_base& tx, const std::string& mailbox_id, int cap);
  static void StoreEnvelope(pqxx::transaction_base& tx, const std::string& mailbox_id,
                            const std::string& ciphertext, int ttl_days);
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

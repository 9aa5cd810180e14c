#include "services/personal/personal_repository.h"

#include <stdexcept>

#include "services/store/sql_array.h"

namespace bizrelay::personal {
namespace {

constexpr const char* kCreate =
    "INSERT INTO personal.mailboxes (owner_secret_hash, access_key_hash) VALUES ($1, $2) "
    "RETURNING mailbox_id::text";
constexpr const char* kOwner =
    "SELECT mailbox_id::text FROM personal.mailboxes WHERE owner_secret_hash = $1";
constexpr const char* kAccess =
    "SELECT access_key_hash FROM personal.mailboxes WHERE mailbox_id = $1::uuid";
constexpr const char* kIdentity =
    "SELECT identity_key FROM personal.mailboxes WHERE mailbox_id = $1::uuid "
    "AND identity_key IS NOT NULL";
constexpr const char* kSetKeys =
    "UPDATE personal.mailboxes SET identity_key = $2, signed_prekey = $3, "
    "  signed_prekey_signature = $4, signed_prekey_id = $5 WHERE mailbox_id = $1::uuid";
constexpr const char* kAddPrekey =
    "INSERT INTO personal.prekeys (mailbox_id, prekey_id, public_key) VALUES ($1::uuid, $2, $3) "
    "ON CONFLICT DO NOTHING";
constexpr const char* kPrekeyCount =
    "SELECT count(*) FROM personal.prekeys WHERE mailbox_id = $1::uuid";
constexpr const char* kBundle =
    "SELECT identity_key, signed_prekey, signed_prekey_signature, signed_prekey_id "
    "FROM personal.mailboxes WHERE mailbox_id = $1::uuid AND identity_key IS NOT NULL";
constexpr const char* kTakePrekey =
    "DELETE FROM personal.prekeys WHERE (mailbox_id, prekey_id) = ("
    "  SELECT mailbox_id, prekey_id FROM personal.prekeys WHERE mailbox_id = $1::uuid "
    "  ORDER BY prekey_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING prekey_id, public_key";
// Spends one token (1 row: it had not been spent) and notes its key for the sweeper.
constexpr const char* kSpend =
    "WITH spent AS ("
    "  INSERT INTO personal.spent_tokens (token_hash, key_id) VALUES ($1, $2) "
    "  ON CONFLICT DO NOTHING RETURNING key_id), "
    "noted AS ("
    "  INSERT INTO personal.spent_token_keys (key_id) SELECT key_id FROM spent "
    "  ON CONFLICT DO NOTHING) "
    "SELECT count(*) FROM spent";
// Locks the mailboxes in id order, so that concurrent batches cannot deadlock.
constexpr const char* kAccessKeyHashes =
    "SELECT mailbox_id::text, access_key_hash FROM personal.mailboxes "
    "WHERE mailbox_id = ANY ($1::uuid[])";
// The width of each token hash packed for post_envelopes.
constexpr size_t kTokenHashBytes = 32;
constexpr const char* kPostEnvelopes =
    "SELECT item, outcome FROM personal.post_envelopes($1::uuid[], $2::bytea, $3::text[], "
    "  $4::bytea, $5::integer[], $6::integer[], $7, $8)";
constexpr const char* kEnvelopes =
    "SELECT seq, ciphertext FROM personal.envelopes "
    "WHERE mailbox_id = $1::uuid AND seq > $2 AND expires_day >= current_date "
    "ORDER BY seq LIMIT $3";
constexpr const char* kDeleteUpTo =
    "DELETE FROM personal.envelopes WHERE mailbox_id = $1::uuid AND seq <= $2";

constexpr const char* kKeys =
    "SELECT coalesce(identity_key, ''::bytea), coalesce(signed_prekey, ''::bytea), "
    "  coalesce(signed_prekey_signature, ''::bytea), coalesce(signed_prekey_id, 0), "
    "  (SELECT count(*) FROM personal.prekeys p WHERE p.mailbox_id = m.mailbox_id), "
    "  (SELECT count(*) FROM personal.envelopes e WHERE e.mailbox_id = m.mailbox_id) "
    "FROM personal.mailboxes m WHERE mailbox_id = $1::uuid";
constexpr const char* kDeleteMailbox = "DELETE FROM personal.mailboxes WHERE mailbox_id = $1::uuid";

std::string Bytes(const pqxx::field& f) { return pqxx::binarystring(f).str(); }

}  // namespace

std::string PersonalRepository::CreateMailbox(pqxx::transaction_base& tx,
                                              const std::string& owner_hash,
                                              const std::string& access_hash) {
  return tx
      .exec_params1(kCreate, pqxx::binarystring(owner_hash), pqxx::binarystring(access_hash))[0]
      .as<std::string>();
}

std::optional<std::string> PersonalRepository::MailboxOfOwner(pqxx::transaction_base& tx,
                                                              const std::string& owner_hash) {
  auto rows = tx.exec_params(kOwner, pqxx::binarystring(owner_hash));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

std::optional<std::string> PersonalRepository::AccessHash(pqxx::transaction_base& tx,
                                                          const std::string& mailbox_id) {
  auto rows = tx.exec_params(kAccess, mailbox_id);
  if (rows.empty()) return std::nullopt;
  return Bytes(rows[0][0]);
}

std::optional<std::string> PersonalRepository::IdentityKey(pqxx::transaction_base& tx,
                                                           const std::string& mailbox_id) {
  auto rows = tx.exec_params(kIdentity, mailbox_id);
  if (rows.empty()) return std::nullopt;
  return Bytes(rows[0][0]);
}

void PersonalRepository::SetKeys(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                 const std::string& identity_key, const std::string& signed_prekey,
                                 const std::string& signature, int64_t signed_prekey_id) {
  tx.exec_params0(kSetKeys, mailbox_id, pqxx::binarystring(identity_key),
                  pqxx::binarystring(signed_prekey), pqxx::binarystring(signature),
                  signed_prekey_id);
}

void PersonalRepository::AddPrekeys(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                    const std::vector<Prekey>& prekeys) {
  for (const auto& p : prekeys) {
    tx.exec_params0(kAddPrekey, mailbox_id, p.id, pqxx::binarystring(p.public_key));
  }
}

int PersonalRepository::PrekeyCount(pqxx::transaction_base& tx, const std::string& mailbox_id) {
  return tx.exec_params1(kPrekeyCount, mailbox_id)[0].as<int>();
}

std::optional<Bundle> PersonalRepository::TakeBundle(pqxx::transaction_base& tx,
                                                     const std::string& mailbox_id) {
  auto rows = tx.exec_params(kBundle, mailbox_id);
  if (rows.empty()) return std::nullopt;
  Bundle b{Bytes(rows[0][0]), Bytes(rows[0][1]), Bytes(rows[0][2]), rows[0][3].as<int64_t>(), {}};
  auto pre = tx.exec_params(kTakePrekey, mailbox_id);
  if (!pre.empty()) b.one_time_prekey = Prekey{pre[0][0].as<int64_t>(), Bytes(pre[0][1])};
  return b;
}

bool PersonalRepository::SpendToken(pqxx::transaction_base& tx, const std::string& token_hash,
                                    const std::string& key_id) {
  return tx.exec_params1(kSpend, pqxx::binarystring(token_hash), key_id)[0].as<int>() == 1;
}

std::map<std::string, std::string> PersonalRepository::AccessKeyHashes(
    pqxx::transaction_base& tx, const std::vector<std::string>& mailbox_ids) {
  std::map<std::string, std::string> out;
  for (const auto& r : tx.exec_params(kAccessKeyHashes, store::SqlArray(mailbox_ids))) {
    out.emplace(r[0].as<std::string>(), Bytes(r[1]));
  }
  return out;
}

std::vector<PostOutcome> PersonalRepository::PostEnvelopes(pqxx::transaction_base& tx,
                                                           const std::vector<NewEnvelope>& sends,
                                                           int ttl_days, int max_depth) {
  std::vector<std::string> mailboxes, keys, ciphertexts;
  std::string token_hashes;  // 32 bytes each, one after the other
  for (const auto& s : sends) {
    if (s.token_hash.size() != kTokenHashBytes) {
      throw std::logic_error("a token hash is a SHA-256 digest");
    }
    mailboxes.push_back(s.mailbox_id);
    token_hashes += s.token_hash;
    keys.push_back(s.key_id);
    ciphertexts.push_back(s.ciphertext);
  }
  store::PackedBytes packed = store::PackBytes(ciphertexts);
  std::vector<PostOutcome> out(sends.size(), PostOutcome::kTokenSpent);
  for (const auto& r :
       tx.exec_params(kPostEnvelopes, store::SqlArray(mailboxes), pqxx::binarystring(token_hashes),
                      store::SqlArray(keys), pqxx::binarystring(packed.bytes), packed.starts,
                      packed.lengths, ttl_days, max_depth)) {
    out.at(r[0].as<size_t>() - 1) = static_cast<PostOutcome>(r[1].as<int>());
  }
  return out;
}

std::vector<Envelope> PersonalRepository::Envelopes(pqxx::transaction_base& tx,
                                                    const std::string& mailbox_id, int64_t after,
                                                    int limit) {
  std::vector<Envelope> out;
  for (const auto& r : tx.exec_params(kEnvelopes, mailbox_id, after, limit)) {
    out.push_back({r[0].as<int64_t>(), Bytes(r[1])});
  }
  return out;
}

int PersonalRepository::DeleteUpTo(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                   int64_t up_to) {
  return static_cast<int>(tx.exec_params0(kDeleteUpTo, mailbox_id, up_to).affected_rows());
}

Bundle PersonalRepository::Keys(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                int* prekeys, int* envelopes) {
  auto r = tx.exec_params1(kKeys, mailbox_id);
  *prekeys = r[4].as<int>();
  *envelopes = r[5].as<int>();
  return Bundle{Bytes(r[0]), Bytes(r[1]), Bytes(r[2]), r[3].as<int64_t>(), {}};
}

void PersonalRepository::DeleteMailbox(pqxx::transaction_base& tx, const std::string& mailbox_id) {
  tx.exec_params0(kDeleteMailbox, mailbox_id);
}

}  // namespace bizrelay::personal

#include "services/personal/personal_relay.h"

#include "services/crypto/sealed_box.h"
#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/platform/validate.h"

namespace bizrelay::personal {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;

Error MailboxNotFound() { return NotFound("mailbox"); }

Error TokenSpent() {
  return Error(ErrorCode::kFailedPrecondition, "TOKEN_SPENT", "this send token was used before");
}

// Whether `id` could name a mailbox (a uuid); anything else is answered like an unknown one.
bool IsWellFormedId(const std::string& id) {
  try {
    CheckId("mailbox", id);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

void PersonalRelay::CheckToken(const SendTokenInput& token) const {
  tokens_->Check(token.message, token.signature, token.key_id);
}

void PersonalRelay::CheckAccessKey(const std::string& access_key) const {
  if (access_key.size() != kKeyBytes) throw InvalidField("access_key", "access_key is 32 bytes");
}

void PersonalRelay::CheckEnvelope(const std::string& ciphertext) const {
  if (ciphertext.empty() || ciphertext.size() > options_.max_envelope_bytes) {
    throw Error(
        ErrorCode::kResourceExhausted, "ENVELOPE_TOO_LARGE",
        "ciphertext must be 1 to " + std::to_string(options_.max_envelope_bytes) + " bytes",
        {{"field", "ciphertext"}, {"max_bytes", std::to_string(options_.max_envelope_bytes)}});
  }
}

void PersonalRelay::CheckKeys(const PublishedKeys& k) const {
  if (k.identity_key.size() != kKeyBytes) throw InvalidField("identity_key", "32 bytes expected");
  if (k.signed_prekey.size() != kKeyBytes) {
    throw InvalidField("signed_prekey", "32 bytes expected");
  }
  if (k.signed_prekey_signature.size() != kSignatureBytes ||
      !crypto::Ed25519Verify(k.identity_key, k.signed_prekey, k.signed_prekey_signature)) {
    throw InvalidField("signed_prekey_signature",
                       "not the identity key's signature over the signed prekey",
                       "BAD_PREKEY_SIGNATURE");
  }
  if (static_cast<int>(k.one_time_prekeys.size()) > options_.max_prekeys_per_publish) {
    throw InvalidField("one_time_prekeys", "too many prekeys in one call");
  }
  for (const auto& p : k.one_time_prekeys) {
    if (p.public_key.size() != kKeyBytes) {
      throw InvalidField("one_time_prekeys.public_key", "32 bytes expected");
    }
  }
}

void PersonalRelay::Spend(pqxx::transaction_base& tx, const SendTokenInput& token) const {
  if (!PersonalRepository::SpendToken(tx, Sha256(token.message), token.key_id)) {
    throw TokenSpent();
  }
}

PersonalRelay::Created PersonalRelay::CreateMailbox(pqxx::transaction_base& tx,
                                                    const SendTokenInput& token,
                                                    const std::string& access_key) const {
  CheckToken(token);
  CheckAccessKey(access_key);
  Spend(tx, token);
  std::string secret = GenerateToken("brm_");
  std::string id = PersonalRepository::CreateMailbox(tx, Sha256(secret), Sha256(access_key));
  return {id, secret};
}

std::string PersonalRelay::Authenticate(pqxx::transaction_base& tx,
                                        const std::string& owner_secret) const {
  auto id = PersonalRepository::MailboxOfOwner(tx, Sha256(owner_secret));
  if (!id) {
    throw Error(ErrorCode::kUnauthenticated, "UNAUTHENTICATED", "unknown mailbox secret");
  }
  return *id;
}

int PersonalRelay::PublishKeys(pqxx::transaction_base& tx, const std::string& mailbox_id,
                               const PublishedKeys& keys) const {
  CheckKeys(keys);
  auto existing = PersonalRepository::IdentityKey(tx, mailbox_id);
  if (existing && !ConstantTimeEquals(*existing, keys.identity_key)) {
    throw Error(ErrorCode::kFailedPrecondition, "IDENTITY_KEY_FIXED",
                "the identity key of a mailbox cannot change; create a new mailbox");
  }
  PersonalRepository::SetKeys(tx, mailbox_id, keys.identity_key, keys.signed_prekey,
                              keys.signed_prekey_signature, keys.signed_prekey_id);
  int have = PersonalRepository::PrekeyCount(tx, mailbox_id);
  if (have + static_cast<int>(keys.one_time_prekeys.size()) > options_.max_prekeys) {
    throw Error(ErrorCode::kResourceExhausted, "TOO_MANY_PREKEYS",
                "a mailbox holds at most " + std::to_string(options_.max_prekeys) + " prekeys");
  }
  PersonalRepository::AddPrekeys(tx, mailbox_id, keys.one_time_prekeys);
  return PersonalRepository::PrekeyCount(tx, mailbox_id);
}

int PersonalRelay::PrekeyCount(pqxx::transaction_base& tx, const std::string& mailbox_id) const {
  return PersonalRepository::PrekeyCount(tx, mailbox_id);
}

bool PersonalRelay::AccessMatches(const std::optional<std::string>& stored,
                                  const std::string& access_hash) {
  static const std::string kDummy = Sha256("bizrelay-no-such-mailbox");
  bool match = ConstantTimeEquals(access_hash, stored ? *stored : kDummy);
  return stored && match;
}

void PersonalRelay::CheckAccess(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                const std::string& access_key) const {
  std::optional<std::string> stored;
  if (IsWellFormedId(mailbox_id)) stored = PersonalRepository::AccessHash(tx, mailbox_id);
  if (!AccessMatches(stored, Sha256(access_key))) throw MailboxNotFound();
}

Bundle PersonalRelay::FetchBundle(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                  const std::string& access_key) const {
  CheckAccess(tx, mailbox_id, access_key);
  auto bundle = PersonalRepository::TakeBundle(tx, mailbox_id);
  if (!bundle) throw MailboxNotFound();  // no keys published yet: nothing to send to
  return *bundle;
}

std::vector<SendOutcome> PersonalRelay::SendSealed(pqxx::transaction_base& tx,
                                                   const std::vector<SealedSend>& sends) const {
  std::vector<SendOutcome> out(sends.size());
  // A send opens its mailbox when its key's hash is the one held for it; any other send (a
  // wrong key, a mailbox not held, an unknown one) waits for the database's answer alike.
  std::vector<std::string> presented(sends.size());
  std::vector<bool> opened(sends.size(), false);
  std::vector<std::string> ids;
  for (size_t i = 0; i < sends.size(); ++i) {
    const SealedSend& s = sends[i];
    presented[i] = Sha256(s.access_key);
    if (!IsWellFormedId(s.mailbox_id)) continue;
    auto held = access_cache_->Find(s.mailbox_id);
    opened[i] = held && AccessMatches(held, presented[i]);
    if (!opened[i]) ids.push_back(s.mailbox_id);
  }
  if (!ids.empty()) {
    // Well-formed ids are PostgreSQL's own spelling of a uuid, so they match the keys returned.
    auto hashes = PersonalRepository::AccessKeyHashes(tx, ids);
    for (const auto& [id, hash] : hashes) access_cache_->Put(id, hash);
    for (size_t i = 0; i < sends.size(); ++i) {
      if (opened[i]) continue;
      auto it = hashes.find(sends[i].mailbox_id);
      std::optional<std::string> stored;
      if (it != hashes.end()) stored = it->second;
      opened[i] = AccessMatches(stored, presented[i]);
    }
  }
  std::vector<NewEnvelope> accepted;
  std::vector<size_t> accepted_index;
  for (size_t i = 0; i < sends.size(); ++i) {
    const SealedSend& s = sends[i];
    const std::string& id = s.mailbox_id;
    if (!opened[i]) {
      out[i] = MailboxNotFound();
      continue;
    }
    std::chrono::milliseconds retry{0};
    if (!sends_->TryAcquire(id, &retry)) {
      out[i] = Error(ErrorCode::kResourceExhausted, "RATE_LIMITED",
                     "too many messages to this mailbox; retry later",
                     {{"retry_delay_ms", std::to_string(retry.count())}});
      continue;
    }
    accepted.push_back({id, Sha256(s.token.message), s.token.key_id, s.ciphertext});
    accepted_index.push_back(i);
  }
  if (accepted.empty()) return out;
  auto outcomes = PersonalRepository::PostEnvelopes(tx, accepted, options_.envelope_ttl_days,
                                                    options_.max_mailbox_depth);
  for (size_t k = 0; k < outcomes.size(); ++k) {
    switch (outcomes[k]) {
      case PostOutcome::kStored:
        break;
      case PostOutcome::kMailboxGone:  // deleted since its access key was read or held
        access_cache_->Forget(accepted[k].mailbox_id);
        out[accepted_index[k]] = MailboxNotFound();
        break;
      case PostOutcome::kTokenSpent:
        out[accepted_index[k]] = TokenSpent();
        break;
      case PostOutcome::kMailboxFull:
        out[accepted_index[k]] =
            Error(ErrorCode::kResourceExhausted, "MAILBOX_FULL",
                  "the recipient's mailbox is full; retry later", {{"retry_delay_ms", "60000"}});
        break;
    }
  }
  return out;
}

void PersonalRelay::SendSealed(pqxx::transaction_base& tx, const SealedSend& send) const {
  CheckEnvelope(send.ciphertext);
  CheckToken(send.token);
  auto outcome = SendSealed(tx, std::vector<SealedSend>{send});
  if (outcome[0]) throw *outcome[0];
}

void PersonalRelay::DeleteMailbox(pqxx::transaction_base& tx, const std::string& mailbox_id) const {
  access_cache_->Forget(mailbox_id);
  PersonalRepository::DeleteMailbox(tx, mailbox_id);
}

int PersonalRelay::Acknowledge(pqxx::transaction_base& tx, const std::string& mailbox_id,
                               int64_t up_to) const {
  if (up_to < 0) throw InvalidField("up_to_sequence", "must not be negative");
  return PersonalRepository::DeleteUpTo(tx, mailbox_id, up_to);
}

}  // namespace bizrelay::personal

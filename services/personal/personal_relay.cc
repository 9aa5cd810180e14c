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
    throw Error(ErrorCode::kFailedPrecondition, "TOKEN_SPENT", "this send token was used before");
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

void PersonalRelay::CheckAccess(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                const std::string& access_key) const {
  static const std::string kDummy = Sha256("bizrelay-no-such-mailbox");
  std::optional<std::string> stored;
  bool well_formed = true;
  try {
    CheckId("mailbox", mailbox_id);
    stored = PersonalRepository::AccessHash(tx, mailbox_id);
  } catch (const Error&) {
    well_formed = false;
  }
  bool match = ConstantTimeEquals(Sha256(access_key), stored ? *stored : kDummy);
  if (!well_formed || !stored || !match) throw MailboxNotFound();
}

Bundle PersonalRelay::FetchBundle(pqxx::transaction_base& tx, const std::string& mailbox_id,
                                  const std::string& access_key) const {
  CheckAccess(tx, mailbox_id, access_key);
  auto bundle = PersonalRepository::TakeBundle(tx, mailbox_id);
  if (!bundle) throw MailboxNotFound();  // no keys published yet: nothing to send to
  return *bundle;
}

void PersonalRelay::SendSealed(pqxx::transaction_base& tx, const std::string& mailbox_id,
                               const std::string& access_key, const SendTokenInput& token,
                               const std::string& ciphertext) const {
  CheckEnvelope(ciphertext);
  CheckToken(token);
  CheckAccess(tx, mailbox_id, access_key);
  std::chrono::milliseconds retry{0};
  if (!sends_->TryAcquire(mailbox_id, &retry)) {
    throw Error(ErrorCode::kResourceExhausted, "RATE_LIMITED",
                "too many messages to this mailbox; retry later",
                {{"retry_delay_ms", std::to_string(retry.count())}});
  }
  if (PersonalRepository::Depth(tx, mailbox_id, options_.max_mailbox_depth) >=
      options_.max_mailbox_depth) {
    throw Error(ErrorCode::kResourceExhausted, "MAILBOX_FULL",
                "the recipient's mailbox is full; retry later", {{"retry_delay_ms", "60000"}});
  }
  Spend(tx, token);
  PersonalRepository::StoreEnvelope(tx, mailbox_id, ciphertext, options_.envelope_ttl_days);
}

int PersonalRelay::Acknowledge(pqxx::transaction_base& tx, const std::string& mailbox_id,
                               int64_t up_to) const {
  if (up_to < 0) throw InvalidField("up_to_sequence", "must not be negative");
  return PersonalRepository::DeleteUpTo(tx, mailbox_id, up_to);
}

}  // namespace bizrelay::personal

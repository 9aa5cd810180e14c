#pragma once

// The client side of the personal (person-to-person) path: anonymous send tokens, the local key
// store, contact cards and sealed envelopes. The relay sees none of the secrets kept here; the
// store is the only place they are ever written, and no function here prints or logs them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/personal_relay_service.pb.h"

namespace bizrelay::cli {

// --- Send tokens ---------------------------------------------------------------------------

// An unspent anonymous send token: the issuer's RFC 9474 RSABSSA-SHA384-PSS-Randomized
// signature over a message the issuer never saw.
struct SendToken {
  // The prepared message: the 32-byte random prefix || the client's 32-byte nonce.
  std::string message;
  std::string signature;
  // BlindRsaKeyId of the issuer key that signed it.
  std::string key_id;

  bool operator==(const SendToken&) const = default;
};

v1::SendToken ToProto(const SendToken& token);

inline constexpr size_t kSendTokenNonceBytes = 32;
// The relay's limit on blinded messages per IssueSendTokens call.
inline constexpr int kMaxTokensPerIssue = 100;

// Obtains `count` (at least 1) send tokens: fetches the issuer key (GetSendTokenKey, no
// credentials), blinds fresh random nonces, has them signed by IssueSendTokens as the user of
// `user_token`, at most kMaxTokensPerIssue per call, and unblinds the signatures (checking that
// each verifies). Every call has `deadline`. `keep` receives the tokens of each call as soon as
// they are final, so that tokens already issued (they count against the user's daily quota)
// are kept when a later call fails. Throws RpcError if a call fails, and bizrelay::Error
// INVALID_ARGUMENT (reasons INVALID_KEY, INVALID_BLIND_SIGNATURE, ISSUER_KEY_MISMATCH) if the
// relay answers with a bad key or signature.
void ObtainSendTokens(v1::AccountService::StubInterface& account, const std::string& user_token,
                      int count, std::chrono::seconds deadline,
                      const std::function<void(std::vector<SendToken>)>& keep);

// --- Key store -----------------------------------------------------------------------------

// Everything a person's client keeps for the personal path. Keys are raw bytes as
// services/crypto takes them; private keys and the owner secret are secrets.
struct PersonalKeys {
  // Empty until a mailbox was created.
  std::string mailbox_id;
  // The bearer secret of the mailbox calls.
  std::string owner_secret;
  // 32 bytes; senders present it (it is in the contact card).
  std::string access_key;
  // Ed25519 private key; empty until generated.
  std::string identity_private_key;
  // X25519 private key of the current signed prekey, and its id.
  std::string signed_prekey_private_key;
  int64_t signed_prekey_id = 0;
  // X25519 private keys of the one-time prekeys published and not yet used, by id.
  std::map<int64_t, std::string> one_time_prekeys;
  // The id the next one-time prekey gets. Ids are never reused within a mailbox.
  int64_t next_prekey_id = 1;
  std::vector<SendToken> send_tokens;

  bool operator==(const PersonalKeys&) const = default;
};

// A directory holding one PersonalKeys as `keys.json` (mode 0600, in a directory created with
// mode 0700), replaced atomically (write to a temporary file, fsync, rename) on every change.
// Changes take an exclusive flock on `keys.lock`, so that concurrent bizrelay processes (a
// `personal listen` while a `personal send` runs) never lose each other's changes; a reader
// sees either the old or the new file and needs no lock.
//
// keys.json, version 1 (byte strings in unpadded base64url):
//   {"version": 1,
//    "mailbox_id": "<uuid>", "owner_secret": "<secret>", "access_key": "<b64>",
//    "identity_private_key": "<b64>",
//    "signed_prekey": {"id": 1, "private_key": "<b64>"},
//    "one_time_prekeys": [{"id": 1, "private_key": "<b64>"}, ...],
//    "next_prekey_id": 21,
//    "send_tokens": [{"message": "<b64>", "signature": "<b64>", "key_id": "<hex>"}, ...]}
// Fields that are not set yet are empty strings (ids 0).
//
// Errors: a store that does not exist is a UsageError (run `personal init`); one that cannot
// be read, written or parsed throws std::runtime_error. Messages name the file, never its
// contents.
class KeyStore {
 public:
  explicit KeyStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }
  bool Exists() const;
  PersonalKeys Load() const;
  // Under the lock: loads the stored keys (an empty PersonalKeys if there are none and
  // `create` is set), applies `change`, saves and returns the result. Nothing is saved if
  // `change` throws.
  PersonalKeys Update(const std::function<void(PersonalKeys&)>& change, bool create = false) const;

  // The JSON text of `keys`, and back (runtime_error on anything malformed).
  static std::string Serialize(const PersonalKeys& keys);
  static PersonalKeys Parse(std::string_view text);

 private:
  std::filesystem::path dir_;
};

// --- Contact cards -------------------------------------------------------------------------

// What a person hands to friends: enough to send to their mailbox, nothing more.
struct ContactCard {
  std::string mailbox_id;
  // 32 bytes.
  std::string access_key;

  bool operator==(const ContactCard&) const = default;
};

// "bizrelay-contact:<mailbox_id>:<access key, unpadded base64url>".
std::string FormatContactCard(const ContactCard& card);
// Throws UsageError (without echoing the card) unless `text` has that form with a non-empty
// mailbox id and a 32-byte access key. Surrounding blanks are ignored.
ContactCard ParseContactCard(std::string_view text);

// --- Keys and envelopes --------------------------------------------------------------------

// How many one-time prekeys `personal init` publishes and `personal refill` tops up to, and the
// count below which refill publishes more.
inline constexpr int kOneTimePrekeyTarget = 20;
inline constexpr int kOneTimePrekeyLow = 10;

// Fills in a fresh identity key and signed prekey (id 1) unless `keys` has an identity.
void EnsureIdentity(PersonalKeys* keys);

// A PublishKeys request for `keys` (which must have an identity): the identity public key, the
// signed prekey with the identity's signature over it, and `one_time_count` fresh one-time
// prekeys whose private keys are added to `keys` under new ids. Save `keys` before publishing:
// a prekey published without its private key kept makes envelopes to it unreadable.
v1::PublishKeysRequest NewPublication(PersonalKeys* keys, int one_time_count);

// Envelope, version 1, as stored by the relay:
//   0x01 || prekey kind (0x01 one-time, 0x02 signed) || prekey id (8 bytes, big-endian)
//   || crypto::Seal(recipient prekey public, sender identity private, plaintext)
// The header only says which private key opens the rest; changing it selects a key the box
// was not sealed to, so opening fails.
enum class PrekeyKind : uint8_t { kOneTime = 1, kSigned = 2 };
inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr size_t kEnvelopeHeaderBytes = 1 + 1 + 8;

std::string SealEnvelope(PrekeyKind kind, int64_t prekey_id,
                         std::string_view recipient_prekey_public,
                         std::string_view sender_identity_private, std::string_view plaintext);

// Checks the bundle's signed prekey signature against its identity key, then seals to the
// one-time prekey if the bundle has one, else to the signed prekey. Throws bizrelay::Error
// PERMISSION_DENIED, reason BAD_PREKEY_SIGNATURE, if the signature does not verify (nothing is
// sealed), INVALID_ARGUMENT INVALID_KEY for malformed keys.
std::string SealToBundle(const v1::FetchBundleResponse& bundle,
                         std::string_view sender_identity_private, std::string_view plaintext);

struct OpenedEnvelope {
  // The sender's Ed25519 identity, proven by its signature inside the envelope.
  std::string sender_identity_key;
  std::string plaintext;
  // The one-time prekey it was sealed to (now erased from the keys), if any.
  std::optional<int64_t> one_time_prekey_id;
};

// Opens `envelope` with the private prekey its header names and erases a one-time prekey used
// from `keys` (each is good for one message). Throws bizrelay::Error INVALID_ARGUMENT: reason
// ENVELOPE_INVALID for a malformed header, UNKNOWN_PREKEY if `keys` has no such prekey (for
// example one already used), SEALED_BOX_INVALID if the sealed box does not open; `keys` is
// unchanged then.
OpenedEnvelope OpenEnvelope(PersonalKeys* keys, std::string_view envelope);

// The first 16 hex digits of an identity key: how a sender is shown.
std::string IdentityFingerprint(std::string_view identity_key);

}  // namespace bizrelay::cli

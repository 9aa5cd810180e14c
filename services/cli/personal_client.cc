#include "services/cli/personal_client.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "services/cli/invocation.h"
#include "services/cli/rpc_error.h"
#include "services/crypto/blind_rsa.h"
#include "services/crypto/sealed_box.h"
#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::cli {
namespace {

using nlohmann::json;

constexpr char kKeysFile[] = "keys.json";
constexpr char kTempFile[] = "keys.json.tmp";
constexpr char kLockFile[] = "keys.lock";
constexpr int kStoreVersion = 1;
constexpr size_t kKeyBytes = 32;
constexpr char kCardPrefix[] = "bizrelay-contact:";

void SetDeadline(grpc::ClientContext* ctx, std::chrono::seconds deadline) {
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
}

Error IssuerKeyMismatch() {
  return Error(ErrorCode::kInvalidArgument, "ISSUER_KEY_MISMATCH",
               "the relay's send token key changed during the request; try again");
}

// --- Files ---

[[noreturn]] void ThrowFileError(const std::string& what, const std::filesystem::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

// Closes a file descriptor (and so releases its flock) when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The contents of `path`, or nullopt if it does not exist.
std::optional<std::string> ReadIfExists(const std::filesystem::path& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    ThrowFileError("cannot open", path);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowFileError("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Replaces dir/keys.json by a file of mode 0600 holding `contents`, atomically and durably.
// The caller holds the store's lock, which also guards the fixed temporary name.
void WriteAtomically(const std::filesystem::path& dir, const std::string& contents) {
  std::filesystem::path tmp = dir / kTempFile;
  {
    Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) ThrowFileError("cannot create", tmp);
    // A leftover temporary file keeps its old mode through O_CREAT.
    if (fchmod(fd.get(), 0600) != 0) ThrowFileError("cannot chmod", tmp);
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = write(fd.get(), contents.data() + done, contents.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        ThrowFileError("cannot write", tmp);
      }
      done += static_cast<size_t>(n);
    }
    if (fsync(fd.get()) != 0) ThrowFileError("cannot sync", tmp);
  }
  std::filesystem::path file = dir / kKeysFile;
  if (rename(tmp.c_str(), file.c_str()) != 0) ThrowFileError("cannot replace", file);
  Fd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) fsync(dir_fd.get());
}

// --- JSON ---

// Thrown for any malformed store; never quotes the store's contents.
[[noreturn]] void Malformed(std::string_view field) {
  throw std::runtime_error("the key store (" + std::string(kKeysFile) + ") is malformed: field " +
                           std::string(field));
}

std::string GetString(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) Malformed(field);
  return it->get<std::string>();
}

int64_t GetInt(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_number_integer()) Malformed(field);
  return it->get<int64_t>();
}

// Base64url bytes of length `size` (or any non-empty length if 0); empty stays empty.
std::string GetBytes(const json& j, const char* field, size_t size) {
  std::string text = GetString(j, field);
  std::string bytes;
  if (!Base64UrlDecode(text, &bytes) || (!bytes.empty() && size != 0 && bytes.size() != size)) {
    Malformed(field);
  }
  return bytes;
}

const json& GetArray(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_array()) Malformed(field);
  return *it;
}

void PutInt64BigEndian(std::string* out, int64_t value) {
  auto v = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

int64_t GetInt64BigEndian(std::string_view in) {
  uint64_t v = 0;
  for (char c : in.substr(0, 8)) v = (v << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(v);
}

Error BadEnvelope(std::string reason, std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(reason), std::move(message));
}

}  // namespace

v1::SendToken ToProto(const SendToken& token) {
  v1::SendToken out;
  out.set_message(token.message);
  out.set_signature(token.signature);
  out.set_key_id(token.key_id);
  return out;
}

void ObtainSendTokens(v1::AccountService::StubInterface& account, const std::string& user_token,
                      int count, std::chrono::seconds deadline,
                      const std::function<void(std::vector<SendToken>)>& keep) {
  if (count < 1) throw std::invalid_argument("ObtainSendTokens: count must be at least 1");
  v1::GetSendTokenKeyResponse key_response;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, deadline);
    grpc::Status status =
        account.GetSendTokenKey(&ctx, v1::GetSendTokenKeyRequest(), &key_response);
    if (!status.ok()) throw RpcError(std::move(status));
  }
  crypto::BlindRsaPublicKey key = crypto::BlindRsaPublicKey::FromDer(key_response.public_key());
  const std::string key_id = crypto::BlindRsaKeyId(key);
  if (key_id != key_response.key_id()) throw IssuerKeyMismatch();

  for (int done = 0; done < count;) {
    const int n = std::min(count - done, kMaxTokensPerIssue);
    // The blinding factors stay in this process: with them the issuer could link the tokens
    // to this call.
    std::vector<crypto::BlindingResult> blindings;
    blindings.reserve(n);
    v1::IssueSendTokensRequest request;
    for (int i = 0; i < n; ++i) {
      blindings.push_back(key.Blind(RandomBytes(kSendTokenNonceBytes),
                                    crypto::BlindRsaVariant::kSha384PssRandomized));
      request.add_blinded_messages(blindings.back().blinded_msg);
    }
    v1::IssueSendTokensResponse response;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, deadline);
    ctx.AddMetadata("authorization", "Bearer " + user_token);
    grpc::Status status = account.IssueSendTokens(&ctx, request, &response);
    if (!status.ok()) throw RpcError(std::move(status));
    if (response.key_id() != key_id) throw IssuerKeyMismatch();
    if (response.blind_signatures_size() != n) {
      throw Error(ErrorCode::kInvalidArgument, "INVALID_BLIND_SIGNATURE",
                  "the relay returned " + std::to_string(response.blind_signatures_size()) +
                      " signatures for " + std::to_string(n) + " tokens");
    }
    std::vector<SendToken> tokens;
    tokens.reserve(n);
    for (int i = 0; i < n; ++i) {
      const crypto::BlindingResult& b = blindings[i];
      tokens.push_back({b.prepared_msg,
                        key.Finalize(response.blind_signatures(i), b.inv, b.prepared_msg), key_id});
    }
    keep(std::move(tokens));
    done += n;
  }
}

// --- KeyStore ----------------------------------------------------------------------------------

bool KeyStore::Exists() const { return std::filesystem::exists(dir_ / kKeysFile); }

PersonalKeys KeyStore::Load() const {
  std::optional<std::string> text = ReadIfExists(dir_ / kKeysFile);
  if (!text) {
    throw UsageError("no personal keys in " + dir_.string() +
                     ": run `bizrelay personal init` first, or pass the right --keys-dir");
  }
  return Parse(*text);
}

PersonalKeys KeyStore::Update(const std::function<void(PersonalKeys&)>& change, bool create) const {
  if (create && !std::filesystem::exists(dir_)) {
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace);
  }
  std::filesystem::path lock_path = dir_ / kLockFile;
  Fd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock.get() < 0) {
    if (errno == ENOENT && !create) Load();  // reports the missing store as a usage error
    ThrowFileError("cannot open", lock_path);
  }
  while (flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) ThrowFileError("cannot lock", lock_path);
  }
  PersonalKeys keys;
  if (std::optional<std::string> text = ReadIfExists(dir_ / kKeysFile)) {
    keys = Parse(*text);
  } else if (!create) {
    Load();  // reports the missing store
  }
  change(keys);
  WriteAtomically(dir_, Serialize(keys));
  return keys;
}

std::string KeyStore::Serialize(const PersonalKeys& keys) {
  json one_time = json::array();
  for (const auto& [id, private_key] : keys.one_time_prekeys) {
    one_time.push_back({{"id", id}, {"private_key", Base64UrlEncode(private_key)}});
  }
  json tokens = json::array();
  for (const SendToken& t : keys.send_tokens) {
    tokens.push_back({{"message", Base64UrlEncode(t.message)},
                      {"signature", Base64UrlEncode(t.signature)},
                      {"key_id", t.key_id}});
  }
  json j = {
      {"version", kStoreVersion},
      {"mailbox_id", keys.mailbox_id},
      {"owner_secret", keys.owner_secret},
      {"access_key", Base64UrlEncode(keys.access_key)},
      {"identity_private_key", Base64UrlEncode(keys.identity_private_key)},
      {"signed_prekey",
       {{"id", keys.signed_prekey_id},
        {"private_key", Base64UrlEncode(keys.signed_prekey_private_key)}}},
      {"one_time_prekeys", std::move(one_time)},
      {"next_prekey_id", keys.next_prekey_id},
      {"send_tokens", std::move(tokens)},
  };
  return j.dump(2) + "\n";
}

PersonalKeys KeyStore::Parse(std::string_view text) {
  // No parser message is passed on: nlohmann's quote the input near the error.
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    throw std::runtime_error(std::string("the key store (") + kKeysFile + ") is not valid JSON");
  }
  if (GetInt(j, "version") != kStoreVersion) Malformed("version");
  PersonalKeys keys;
  keys.mailbox_id = GetString(j, "mailbox_id");
  keys.owner_secret = GetString(j, "owner_secret");
  keys.access_key = GetBytes(j, "access_key", kKeyBytes);
  keys.identity_private_key = GetBytes(j, "identity_private_key", crypto::kEd25519KeyBytes);
  auto spk = j.find("signed_prekey");
  if (spk == j.end() || !spk->is_object()) Malformed("signed_prekey");
  keys.signed_prekey_id = GetInt(*spk, "id");
  keys.signed_prekey_private_key = GetBytes(*spk, "private_key", crypto::kX25519KeyBytes);
  for (const json& p : GetArray(j, "one_time_prekeys")) {
    if (!p.is_object()) Malformed("one_time_prekeys");
    std::string private_key = GetBytes(p, "private_key", crypto::kX25519KeyBytes);
    if (private_key.empty() ||
        !keys.one_time_prekeys.emplace(GetInt(p, "id"), std::move(private_key)).second) {
      Malformed("one_time_prekeys");
    }
  }
  keys.next_prekey_id = GetInt(j, "next_prekey_id");
  for (const json& t : GetArray(j, "send_tokens")) {
    if (!t.is_object()) Malformed("send_tokens");
    SendToken token{GetBytes(t, "message", 0), GetBytes(t, "signature", 0), GetString(t, "key_id")};
    if (token.message.empty() || token.signature.empty()) Malformed("send_tokens");
    keys.send_tokens.push_back(std::move(token));
  }
  return keys;
}

// --- Contact cards -----------------------------------------------------------------------------

std::string FormatContactCard(const ContactCard& card) {
  return kCardPrefix + card.mailbox_id + ":" + Base64UrlEncode(card.access_key);
}

ContactCard ParseContactCard(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  const UsageError bad(
      "the contact card is not of the form bizrelay-contact:<mailbox id>:<access key>");
  if (!text.starts_with(kCardPrefix)) throw bad;
  text.remove_prefix(std::strlen(kCardPrefix));
  size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos || text.find(':', colon + 1) != text.npos) {
    throw bad;
  }
  ContactCard card;
  card.mailbox_id = text.substr(0, colon);
  for (char c : card.mailbox_id) {
    if (c < 0x21 || c > 0x7e) throw bad;
  }
  if (!Base64UrlDecode(text.substr(colon + 1), &card.access_key) ||
      card.access_key.size() != kKeyBytes) {
    throw UsageError("the contact card's access key is not 32 bytes of base64url");
  }
  return card;
}

// --- Keys and envelopes ------------------------------------------------------------------------

void EnsureIdentity(PersonalKeys* keys) {
  if (!keys->identity_private_key.empty()) return;
  keys->identity_private_key = crypto::GenerateEd25519KeyPair().private_key;
  keys->signed_prekey_private_key = crypto::GenerateX25519KeyPair().private_key;
  keys->signed_prekey_id = 1;
}

v1::PublishKeysRequest NewPublication(PersonalKeys* keys, int one_time_count) {
  if (keys->identity_private_key.empty() || keys->signed_prekey_private_key.empty()) {
    throw std::logic_error("NewPublication: the keys have no identity");
  }
  v1::PublishKeysRequest request;
  std::string signed_prekey = crypto::X25519PublicKey(keys->signed_prekey_private_key);
  request.set_identity_key(crypto::Ed25519PublicKey(keys->identity_private_key));
  request.set_signed_prekey_signature(
      crypto::Ed25519Sign(keys->identity_private_key, signed_prekey));
  request.set_signed_prekey(std::move(signed_prekey));
  request.set_signed_prekey_id(keys->signed_prekey_id);
  for (int i = 0; i < one_time_count; ++i) {
    crypto::KeyPair pair = crypto::GenerateX25519KeyPair();
    int64_t id = keys->next_prekey_id++;
    keys->one_time_prekeys[id] = std::move(pair.private_key);
    v1::OneTimePrekey* p = request.add_one_time_prekeys();
    p->set_prekey_id(id);
    p->set_public_key(std::move(pair.public_key));
  }
  return request;
}

std::string SealEnvelope(PrekeyKind kind, int64_t prekey_id,
                         std::string_view recipient_prekey_public,
                         std::string_view sender_identity_private, std::string_view plaintext) {
  std::string envelope;
  envelope.push_back(static_cast<char>(kEnvelopeVersion));
  envelope.push_back(static_cast<char>(kind));
  PutInt64BigEndian(&envelope, prekey_id);
  envelope += crypto::Seal(recipient_prekey_public, sender_identity_private, plaintext);
  return envelope;
}

std::string SealToBundle(const v1::FetchBundleResponse& bundle,
                         std::string_view sender_identity_private, std::string_view plaintext) {
  if (!crypto::Ed25519Verify(bundle.identity_key(), bundle.signed_prekey(),
                             bundle.signed_prekey_signature())) {
    throw Error(ErrorCode::kPermissionDenied, "BAD_PREKEY_SIGNATURE",
                "the recipient's signed prekey is not signed by their identity key; nothing "
                "was sent");
  }
  if (bundle.has_one_time_prekey()) {
    return SealEnvelope(PrekeyKind::kOneTime, bundle.one_time_prekey().prekey_id(),
                        bundle.one_time_prekey().public_key(), sender_identity_private, plaintext);
  }
  return SealEnvelope(PrekeyKind::kSigned, bundle.signed_prekey_id(), bundle.signed_prekey(),
                      sender_identity_private, plaintext);
}

OpenedEnvelope OpenEnvelope(PersonalKeys* keys, std::string_view envelope) {
  if (envelope.size() < kEnvelopeHeaderBytes ||
      static_cast<uint8_t>(envelope[0]) != kEnvelopeVersion) {
    throw BadEnvelope("ENVELOPE_INVALID", "not a version 1 envelope");
  }
  const auto kind = static_cast<PrekeyKind>(envelope[1]);
  const int64_t id = GetInt64BigEndian(envelope.substr(2, 8));
  std::string_view sealed = envelope.substr(kEnvelopeHeaderBytes);
  OpenedEnvelope out;
  switch (kind) {
    case PrekeyKind::kOneTime: {
      auto it = keys->one_time_prekeys.find(id);
      if (it == keys->one_time_prekeys.end()) {
        throw BadEnvelope("UNKNOWN_PREKEY", "sealed to a one-time prekey that is not kept here");
      }
      crypto::OpenedMessage m = crypto::Open(it->second, sealed);
      keys->one_time_prekeys.erase(it);
      out = {std::move(m.sender_identity_key), std::move(m.plaintext), id};
      break;
    }
    case PrekeyKind::kSigned: {
      if (keys->signed_prekey_private_key.empty() || id != keys->signed_prekey_id) {
        throw BadEnvelope("UNKNOWN_PREKEY", "sealed to a signed prekey that is not kept here");
      }
      crypto::OpenedMessage m = crypto::Open(keys->signed_prekey_private_key, sealed);
      out = {std::move(m.sender_identity_key), std::move(m.plaintext), std::nullopt};
      break;
    }
    default:
      throw BadEnvelope("ENVELOPE_INVALID", "unknown prekey kind");
  }
  return out;
}

std::string IdentityFingerprint(std::string_view identity_key) {
  return ToHex(identity_key).substr(0, 16);
}

}  // namespace bizrelay::cli

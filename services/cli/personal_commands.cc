#include "services/cli/personal_commands.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "services/cli/format.h"
#include "services/cli/personal_client.h"
#include "services/cli/rpc_error.h"
#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::cli {

namespace {

constexpr size_t kAccessKeyBytes = 32;
// Below this many send tokens, `personal send` suggests getting more.
constexpr size_t kFewTokens = 5;
// TOKEN_SPENT answers tolerated in one command before giving up. Each one removes a stale
// token from the store; a handful means the store is badly out of date.
constexpr int kMaxSpentTokens = 5;
constexpr char kNoTokens[] =
    "no send tokens left: get more with `bizrelay personal tokens` (needs the user token)";

// Obtains `count` send tokens into the store, saving each batch as it arrives. Returns how
// many the store holds.
size_t ObtainTokensInto(const Session& session, const KeyStore& store, int count, bool create) {
  size_t held = 0;
  ObtainSendTokens(session.account(), session.token(), count,
                   std::chrono::seconds(kCallDeadlineSeconds), [&](std::vector<SendToken> tokens) {
                     PersonalKeys keys = store.Update(
                         [&](PersonalKeys& k) {
                           k.send_tokens.insert(k.send_tokens.end(), tokens.begin(), tokens.end());
                         },
                         create);
                     held = keys.send_tokens.size();
                   });
  return held;
}

// Makes `call(token, ClientContext*)` to the personal relay with the oldest stored send
// token. The token leaves the store once the relay accepted it or answered TOKEN_SPENT (it
// was spent before, say by a call whose answer was lost), and after TOKEN_SPENT the next
// token is tried: nothing was stored then. Any other failure keeps the token and throws
// RpcError, with `unknown_hint` when the outcome is unknown.
template <typename Fn>
void SpendSendToken(const Session& session, const KeyStore& store, Fn&& call,
                    const std::string& unknown_hint = "") {
  for (int spent = 0;;) {
    PersonalKeys keys = store.Load();
    if (keys.send_tokens.empty()) throw UsageError(kNoTokens);
    const SendToken token = keys.send_tokens.front();
    grpc::Status status = session.PersonalCall("", [&](auto* ctx) { return call(token, ctx); });
    const bool was_spent = status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
                           ErrorReason(status) == "TOKEN_SPENT";
    if (status.ok() || was_spent) {
      store.Update([&](PersonalKeys& k) { std::erase(k.send_tokens, token); });
    }
    if (status.ok()) return;
    if (was_spent && ++spent < kMaxSpentTokens) continue;
    throw RpcError(std::move(status),
                   OutcomeUnknown(status.error_code()) ? unknown_hint : std::string());
  }
}

}  // namespace

PersonalKeys LoadWithMailbox(const KeyStore& store, const std::string& keys_dir) {
  PersonalKeys keys = store.Load();
  if (keys.mailbox_id.empty()) {
    throw UsageError("no mailbox in " + keys_dir + ": run `bizrelay personal init`");
  }
  return keys;
}

int PersonalCommands::Do(const PersonalInit& command) {
  KeyStore store(session_.inv().keys_dir);
  if (store.Exists() && !store.Load().mailbox_id.empty()) {
    throw UsageError("personal init: " + session_.inv().keys_dir +
                     " already holds a mailbox; pass another --keys-dir");
  }
  // Tokens are saved as they arrive: they count against the user's daily quota, and a rerun
  // after a failure below uses them.
  ObtainTokensInto(session_, store, command.tokens, /*create=*/true);

  const std::string access_key = RandomBytes(kAccessKeyBytes);
  v1::CreateMailboxResponse created;
  SpendSendToken(session_, store, [&](const SendToken& token, grpc::ClientContext* ctx) {
    v1::CreateMailboxRequest request;
    *request.mutable_token() = ToProto(token);
    request.set_access_key(access_key);
    return session_.personal().CreateMailbox(ctx, request, &created);
  });
  // Saved before publishing: a published prekey whose private key is lost makes the
  // messages sealed to it unreadable.
  v1::PublishKeysRequest publication;
  PersonalKeys keys = store.Update([&](PersonalKeys& k) {
    k.mailbox_id = created.mailbox_id();
    k.owner_secret = created.owner_secret();
    k.access_key = access_key;
    EnsureIdentity(&k);
    publication = NewPublication(&k, kOneTimePrekeyTarget);
  });
  v1::PublishKeysResponse published;
  grpc::Status status = session_.PersonalCall(keys.owner_secret, [&](auto* ctx) {
    return session_.personal().PublishKeys(ctx, publication, &published);
  });
  if (!status.ok()) {
    throw RpcError(std::move(status),
                   "the mailbox was created and saved; publish its keys with "
                   "`bizrelay personal refill`\n");
  }
  const std::string card = FormatContactCard({keys.mailbox_id, keys.access_key});
  if (session_.inv().json) {
    session_.PrintJson({{"contact_card", card},
                        {"mailbox_id", keys.mailbox_id},
                        {"send_tokens", keys.send_tokens.size()},
                        {"one_time_prekeys", published.one_time_prekeys_left()}});
  } else {
    session_.io().out << card << "\n";
    session_.io().out.flush();
    session_.io().err << "Give this contact card to the people who may message you. Keys and "
                      << keys.send_tokens.size() << " send tokens are kept in "
                      << session_.inv().keys_dir << ".\n";
  }
  return 0;
}

int PersonalCommands::Do(const PersonalTokens& command) {
  KeyStore store(session_.inv().keys_dir);
  store.Load();  // refuses a --keys-dir that holds no store yet
  size_t held = ObtainTokensInto(session_, store, command.count, /*create=*/false);
  if (session_.inv().json) {
    session_.PrintJson({{"send_tokens", held}});
  } else {
    session_.io().out << "send tokens: " << held << "\n";
  }
  return 0;
}

int PersonalCommands::Do(const PersonalRefill&) {
  KeyStore store(session_.inv().keys_dir);
  const PersonalKeys keys = LoadWithMailbox(store, session_.inv().keys_dir);
  v1::GetPrekeyCountResponse count;
  session_.PersonalUnary(keys.owner_secret, [&](auto* ctx) {
    return session_.personal().GetPrekeyCount(ctx, v1::GetPrekeyCountRequest(), &count);
  });
  int left = count.one_time_prekeys_left();
  int added = 0;
  if (left < kOneTimePrekeyLow) {
    added = kOneTimePrekeyTarget - left;
    v1::PublishKeysRequest publication;
    // Saved before publishing, as in init.
    store.Update([&](PersonalKeys& k) { publication = NewPublication(&k, added); });
    v1::PublishKeysResponse published;
    session_.PersonalUnary(keys.owner_secret, [&](auto* ctx) {
      return session_.personal().PublishKeys(ctx, publication, &published);
    });
    left = published.one_time_prekeys_left();
  }
  if (session_.inv().json) {
    session_.PrintJson({{"one_time_prekeys", left}, {"published", added}});
  } else {
    session_.io().out << "one-time prekeys: " << left << " (published " << added << ")\n";
  }
  return 0;
}

int PersonalCommands::Do(const PersonalSend& command) {
  KeyStore store(session_.inv().keys_dir);
  const PersonalKeys keys = store.Load();
  if (keys.identity_private_key.empty()) {
    throw UsageError("no identity key in " + session_.inv().keys_dir +
                     ": run `bizrelay personal init`");
  }
  // Checked before FetchBundle, which uses up one of the recipient's one-time prekeys.
  if (keys.send_tokens.empty()) throw UsageError(kNoTokens);
  v1::FetchBundleRequest fetch;
  fetch.set_mailbox_id(command.contact.mailbox_id);
  fetch.set_access_key(command.contact.access_key);
  v1::FetchBundleResponse bundle;
  session_.PersonalUnary(
      "", [&](auto* ctx) { return session_.personal().FetchBundle(ctx, fetch, &bundle); });
  const std::string envelope = SealToBundle(bundle, keys.identity_private_key, command.text);
  v1::SendSealedResponse sent;
  SpendSendToken(
      session_, store,
      [&](const SendToken& token, grpc::ClientContext* ctx) {
        v1::SendSealedRequest request;
        request.set_mailbox_id(command.contact.mailbox_id);
        request.set_access_key(command.contact.access_key);
        *request.mutable_token() = ToProto(token);
        request.set_ciphertext(envelope);
        return session_.personal().SendSealed(ctx, request, &sent);
      },
      "the message may have been delivered; sending it again may deliver it twice\n");
  size_t left = store.Load().send_tokens.size();
  if (session_.inv().json) {
    session_.PrintJson({{"sent", true}, {"send_tokens", left}});
  } else {
    session_.io().out << "sent\n";
    if (left < kFewTokens) {
      session_.io().err << "send tokens left: " << left
                        << "; get more with `bizrelay personal tokens`\n";
    }
  }
  return 0;
}

int PersonalCommands::Do(const PersonalListen& command) {
  KeyStore store(session_.inv().keys_dir);
  const std::string owner_secret = LoadWithMailbox(store, session_.inv().keys_dir).owner_secret;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + owner_secret);
  v1::StreamMailboxRequest request;
  request.set_after_sequence(command.after_sequence);
  std::unique_ptr<grpc::ClientReader<v1::StreamMailboxResponse>> reader =
      session_.personal().StreamMailbox(&ctx, request);
  auto stop = [&] {
    ctx.TryCancel();
    reader->Finish();
  };
  v1::StreamMailboxResponse envelope;
  int64_t seen = 0;
  while (reader->Read(&envelope)) {
    const int64_t seq = envelope.sequence();
    // Loaded afresh for each envelope: a `personal refill` may have added prekeys meanwhile.
    PersonalKeys keys = store.Load();
    std::optional<int64_t> used_prekey;
    try {
      OpenedEnvelope opened = OpenEnvelope(&keys, envelope.ciphertext());
      used_prekey = opened.one_time_prekey_id;
      if (session_.inv().json) {
        session_.PrintJson({{"sequence", seq},
                            {"sender", ToHex(opened.sender_identity_key)},
                            {"text", opened.plaintext}});
      } else {
        session_.io().out << seq << " sender=" << IdentityFingerprint(opened.sender_identity_key)
                          << " " << Printable(opened.plaintext) << "\n";
        session_.io().out.flush();
      }
    } catch (const Error& e) {
      session_.io().err << seq << " not opened: " << e.reason() << "\n";
    }
    v1::AcknowledgeEnvelopesRequest ack;
    ack.set_up_to_sequence(seq);
    v1::AcknowledgeEnvelopesResponse acked;
    grpc::Status status = session_.PersonalCall(owner_secret, [&](auto* c) {
      return session_.personal().AcknowledgeEnvelopes(c, ack, &acked);
    });
    if (!status.ok()) {
      stop();
      throw RpcError(std::move(status));
    }
    if (used_prekey) {
      store.Update([&](PersonalKeys& k) { k.one_time_prekeys.erase(*used_prekey); });
    }
    if (session_.inv().max_events > 0 && ++seen >= session_.inv().max_events) {
      stop();
      return 0;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) throw RpcError(std::move(status));
  return 0;
}

}  // namespace bizrelay::cli

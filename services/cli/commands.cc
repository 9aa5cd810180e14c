#include "services/cli/commands.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/cli/credentials.h"
#include "services/cli/format.h"
#include "services/cli/personal_client.h"
#include "services/cli/rpc_error.h"
#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::cli {
namespace {

bool OutcomeUnknown(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::ABORTED:
      return true;
    default:
      return false;
  }
}

// Runs one command: Do has an overload for every alternative of Request.
class Runner {
 public:
  // `channel` leads to --addr or --operator-addr, `personal_channel` to --personal-addr.
  Runner(const Invocation& invocation, Io& io, const std::shared_ptr<grpc::Channel>& channel,
         const std::shared_ptr<grpc::Channel>& personal_channel, std::string token)
      : inv_(invocation),
        io_(io),
        token_(std::move(token)),
        account_(v1::AccountService::NewStub(channel)),
        operator_(v1::OperatorService::NewStub(channel)),
        chat_(v1::UserChatService::NewStub(channel)),
        business_(v1::BusinessService::NewStub(channel)),
        personal_(v1::PersonalRelayService::NewStub(personal_channel)) {}

  int Do(const v1::RegisterUserRequest& request) {
    v1::RegisterUserResponse response;
    Unary([&](auto* ctx) { return account_->RegisterUser(ctx, request, &response); });
    Print(response, FormatRegistered(response));
    if (!inv_.json) io_.err << "The token is shown only this once; keep it safe.\n";
    return 0;
  }

  int Do(const v1::GetProfileRequest& request) {
    v1::GetProfileResponse response;
    Unary([&](auto* ctx) { return account_->GetProfile(ctx, request, &response); });
    Print(response, FormatProfile(response.profile()));
    return 0;
  }

  int Do(const v1::GetPolicyStatusRequest& request) {
    v1::GetPolicyStatusResponse response;
    Unary([&](auto* ctx) { return account_->GetPolicyStatus(ctx, request, &response); });
    std::string text;
    for (const auto& v : response.versions()) {
      text += v.version() + "  accept by " +
              google::protobuf::util::TimeUtil::ToString(v.accept_by_time()) +
              (v.has_accepted_time() ? "  accepted" : "  not accepted") + "\n";
    }
    text += std::string("limited: ") +
            (response.limited() ? "yes (accept " + response.required_version() + ")" : "no") +
            "\n" + "data-sharing opt-out: " + (response.opted_out_of_data_sharing() ? "yes" : "no");
    Print(response, text);
    return 0;
  }

  int Do(const v1::AcceptPolicyRequest& request) {
    v1::AcceptPolicyResponse response;
    Unary([&](auto* ctx) { return account_->AcceptPolicy(ctx, request, &response); });
    Print(response, std::string("accepted ") + request.version() +
                        (response.limited() ? " (still limited)" : ""));
    return 0;
  }

  int Do(const v1::OptOutOfDataSharingRequest& request) {
    v1::OptOutOfDataSharingResponse response;
    Unary([&](auto* ctx) { return account_->OptOutOfDataSharing(ctx, request, &response); });
    Print(response, "opted out of data sharing since " +
                        google::protobuf::util::TimeUtil::ToString(response.opted_out_time()));
    return 0;
  }

  int Do(const ExportData& command) {
    v1::ExportMyDataResponse response;
    Unary([&](auto* ctx) {
      return account_->ExportMyData(ctx, v1::ExportMyDataRequest(), &response);
    });
    nlohmann::json doc = nlohmann::json::parse(response.json());
    KeyStore store(inv_.keys_dir);
    if (!inv_.keys_dir.empty() && store.Exists()) {
      const PersonalKeys keys = LoadWithMailbox(store);
      v1::ExportMailboxResponse mailbox;
      PersonalUnary(keys.owner_secret, [&](auto* ctx) {
        return personal_->ExportMailbox(ctx, v1::ExportMailboxRequest(), &mailbox);
      });
      doc["personal_mailbox"] = {{"mailbox_id", mailbox.mailbox_id()},
                                 {"identity_key", Base64UrlEncode(mailbox.identity_key())},
                                 {"signed_prekey", Base64UrlEncode(mailbox.signed_prekey())},
                                 {"signed_prekey_id", mailbox.signed_prekey_id()},
                                 {"one_time_prekeys_left", mailbox.one_time_prekeys_left()},
                                 {"envelopes_held", mailbox.envelopes_held()}};
    }
    {
      std::ofstream out(command.out, std::ios::trunc);
      out << doc.dump(2) << "\n";
      if (!out)
        throw RpcError(grpc::Status(grpc::StatusCode::INTERNAL, "cannot write " + command.out));
    }
    std::filesystem::permissions(
        command.out, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
        std::filesystem::perm_options::replace);
    io_.out << "wrote " << command.out << "\n";
    return 0;
  }

  int Do(const DeleteAccount&) {
    if (!inv_.assume_yes) {
      io_.err << "error: delete-account erases everything; confirm with --yes\n";
      return 2;
    }
    KeyStore store(inv_.keys_dir);
    if (!inv_.keys_dir.empty() && store.Exists()) {
      const PersonalKeys keys = LoadWithMailbox(store);
      PersonalUnary(keys.owner_secret, [&](auto* ctx) {
        v1::DeleteMailboxResponse out;
        return personal_->DeleteMailbox(ctx, v1::DeleteMailboxRequest(), &out);
      });
      std::filesystem::remove_all(inv_.keys_dir);
    }
    v1::DeleteAccountResponse response;
    Unary([&](auto* ctx) {
      return account_->DeleteAccount(ctx, v1::DeleteAccountRequest(), &response);
    });
    io_.out << "account erased\n";
    return 0;
  }

  int Do(const v1::CreateBusinessRequest& request) {
    v1::CreateBusinessResponse response;
    Unary([&](auto* ctx) { return operator_->CreateBusiness(ctx, request, &response); });
    Print(response, FormatCreatedBusiness(response));
    return 0;
  }

  int Do(const v1::GetBusinessRequest& request) {
    v1::GetBusinessResponse response;
    Unary([&](auto* ctx) { return operator_->GetBusiness(ctx, request, &response); });
    Print(response, FormatBusiness(response.business()));
    return 0;
  }

  int Do(const v1::RotateBusinessKeyRequest& request) {
    v1::RotateBusinessKeyResponse response;
    Unary([&](auto* ctx) { return operator_->RotateBusinessKey(ctx, request, &response); });
    Print(response, FormatRotatedKey(response));
    return 0;
  }

  int Do(const v1::DisableBusinessRequest& request) {
    v1::DisableBusinessResponse response;
    Unary([&](auto* ctx) { return operator_->DisableBusiness(ctx, request, &response); });
    Print(response, FormatBusiness(response.business()));
    return 0;
  }

  int Do(const v1::GetBusinessDisclosureRequest& request) {
    v1::GetBusinessDisclosureResponse response;
    Unary([&](auto* ctx) { return chat_->GetBusinessDisclosure(ctx, request, &response); });
    Print(response, FormatDisclosure(response));
    return 0;
  }

  // Consent is given to the disclosure version shown here; if the business changes its terms
  // in between, StartChat fails with DISCLOSURE_CHANGED and nothing is started.
  int Do(const v1::StartChatRequest& request) {
    if (!inv_.assume_yes && !io_.interactive) {
      throw UsageError("start: stdin is not a terminal; pass --yes to consent to the terms");
    }
    v1::GetBusinessDisclosureRequest disclosure_request;
    disclosure_request.set_business_id(request.business_id());
    v1::GetBusinessDisclosureResponse disclosure;
    Unary([&](auto* ctx) {
      return chat_->GetBusinessDisclosure(ctx, disclosure_request, &disclosure);
    });
    Print(disclosure, FormatDisclosure(disclosure));
    if (!inv_.assume_yes) {
      io_.err << "\nStart a chat with " << Printable(disclosure.display_name())
              << " on these terms? [y/N] " << std::flush;
      std::string answer;
      std::getline(io_.in, answer);
      if (!IsYes(answer)) {
        io_.err << "chat not started\n";
        return 1;
      }
    }
    v1::StartChatRequest start = request;
    start.set_disclosure_version(disclosure.disclosure().version());
    v1::StartChatResponse response;
    Unary([&](auto* ctx) { return chat_->StartChat(ctx, start, &response); });
    if (!inv_.json) io_.out << "\n";
    Print(response, FormatStarted(response));
    return 0;
  }

  int Do(const v1::BlockBusinessRequest& request) {
    v1::BlockBusinessResponse response;
    Unary([&](auto* ctx) { return chat_->BlockBusiness(ctx, request, &response); });
    Print(response, FormatChatState(response.state()));
    return 0;
  }

  int Do(const v1::UnblockBusinessRequest& request) {
    v1::UnblockBusinessResponse response;
    Unary([&](auto* ctx) { return chat_->UnblockBusiness(ctx, request, &response); });
    Print(response, FormatChatState(response.state()));
    return 0;
  }

  int Do(const v1::LeaveChatRequest& request) {
    v1::LeaveChatResponse response;
    Unary([&](auto* ctx) { return chat_->LeaveChat(ctx, request, &response); });
    Print(response, FormatChatState(response.state()));
    return 0;
  }

  int Do(const v1::SendMessageRequest& request) {
    v1::SendMessageResponse response;
    SendOnce(request.idempotency_key(),
             [&](auto* ctx) { return chat_->SendMessage(ctx, request, &response); });
    PrintSent(response, request.idempotency_key());
    return 0;
  }

  int Do(const v1::MarkReadRequest& request) {
    v1::MarkReadResponse response;
    Unary([&](auto* ctx) { return chat_->MarkRead(ctx, request, &response); });
    Print(response, FormatMarked(response.marked()));
    return 0;
  }

  int Do(const v1::ListChatsRequest& request) {
    return List<v1::ListChatsResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) { return chat_->ListChats(ctx, req, page); },
        [](const auto& page) { return FormatChats(page); });
  }

  int Do(const v1::ListChatMessagesRequest& request) {
    return List<v1::ListChatMessagesResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) {
          return chat_->ListChatMessages(ctx, req, page);
        },
        [](const auto& page) { return FormatMessages(page.messages()); });
  }

  int Do(const v1::StreamEventsRequest& request) {
    return Follow<v1::StreamEventsResponse>(
        [&](auto* ctx) { return chat_->StreamEvents(ctx, request); },
        [&](int64_t position) {
          v1::AcknowledgeEventsRequest ack;
          ack.set_position(position);
          v1::AcknowledgeEventsResponse response;
          return Call([&](auto* ctx) { return chat_->AcknowledgeEvents(ctx, ack, &response); });
        });
  }

  int Do(const v1::StreamInboxRequest& request) {
    return Follow<v1::StreamInboxResponse>(
        [&](auto* ctx) { return business_->StreamInbox(ctx, request); },
        [&](int64_t position) {
          v1::AcknowledgeInboxRequest ack;
          ack.set_position(position);
          v1::AcknowledgeInboxResponse response;
          return Call([&](auto* ctx) { return business_->AcknowledgeInbox(ctx, ack, &response); });
        });
  }

  int Do(const v1::SendReplyRequest& request) {
    v1::SendReplyResponse response;
    SendOnce(request.idempotency_key(),
             [&](auto* ctx) { return business_->SendReply(ctx, request, &response); });
    PrintSent(response, request.idempotency_key());
    return 0;
  }

  int Do(const v1::MarkMessagesReadRequest& request) {
    v1::MarkMessagesReadResponse response;
    Unary([&](auto* ctx) { return business_->MarkMessagesRead(ctx, request, &response); });
    Print(response, FormatMarked(response.marked()));
    return 0;
  }

  int Do(const v1::CreateTemplateRequest& request) {
    v1::CreateTemplateResponse response;
    Unary([&](auto* ctx) { return business_->CreateTemplate(ctx, request, &response); });
    google::protobuf::RepeatedPtrField<v1::Template> created;
    *created.Add() = response.template_();
    Print(response, FormatTemplates(created));
    return 0;
  }

  int Do(const v1::ListTemplatesRequest& request) {
    v1::ListTemplatesResponse response;
    Unary([&](auto* ctx) { return business_->ListTemplates(ctx, request, &response); });
    Print(response, FormatTemplates(response.templates()));
    return 0;
  }

  int Do(const v1::ListConversationsRequest& request) {
    return List<v1::ListConversationsResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) {
          return business_->ListConversations(ctx, req, page);
        },
        [](const auto& page) { return FormatConversations(page); });
  }

  int Do(const v1::ListMessagesRequest& request) {
    return List<v1::ListMessagesResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) {
          return business_->ListMessages(ctx, req, page);
        },
        [](const auto& page) { return FormatMessages(page.messages()); });
  }

  int Do(const v1::UpdateProfileRequest& request) {
    v1::UpdateProfileResponse response;
    Unary([&](auto* ctx) { return business_->UpdateProfile(ctx, request, &response); });
    Print(response, FormatProfileUpdate(response));
    return 0;
  }

  // --- Personal commands. The user token goes only to AccountService (for send tokens); calls
  // to the personal relay carry the mailbox's owner secret or nothing, so the relay cannot tie
  // a mailbox or a send to an account.

  int Do(const PersonalInit& command) {
    KeyStore store(inv_.keys_dir);
    if (store.Exists() && !store.Load().mailbox_id.empty()) {
      throw UsageError("personal init: " + inv_.keys_dir +
                       " already holds a mailbox; pass another --keys-dir");
    }
    // Tokens are saved as they arrive: they count against the user's daily quota, and a rerun
    // after a failure below uses them.
    ObtainTokensInto(store, command.tokens, /*create=*/true);

    const std::string access_key = RandomBytes(kAccessKeyBytes);
    v1::CreateMailboxResponse created;
    SpendSendToken(store, [&](const SendToken& token, grpc::ClientContext* ctx) {
      v1::CreateMailboxRequest request;
      *request.mutable_token() = ToProto(token);
      request.set_access_key(access_key);
      return personal_->CreateMailbox(ctx, request, &created);
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
    grpc::Status status = PersonalCall(keys.owner_secret, [&](auto* ctx) {
      return personal_->PublishKeys(ctx, publication, &published);
    });
    if (!status.ok()) {
      throw RpcError(std::move(status),
                     "the mailbox was created and saved; publish its keys with "
                     "`bizrelay personal refill`\n");
    }
    const std::string card = FormatContactCard({keys.mailbox_id, keys.access_key});
    if (inv_.json) {
      PrintJson({{"contact_card", card},
                 {"mailbox_id", keys.mailbox_id},
                 {"send_tokens", keys.send_tokens.size()},
                 {"one_time_prekeys", published.one_time_prekeys_left()}});
    } else {
      io_.out << card << "\n";
      io_.out.flush();
      io_.err << "Give this contact card to the people who may message you. Keys and "
              << keys.send_tokens.size() << " send tokens are kept in " << inv_.keys_dir << ".\n";
    }
    return 0;
  }

  int Do(const PersonalTokens& command) {
    KeyStore store(inv_.keys_dir);
    store.Load();  // refuses a --keys-dir that holds no store yet
    size_t held = ObtainTokensInto(store, command.count, /*create=*/false);
    if (inv_.json) {
      PrintJson({{"send_tokens", held}});
    } else {
      io_.out << "send tokens: " << held << "\n";
    }
    return 0;
  }

  int Do(const PersonalRefill&) {
    KeyStore store(inv_.keys_dir);
    const PersonalKeys keys = LoadWithMailbox(store);
    v1::GetPrekeyCountResponse count;
    PersonalUnary(keys.owner_secret, [&](auto* ctx) {
      return personal_->GetPrekeyCount(ctx, v1::GetPrekeyCountRequest(), &count);
    });
    int left = count.one_time_prekeys_left();
    int added = 0;
    if (left < kOneTimePrekeyLow) {
      added = kOneTimePrekeyTarget - left;
      v1::PublishKeysRequest publication;
      // Saved before publishing, as in init.
      store.Update([&](PersonalKeys& k) { publication = NewPublication(&k, added); });
      v1::PublishKeysResponse published;
      PersonalUnary(keys.owner_secret, [&](auto* ctx) {
        return personal_->PublishKeys(ctx, publication, &published);
      });
      left = published.one_time_prekeys_left();
    }
    if (inv_.json) {
      PrintJson({{"one_time_prekeys", left}, {"published", added}});
    } else {
      io_.out << "one-time prekeys: " << left << " (published " << added << ")\n";
    }
    return 0;
  }

  int Do(const PersonalSend& command) {
    KeyStore store(inv_.keys_dir);
    const PersonalKeys keys = store.Load();
    if (keys.identity_private_key.empty()) {
      throw UsageError("no identity key in " + inv_.keys_dir + ": run `bizrelay personal init`");
    }
    // Checked before FetchBundle, which uses up one of the recipient's one-time prekeys.
    if (keys.send_tokens.empty()) throw UsageError(kNoTokens);
    v1::FetchBundleRequest fetch;
    fetch.set_mailbox_id(command.contact.mailbox_id);
    fetch.set_access_key(command.contact.access_key);
    v1::FetchBundleResponse bundle;
    PersonalUnary("", [&](auto* ctx) { return personal_->FetchBundle(ctx, fetch, &bundle); });
    const std::string envelope = SealToBundle(bundle, keys.identity_private_key, command.text);
    v1::SendSealedResponse sent;
    SpendSendToken(
        store,
        [&](const SendToken& token, grpc::ClientContext* ctx) {
          v1::SendSealedRequest request;
          request.set_mailbox_id(command.contact.mailbox_id);
          request.set_access_key(command.contact.access_key);
          *request.mutable_token() = ToProto(token);
          request.set_ciphertext(envelope);
          return personal_->SendSealed(ctx, request, &sent);
        },
        "the message may have been delivered; sending it again may deliver it twice\n");
    size_t left = store.Load().send_tokens.size();
    if (inv_.json) {
      PrintJson({{"sent", true}, {"send_tokens", left}});
    } else {
      io_.out << "sent\n";
      if (left < kFewTokens) {
        io_.err << "send tokens left: " << left << "; get more with `bizrelay personal tokens`\n";
      }
    }
    return 0;
  }

  // Prints each envelope as it arrives, then acknowledges it (so nothing is deleted unseen),
  // then forgets the one-time prekey it used. An envelope that cannot be opened is reported on
  // io.err and acknowledged too: it will never open (altered, a replay, or sealed to a prekey
  // already used), and leaving it would only fill the mailbox.
  int Do(const PersonalListen& command) {
    KeyStore store(inv_.keys_dir);
    const std::string owner_secret = LoadWithMailbox(store).owner_secret;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + owner_secret);
    v1::StreamMailboxRequest request;
    request.set_after_sequence(command.after_sequence);
    std::unique_ptr<grpc::ClientReader<v1::StreamMailboxResponse>> reader =
        personal_->StreamMailbox(&ctx, request);
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
        if (inv_.json) {
          PrintJson({{"sequence", seq},
                     {"sender", ToHex(opened.sender_identity_key)},
                     {"text", opened.plaintext}});
        } else {
          io_.out << seq << " sender=" << IdentityFingerprint(opened.sender_identity_key) << " "
                  << Printable(opened.plaintext) << "\n";
          io_.out.flush();
        }
      } catch (const Error& e) {
        io_.err << seq << " not opened: " << e.reason() << "\n";
      }
      v1::AcknowledgeEnvelopesRequest ack;
      ack.set_up_to_sequence(seq);
      v1::AcknowledgeEnvelopesResponse acked;
      grpc::Status status = PersonalCall(
          owner_secret, [&](auto* c) { return personal_->AcknowledgeEnvelopes(c, ack, &acked); });
      if (!status.ok()) {
        stop();
        throw RpcError(std::move(status));
      }
      if (used_prekey) {
        store.Update([&](PersonalKeys& k) { k.one_time_prekeys.erase(*used_prekey); });
      }
      if (inv_.max_events > 0 && ++seen >= inv_.max_events) {
        stop();
        return 0;
      }
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) throw RpcError(std::move(status));
    return 0;
  }

 private:
  static constexpr size_t kAccessKeyBytes = 32;
  // Below this many send tokens, `personal send` suggests getting more.
  static constexpr size_t kFewTokens = 5;
  // TOKEN_SPENT answers tolerated in one command before giving up. Each one removes a stale
  // token from the store; a handful means the store is badly out of date.
  static constexpr int kMaxSpentTokens = 5;
  static constexpr char kNoTokens[] =
      "no send tokens left: get more with `bizrelay personal tokens` (needs the user token)";

  PersonalKeys LoadWithMailbox(const KeyStore& store) const {
    PersonalKeys keys = store.Load();
    if (keys.mailbox_id.empty()) {
      throw UsageError("no mailbox in " + inv_.keys_dir + ": run `bizrelay personal init`");
    }
    return keys;
  }

  // Obtains `count` send tokens into the store, saving each batch as it arrives. Returns how
  // many the store holds.
  size_t ObtainTokensInto(const KeyStore& store, int count, bool create) const {
    size_t held = 0;
    ObtainSendTokens(*account_, token_, count, std::chrono::seconds(kCallDeadlineSeconds),
                     [&](std::vector<SendToken> tokens) {
                       PersonalKeys keys = store.Update(
                           [&](PersonalKeys& k) {
                             k.send_tokens.insert(k.send_tokens.end(), tokens.begin(),
                                                  tokens.end());
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
  void SpendSendToken(const KeyStore& store, Fn&& call, const std::string& unknown_hint = "") {
    for (int spent = 0;;) {
      PersonalKeys keys = store.Load();
      if (keys.send_tokens.empty()) throw UsageError(kNoTokens);
      const SendToken token = keys.send_tokens.front();
      grpc::Status status = PersonalCall("", [&](auto* ctx) { return call(token, ctx); });
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

  // One unary call to the personal relay with the call deadline, authenticated by
  // `owner_secret` unless it is empty. Never carries token_.
  template <typename Fn>
  grpc::Status PersonalCall(const std::string& owner_secret, Fn&& call) const {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kCallDeadlineSeconds));
    if (!owner_secret.empty()) ctx.AddMetadata("authorization", "Bearer " + owner_secret);
    return call(&ctx);
  }

  template <typename Fn>
  void PersonalUnary(const std::string& owner_secret, Fn&& call) const {
    grpc::Status status = PersonalCall(owner_secret, std::forward<Fn>(call));
    if (!status.ok()) throw RpcError(std::move(status));
  }

  // One JSON object on one line; text that is not UTF-8 is replaced, never rejected.
  void PrintJson(const nlohmann::json& object) const {
    io_.out << object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    io_.out.flush();
  }

  void Prepare(grpc::ClientContext* ctx, bool with_deadline) const {
    if (with_deadline) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(kCallDeadlineSeconds));
    }
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  }

  // `call(ClientContext*)` makes one unary call; returns its status.
  template <typename Fn>
  grpc::Status Call(Fn&& call) const {
    grpc::ClientContext ctx;
    Prepare(&ctx, /*with_deadline=*/true);
    return call(&ctx);
  }

  template <typename Fn>
  void Unary(Fn&& call) const {
    grpc::Status status = Call(std::forward<Fn>(call));
    if (!status.ok()) throw RpcError(std::move(status));
  }

  // Like Unary, but when the outcome is unknown (the relay may have committed the message
  // before the call failed) the error also says how to retry it without sending it twice. A
  // refusal (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) stored nothing and gets no hint.
  template <typename Fn>
  void SendOnce(const std::string& key, Fn&& call) const {
    grpc::Status status = Call(std::forward<Fn>(call));
    if (status.ok()) return;
    std::string hint;
    if (inv_.generated_key && OutcomeUnknown(status.error_code())) {
      hint = "to retry without sending the message twice, add: --key " + key + "\n";
    }
    throw RpcError(std::move(status), std::move(hint));
  }

  void Print(const google::protobuf::Message& response, const std::string& human) const {
    if (inv_.json) {
      io_.out << ToJson(response) << "\n";
    } else {
      io_.out << human;
    }
    io_.out.flush();
  }

  template <typename Response>
  void PrintSent(const Response& response, const std::string& key) const {
    Print(response,
          FormatSent(response.message(), response.replayed(), inv_.generated_key ? key : ""));
    if (inv_.json && inv_.generated_key) io_.err << "idempotency_key: " << key << "\n";
  }

  // One page, or every page with --all. Human output is printed page by page; JSON output is
  // one response holding every item fetched.
  template <typename Response, typename Request, typename Fetch, typename Format>
  int List(Request request, Fetch fetch, Format format) const {
    Response merged;
    for (;;) {
      Response page;
      Unary([&](auto* ctx) { return fetch(ctx, request, &page); });
      if (!inv_.json) {
        io_.out << format(page);
        io_.out.flush();
      }
      merged.MergeFrom(page);
      if (!inv_.all_pages || page.next_page_token().empty()) break;
      if (page.next_page_token() == request.page_token()) {
        throw std::runtime_error("the relay returned the same page token twice");
      }
      request.set_page_token(page.next_page_token());
    }
    if (inv_.all_pages) merged.clear_next_page_token();
    if (inv_.json) {
      io_.out << ToJson(merged) << "\n";
    } else if (!merged.next_page_token().empty()) {
      io_.err << "more: --page-token " << Printable(merged.next_page_token()) << "\n";
    }
    return 0;
  }

  // Prints events until the stream ends or --count is reached, acknowledging each one after
  // it is printed when --ack is given (so an event is never acknowledged unseen).
  template <typename Event, typename Open, typename Ack>
  int Follow(Open open, Ack ack) const {
    grpc::ClientContext ctx;
    Prepare(&ctx, /*with_deadline=*/false);
    std::unique_ptr<grpc::ClientReader<Event>> reader = open(&ctx);
    auto stop = [&] {
      ctx.TryCancel();
      reader->Finish();
    };
    Event event;
    int64_t seen = 0;
    while (reader->Read(&event)) {
      io_.out << (inv_.json ? ToJson(event) + "\n" : FormatEvent(event));
      io_.out.flush();
      if (inv_.ack) {
        if (grpc::Status s = ack(event.position()); !s.ok()) {
          stop();
          throw RpcError(std::move(s));
        }
      }
      if (inv_.max_events > 0 && ++seen >= inv_.max_events) {
        stop();
        return 0;
      }
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) throw RpcError(std::move(status));
    return 0;
  }

  const Invocation& inv_;
  Io& io_;
  const std::string token_;
  std::unique_ptr<v1::AccountService::Stub> account_;
  std::unique_ptr<v1::OperatorService::Stub> operator_;
  std::unique_ptr<v1::UserChatService::Stub> chat_;
  std::unique_ptr<v1::BusinessService::Stub> business_;
  std::unique_ptr<v1::PersonalRelayService::Stub> personal_;
};

}  // namespace

int Run(const Invocation& invocation, Io& io) {
  try {
    std::string token = NeedsToken(invocation.request) ? LoadToken(invocation.connection) : "";
    const ConnectionOptions& conn = invocation.connection;
    auto credentials = MakeChannelCredentials(conn);
    // Channels connect on first use, so the one a command does not use costs nothing.
    auto channel = grpc::CreateChannel(
        UsesOperatorListener(invocation.request) ? conn.operator_addr : conn.addr, credentials);
    auto personal_channel = grpc::CreateChannel(conn.personal_addr, credentials);
    Runner runner(invocation, io, channel, personal_channel, std::move(token));
    return std::visit([&runner](const auto& request) { return runner.Do(request); },
                      invocation.request);
  } catch (const UsageError& e) {
    io.err << "error: " << e.what() << "\n";
    return 2;
  } catch (const RpcError& e) {
    io.err << FormatError(e.status()) << e.hint();
    return 1;
  } catch (const Error& e) {
    io.err << "error: " << e.reason() << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    io.err << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace bizrelay::cli

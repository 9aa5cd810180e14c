#include "services/cli/account_commands.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "services/cli/format.h"
#include "services/cli/personal_client.h"
#include "services/cli/personal_commands.h"
#include "services/cli/rpc_error.h"
#include "services/platform/token.h"

namespace bizrelay::cli {

int AccountCommands::Do(const v1::RegisterUserRequest& request) {
  v1::RegisterUserResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.account().RegisterUser(ctx, request, &response); });
  session_.Print(response, FormatRegistered(response));
  if (!session_.inv().json) {
    session_.io().err << "The token is shown only this once; keep it safe.\n";
  }
  return 0;
}

int AccountCommands::Do(const v1::GetProfileRequest& request) {
  v1::GetProfileResponse response;
  session_.Unary([&](auto* ctx) { return session_.account().GetProfile(ctx, request, &response); });
  session_.Print(response, FormatProfile(response.profile()));
  return 0;
}

int AccountCommands::Do(const v1::GetPolicyStatusRequest& request) {
  v1::GetPolicyStatusResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.account().GetPolicyStatus(ctx, request, &response); });
  std::string text;
  for (const auto& v : response.versions()) {
    text += v.version() + "  accept by " +
            google::protobuf::util::TimeUtil::ToString(v.accept_by_time()) +
            (v.has_accepted_time() ? "  accepted" : "  not accepted") + "\n";
  }
  text += std::string("limited: ") +
          (response.limited() ? "yes (accept " + response.required_version() + ")" : "no") + "\n" +
          "data-sharing opt-out: " + (response.opted_out_of_data_sharing() ? "yes" : "no");
  session_.Print(response, text);
  return 0;
}

int AccountCommands::Do(const v1::AcceptPolicyRequest& request) {
  v1::AcceptPolicyResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.account().AcceptPolicy(ctx, request, &response); });
  session_.Print(response, std::string("accepted ") + request.version() +
                               (response.limited() ? " (still limited)" : ""));
  return 0;
}

int AccountCommands::Do(const v1::OptOutOfDataSharingRequest& request) {
  v1::OptOutOfDataSharingResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.account().OptOutOfDataSharing(ctx, request, &response); });
  session_.Print(response,
                 "opted out of data sharing since " +
                     google::protobuf::util::TimeUtil::ToString(response.opted_out_time()));
  return 0;
}

int AccountCommands::Do(const ExportData& command) {
  v1::ExportMyDataResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.account().ExportMyData(ctx, v1::ExportMyDataRequest(), &response);
  });
  nlohmann::json doc = nlohmann::json::parse(response.json());
  KeyStore store(session_.inv().keys_dir);
  if (!session_.inv().keys_dir.empty() && store.Exists()) {
    const PersonalKeys keys = LoadWithMailbox(store, session_.inv().keys_dir);
    v1::ExportMailboxResponse mailbox;
    session_.PersonalUnary(keys.owner_secret, [&](auto* ctx) {
      return session_.personal().ExportMailbox(ctx, v1::ExportMailboxRequest(), &mailbox);
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
  session_.io().out << "wrote " << command.out << "\n";
  return 0;
}

int AccountCommands::Do(const DeleteAccount&) {
  if (!session_.inv().assume_yes) {
    session_.io().err << "error: delete-account erases everything; confirm with --yes\n";
    return 2;
  }
  KeyStore store(session_.inv().keys_dir);
  if (!session_.inv().keys_dir.empty() && store.Exists()) {
    const PersonalKeys keys = LoadWithMailbox(store, session_.inv().keys_dir);
    session_.PersonalUnary(keys.owner_secret, [&](auto* ctx) {
      v1::DeleteMailboxResponse out;
      return session_.personal().DeleteMailbox(ctx, v1::DeleteMailboxRequest(), &out);
    });
    std::filesystem::remove_all(session_.inv().keys_dir);
  }
  v1::DeleteAccountResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.account().DeleteAccount(ctx, v1::DeleteAccountRequest(), &response);
  });
  session_.io().out << "account erased\n";
  return 0;
}

}  // namespace bizrelay::cli

// End-to-end: a policy change like the 2021 one (deadline, postponement, late acceptance), the
// legacy opt-out that outlives every acceptance, and users' rights to their data.
#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/crypto/blind_rsa.h"
#include "services/platform/token.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/command.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

using google::protobuf::util::TimeUtil;
using namespace std::chrono_literals;

class PolicyE2E : public ::testing::Test {
 protected:
  PolicyE2E()
      : url_(store::testing::FreshDatabase()),
        d_(DaemonProcess::Options{.database_url = url_}),
        ops_(v1::OperatorService::NewStub(d_.OperatorChannel())),
        accounts_(v1::AccountService::NewStub(d_.PublicChannel())),
        chats_(v1::UserChatService::NewStub(d_.PublicChannel())) {
    grpc::ClientContext ctx;
    Authorize(&ctx, d_.OperatorToken());
    v1::CreateBusinessRequest req;
    req.mutable_profile()->set_display_name("Toko");
    v1::CreateBusinessResponse resp;
    EXPECT_TRUE(ops_->CreateBusiness(&ctx, req, &resp).ok());
    business_id_ = resp.business().business_id();
    business_key_ = resp.api_key();
  }

  std::pair<std::string, std::string> NewUserInChat(const std::string& name) {
    grpc::ClientContext ctx;
    v1::RegisterUserRequest req;
    req.set_display_name(name);
    v1::RegisterUserResponse resp;
    EXPECT_TRUE(accounts_->RegisterUser(&ctx, req, &resp).ok());
    grpc::ClientContext c2;
    Authorize(&c2, resp.token());
    v1::StartChatRequest start;
    start.set_business_id(business_id_);
    start.set_disclosure_version(1);
    v1::StartChatResponse started;
    EXPECT_TRUE(chats_->StartChat(&c2, start, &started).ok());
    return {resp.profile().user_id(), resp.token()};
  }

  grpc::Status Send(const std::string& token, const std::string& text) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    v1::SendMessageRequest req;
    req.set_business_id(business_id_);
    req.set_text(text);
    req.set_idempotency_key(ToHex(RandomBytes(8)));
    v1::SendMessageResponse resp;
    return chats_->SendMessage(&ctx, req, &resp);
  }

  grpc::Status Publish(const std::string& version, std::chrono::seconds accept_in) {
    grpc::ClientContext ctx;
    Authorize(&ctx, d_.OperatorToken());
    v1::PublishPolicyVersionRequest req;
    req.set_version(version);
    req.set_text_sha256(ToHex(Sha256("policy text " + version)));
    auto now = TimeUtil::GetCurrentTime();
    *req.mutable_effective_time() = now - TimeUtil::SecondsToDuration(3600);
    *req.mutable_accept_by_time() = now + TimeUtil::SecondsToDuration(accept_in.count());
    v1::PublishPolicyVersionResponse resp;
    return ops_->PublishPolicyVersion(&ctx, req, &resp);
  }

  v1::GetPolicyStatusResponse Status(const std::string& token) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    v1::GetPolicyStatusResponse resp;
    EXPECT_TRUE(accounts_->GetPolicyStatus(&ctx, v1::GetPolicyStatusRequest(), &resp).ok());
    return resp;
  }

  grpc::Status Accept(const std::string& token, const std::string& version) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    v1::AcceptPolicyRequest req;
    req.set_version(version);
    v1::AcceptPolicyResponse resp;
    return accounts_->AcceptPolicy(&ctx, req, &resp);
  }

  grpc::Status IssueOneToken(const std::string& token) {
    grpc::ClientContext kctx;
    v1::GetSendTokenKeyResponse key;
    EXPECT_TRUE(accounts_->GetSendTokenKey(&kctx, v1::GetSendTokenKeyRequest(), &key).ok());
    auto pub = crypto::BlindRsaPublicKey::FromDer(key.public_key());
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    v1::IssueSendTokensRequest req;
    req.add_blinded_messages(
        pub.Blind(RandomBytes(32), crypto::BlindRsaVariant::kSha384PssRandomized).blinded_msg);
    v1::IssueSendTokensResponse resp;
    return accounts_->IssueSendTokens(&ctx, req, &resp);
  }

  grpc::Status SetOffer(bool open) {
    grpc::ClientContext ctx;
    Authorize(&ctx, d_.OperatorToken());
    v1::SetOptOutOfferRequest req;
    req.set_open(open);
    v1::SetOptOutOfferResponse resp;
    return ops_->SetOptOutOffer(&ctx, req, &resp);
  }

  grpc::Status OptOut(const std::string& token) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    v1::OptOutOfDataSharingResponse resp;
    return accounts_->OptOutOfDataSharing(&ctx, v1::OptOutOfDataSharingRequest(), &resp);
  }

  std::vector<v1::ExportInfrastructureDataResponse> InfrastructureExport() {
    grpc::ClientContext ctx;
    Authorize(&ctx, d_.OperatorToken());
    auto stream = ops_->ExportInfrastructureData(&ctx, v1::ExportInfrastructureDataRequest());
    std::vector<v1::ExportInfrastructureDataResponse> rows;
    v1::ExportInfrastructureDataResponse row;
    while (stream->Read(&row)) rows.push_back(row);
    EXPECT_TRUE(stream->Finish().ok());
    return rows;
  }

  std::string url_;
  DaemonProcess d_;
  std::unique_ptr<v1::OperatorService::Stub> ops_;
  std::unique_ptr<v1::AccountService::Stub> accounts_;
  std::unique_ptr<v1::UserChatService::Stub> chats_;
  std::string business_id_, business_key_;
};

TEST_F(PolicyE2E, DeadlinePostponementAndLateAcceptance) {
  auto [user, token] = NewUserInChat("Siti");
  ASSERT_TRUE(Publish("2021-01", 2s).ok());
  EXPECT_EQ(Publish("2021-01", 2s).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Before the deadline nothing changes.
  EXPECT_TRUE(Send(token, "before the deadline").ok());
  EXPECT_FALSE(Status(token).limited());
  std::this_thread::sleep_for(2500ms);

  // After it: limited mode. Sending and new send tokens are refused, naming the version...
  auto refused = Send(token, "after the deadline");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(refused), "POLICY_ACCEPTANCE_REQUIRED");
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("2021-01"));
  auto tokens = IssueOneToken(token);
  EXPECT_EQ(ErrorReason(tokens), "POLICY_ACCEPTANCE_REQUIRED");
  // A location and a reaction are sends too.
  {
    grpc::ClientContext lctx;
    Authorize(&lctx, token);
    v1::SendMessageRequest req;
    req.set_business_id(business_id_);
    req.set_idempotency_key("limited-location");
    req.mutable_content()->mutable_location()->set_latitude(-6.2);
    req.mutable_content()->mutable_location()->set_longitude(106.8);
    v1::SendMessageResponse resp;
    EXPECT_EQ(ErrorReason(chats_->SendMessage(&lctx, req, &resp)), "POLICY_ACCEPTANCE_REQUIRED");
    grpc::ClientContext hctx;
    Authorize(&hctx, token);
    v1::ListChatsResponse chats;
    ASSERT_TRUE(chats_->ListChats(&hctx, v1::ListChatsRequest(), &chats).ok());
    grpc::ClientContext mctx;
    Authorize(&mctx, token);
    v1::ListChatMessagesRequest hreq;
    hreq.set_conversation_id(chats.chats(0).conversation_id());
    v1::ListChatMessagesResponse history;
    ASSERT_TRUE(chats_->ListChatMessages(&mctx, hreq, &history).ok());
    ASSERT_EQ(history.messages_size(), 1);
    grpc::ClientContext rctx;
    Authorize(&rctx, token);
    v1::ReactToChatMessageRequest rreq;
    rreq.set_conversation_id(chats.chats(0).conversation_id());
    rreq.set_message_id(history.messages(0).message_id());
    rreq.set_emoji("👍");
    v1::ReactToChatMessageResponse rresp;
    EXPECT_EQ(ErrorReason(chats_->ReactToChatMessage(&rctx, rreq, &rresp)),
              "POLICY_ACCEPTANCE_REQUIRED");
  }
  auto status = Status(token);
  EXPECT_TRUE(status.limited());
  EXPECT_EQ(status.required_version(), "2021-01");
  // ...but the account stays active: it reads, exports and receives.
  grpc::ClientContext ctx;
  Authorize(&ctx, token);
  v1::ExportMyDataResponse exported;
  EXPECT_TRUE(accounts_->ExportMyData(&ctx, v1::ExportMyDataRequest(), &exported).ok());

  // The operator postpones the deadline: the limit lifts at once.
  {
    grpc::ClientContext pctx;
    Authorize(&pctx, d_.OperatorToken());
    v1::PostponePolicyDeadlineRequest req;
    req.set_version("2021-01");
    *req.mutable_accept_by_time() = TimeUtil::GetCurrentTime() + TimeUtil::SecondsToDuration(3600);
    v1::PostponePolicyDeadlineResponse resp;
    ASSERT_TRUE(ops_->PostponePolicyDeadline(&pctx, req, &resp).ok());
    grpc::ClientContext back;
    Authorize(&back, d_.OperatorToken());
    *req.mutable_accept_by_time() = TimeUtil::GetCurrentTime();
    EXPECT_EQ(ErrorReason(ops_->PostponePolicyDeadline(&back, req, &resp)), "DEADLINE_NOT_LATER");
  }
  EXPECT_TRUE(Send(token, "during the postponement").ok());

  // A later version already overdue; the user accepts late and everything is restored.
  ASSERT_TRUE(Publish("2021-05", 0s).ok());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ErrorReason(Send(token, "x")), "POLICY_ACCEPTANCE_REQUIRED");
  ASSERT_TRUE(Accept(token, "2021-05").ok());
  EXPECT_TRUE(Send(token, "accepted late").ok());
  EXPECT_TRUE(IssueOneToken(token).ok());
  EXPECT_EQ(Accept(token, "no-such-version").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(PolicyE2E, OptOutSurvivesEveryAcceptanceAndKeepsUsersOutOfTheExport) {
  auto [ani, ani_token] = NewUserInChat("Ani");
  auto [budi, budi_token] = NewUserInChat("Budi");
  EXPECT_EQ(ErrorReason(OptOut(ani_token)), "OPT_OUT_OFFER_CLOSED");
  ASSERT_TRUE(SetOffer(true).ok());
  ASSERT_TRUE(OptOut(ani_token).ok());
  ASSERT_TRUE(SetOffer(false).ok());
  EXPECT_EQ(ErrorReason(OptOut(budi_token)), "OPT_OUT_OFFER_CLOSED");
  EXPECT_TRUE(OptOut(ani_token).ok());  // already set: kept as it is

  for (const char* v : {"v1", "v2", "v3"}) {
    ASSERT_TRUE(Publish(v, 3600s).ok());
    ASSERT_TRUE(Accept(ani_token, v).ok());
    EXPECT_TRUE(Status(ani_token).opted_out_of_data_sharing()) << v;
  }
  // Not even the database lets it go.
  {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    EXPECT_THROW(
        tx.exec_params("DELETE FROM core.data_sharing_opt_outs WHERE user_id = $1::uuid", ani),
        pqxx::sql_error);
  }
  Send(ani_token, "rahasia Ani");
  Send(budi_token, "pesan Budi");
  auto rows = InfrastructureExport();
  ASSERT_EQ(rows.size(), 1u);  // Budi only
  EXPECT_EQ(rows[0].businesses_chatted_with(), 1);
  EXPECT_EQ(rows[0].pseudonymous_id().size(), 32u);
  EXPECT_EQ(rows[0].pseudonymous_id().find(budi), std::string::npos);
  std::string all = rows[0].DebugString();
  EXPECT_EQ(all.find("Budi"), std::string::npos);
  EXPECT_EQ(all.find("pesan"), std::string::npos);
  // The pseudonym is stable across exports.
  EXPECT_EQ(InfrastructureExport()[0].pseudonymous_id(), rows[0].pseudonymous_id());
}

// Statements a path role might run against an account, each committed if the database lets
// it. $1, where used, is the victim's user id.
struct Attempt {
  const char* what;
  std::vector<const char*> statements;
};

const std::vector<Attempt>& AttemptsOnAnAccount() {
  static const std::vector<Attempt> kAttempts = {
      {"delete and re-insert the user row",
       {"DELETE FROM core.users WHERE user_id = $1::uuid",
        "INSERT INTO core.users (user_id, display_name) VALUES ($1::uuid, 'Ani')"}},
      {"delete the user row", {"DELETE FROM core.users WHERE user_id = $1::uuid"}},
      {"delete the credential", {"DELETE FROM core.credentials WHERE principal_id = $1::uuid"}},
      {"move the credential to another user",
       {"UPDATE core.credentials SET principal_id = "
        "(SELECT user_id FROM core.users WHERE display_name = 'Budi') "
        "WHERE principal_id = $1::uuid"}},
      {"change the user id",
       {"UPDATE core.users SET user_id = gen_random_uuid() WHERE user_id = $1::uuid"}},
      {"move the opt-out to another user",
       {"UPDATE core.data_sharing_opt_outs SET user_id = "
        "(SELECT user_id FROM core.users WHERE display_name = 'Budi') WHERE user_id = $1::uuid"}},
      {"delete the opt-out", {"DELETE FROM core.data_sharing_opt_outs WHERE user_id = $1::uuid"}},
      {"delete the acceptances", {"DELETE FROM core.policy_acceptances WHERE user_id = $1::uuid"}},
      {"truncate the opt-outs", {"TRUNCATE core.data_sharing_opt_outs"}},
      {"truncate the users", {"TRUNCATE core.users CASCADE"}},
      {"disable the trigger",
       {"ALTER TABLE core.data_sharing_opt_outs DISABLE TRIGGER opt_outs_are_permanent",
        "DELETE FROM core.data_sharing_opt_outs WHERE user_id = $1::uuid"}},
      {"drop the trigger",
       {"DROP TRIGGER opt_outs_are_permanent ON core.data_sharing_opt_outs",
        "DELETE FROM core.data_sharing_opt_outs WHERE user_id = $1::uuid"}},
      {"replace the trigger's function",
       {"CREATE OR REPLACE FUNCTION core.keep_opt_out() RETURNS trigger LANGUAGE plpgsql "
        "AS 'BEGIN RETURN OLD; END'",
        "DELETE FROM core.data_sharing_opt_outs WHERE user_id = $1::uuid"}},
      {"replication role",
       {"SET LOCAL session_replication_role = replica",
        "DELETE FROM core.data_sharing_opt_outs WHERE user_id = $1::uuid"}},
      {"a token for a user the database never made",
       {"INSERT INTO core.credentials (token_hash, kind, principal_id) "
        "VALUES (sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 1, gen_random_uuid())"}},
  };
  return kAttempts;
}

// Runs the attempt in one transaction as `role`, committing if every statement passes.
// Returns whether it committed.
bool TryAs(const std::string& url, const std::string& role, const Attempt& attempt,
           const std::string& victim) {
  pqxx::connection c(url + " user=" + role);
  pqxx::work tx(c);
  try {
    for (const char* sql : attempt.statements) {
      if (std::string_view(sql).find("$1") == std::string_view::npos) {
        tx.exec(sql);
      } else {
        tx.exec_params(sql, victim);
      }
    }
    tx.commit();
    return true;
  } catch (const pqxx::sql_error&) {
    return false;
  }
}

TEST_F(PolicyE2E, NoPathRoleCanSeparateAnAccountFromItsOptOut) {
  auto [ani, ani_token] = NewUserInChat("Ani");
  auto [budi, budi_token] = NewUserInChat("Budi");
  auto [citra, citra_token] = NewUserInChat("Citra");
  ASSERT_TRUE(Publish("v1", 3600s).ok());
  ASSERT_TRUE(Accept(ani_token, "v1").ok());
  ASSERT_TRUE(SetOffer(true).ok());
  ASSERT_TRUE(OptOut(ani_token).ok());
  ASSERT_TRUE(OptOut(citra_token).ok());
  ASSERT_TRUE(SetOffer(false).ok());

  for (const char* role : {"bizrelay_hosting", "bizrelay_personal"}) {
    for (const auto& attempt : AttemptsOnAnAccount()) {
      EXPECT_FALSE(TryAs(url_, role, attempt, ani)) << role << ": " << attempt.what;
    }
  }
  // Ani's account works, with its opt-out and acceptance.
  auto status = Status(ani_token);
  EXPECT_TRUE(status.opted_out_of_data_sharing());
  ASSERT_EQ(status.versions_size(), 1);
  EXPECT_TRUE(status.versions(0).has_accepted_time());

  // The hosting role may erase an account, only wholly, through the erase function; the
  // erased id cannot come back, neither as a user nor behind a token.
  EXPECT_FALSE(
      TryAs(url_, "bizrelay_personal", {"erase", {"SELECT core.erase_user($1::uuid)"}}, citra));
  EXPECT_TRUE(
      TryAs(url_, "bizrelay_hosting", {"erase", {"SELECT core.erase_user($1::uuid)"}}, citra));
  for (const Attempt& comeback : std::vector<Attempt>{
           {"re-insert the user",
            {"INSERT INTO core.users (user_id, display_name) VALUES ($1::uuid, 'Citra')"}},
           {"a token for the erased id",
            {"INSERT INTO core.credentials (token_hash, kind, principal_id) "
             "VALUES (sha256('citra again'), 1, $1::uuid)"}}}) {
    EXPECT_FALSE(TryAs(url_, "bizrelay_hosting", comeback, citra)) << comeback.what;
  }
  grpc::ClientContext ctx;
  Authorize(&ctx, citra_token);
  v1::GetPolicyStatusResponse gone;
  EXPECT_EQ(accounts_->GetPolicyStatus(&ctx, v1::GetPolicyStatusRequest(), &gone).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // Only Budi, who never opted out, is shared.
  auto rows = InfrastructureExport();
  ASSERT_EQ(rows.size(), 1u);
  pqxx::connection admin(url_);
  pqxx::nontransaction tx(admin);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM core.users")[0].as<int>(), 2);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM core.data_sharing_opt_outs")[0].as<int>(), 1);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM core.credentials WHERE principal_id = $1::uuid",
                            citra)[0]
                .as<int>(),
            0);
}

TEST_F(PolicyE2E, DownloadAndEraseYourData) {
  auto [user, token] = NewUserInChat("Dewi");
  ASSERT_TRUE(Publish("2021-01", 3600s).ok());
  ASSERT_TRUE(Accept(token, "2021-01").ok());
  ASSERT_TRUE(SetOffer(true).ok());
  ASSERT_TRUE(OptOut(token).ok());
  ASSERT_TRUE(Send(token, "pesanan nomor 12").ok());

  grpc::ClientContext ctx;
  Authorize(&ctx, token);
  v1::ExportMyDataResponse exported;
  ASSERT_TRUE(accounts_->ExportMyData(&ctx, v1::ExportMyDataRequest(), &exported).ok());
  auto doc = nlohmann::json::parse(exported.json());
  EXPECT_EQ(doc["format"], "bizrelay.export.v1");
  EXPECT_EQ(doc["profile"]["user_id"], user);
  EXPECT_EQ(doc["policy"]["acceptances"][0]["version"], "2021-01");
  EXPECT_EQ(doc["data_sharing_opt_out"]["opted_out"], true);
  EXPECT_TRUE(doc["data_sharing_opt_out"].contains("opted_out_at"));
  ASSERT_EQ(doc["chats"].size(), 1u);
  EXPECT_EQ(doc["chats"][0]["state"], "open");
  EXPECT_EQ(doc["chats"][0]["consented_disclosure_version"], 1);
  EXPECT_EQ(doc["chats"][0]["messages"][0]["text"], "pesanan nomor 12");  // decrypted for the user

  for (int round = 0; round < 2; ++round) {
    grpc::ClientContext del;
    Authorize(&del, token);
    v1::DeleteAccountResponse out;
    auto s = accounts_->DeleteAccount(&del, v1::DeleteAccountRequest(), &out);
    if (round == 0) {
      EXPECT_TRUE(s.ok()) << s.error_message();
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    }
  }
  grpc::ClientContext after;
  Authorize(&after, token);
  v1::GetProfileResponse profile;
  EXPECT_EQ(accounts_->GetProfile(&after, v1::GetProfileRequest(), &profile).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // The business sees the chat closed, and nothing of the user is left.
  auto business = v1::BusinessService::NewStub(d_.PublicChannel());
  grpc::ClientContext lctx;
  Authorize(&lctx, business_key_);
  v1::ListConversationsResponse convs;
  ASSERT_TRUE(business->ListConversations(&lctx, v1::ListConversationsRequest(), &convs).ok());
  ASSERT_EQ(convs.conversations_size(), 1);
  EXPECT_EQ(convs.conversations(0).state(), v1::CHAT_STATE_LEFT);
  EXPECT_EQ(convs.conversations(0).user_id(), "");
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  for (const char* sql :
       {"SELECT count(*) FROM core.users", "SELECT count(*) FROM hosting.messages",
        "SELECT count(*) FROM core.credentials WHERE kind = 1",
        "SELECT count(*) FROM core.data_sharing_opt_outs",
        "SELECT count(*) FROM core.policy_acceptances"}) {
    EXPECT_EQ(tx.exec1(sql)[0].as<int>(), 0) << sql;
  }
}

TEST_F(PolicyE2E, TheCliWritesTheExportToAFileAndErases) {
  auto [user, token] = NewUserInChat("Rina");
  ASSERT_TRUE(Send(token, "halo dari CLI").ok());
  std::string out = "/tmp/bizrelay-export-" + ToHex(RandomBytes(6)) + ".json";
  std::string addr = "127.0.0.1:" + std::to_string(d_.public_port());
  auto exported =
      RunCommand({BIZRELAY_CLI_PATH, "--addr", addr, "--token", token, "export", "--out", out});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::ifstream in(out);
  auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc["format"], "bizrelay.export.v1");
  EXPECT_EQ(doc["chats"][0]["messages"][0]["text"], "halo dari CLI");
  EXPECT_EQ(std::filesystem::status(out).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  std::filesystem::remove(out);
  auto refused =
      RunCommand({BIZRELAY_CLI_PATH, "--addr", addr, "--token", token, "delete-account"});
  EXPECT_EQ(refused.exit_code, 2);
  auto erased =
      RunCommand({BIZRELAY_CLI_PATH, "--addr", addr, "--token", token, "delete-account", "--yes"});
  EXPECT_EQ(erased.exit_code, 0) << erased.err;
  auto status = RunCommand({BIZRELAY_CLI_PATH, "--addr", addr, "--token", token, "whoami"});
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_THAT(status.err, ::testing::HasSubstr("UNAUTHENTICATED"));
}

}  // namespace
}  // namespace bizrelay::e2e

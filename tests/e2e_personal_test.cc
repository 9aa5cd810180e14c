// End-to-end: two users exchange sealed messages over the personal relay, then the test reads
// every table and every log line for anything that links them or reveals content.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "services/crypto/blind_rsa.h"
#include "services/crypto/sealed_box.h"
#include "services/platform/token.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

struct Person {
  std::string user_id, user_token;
  std::vector<v1::SendToken> tokens;
  std::string mailbox_id, owner_secret, access_key;
  crypto::KeyPair identity, signed_prekey;
};

// Registers a user and gets tokens on `d`, then makes a mailbox on `relay_process`.
Person Join(DaemonProcess& d, DaemonProcess& relay_process, const std::string& name, int tokens) {
  Person p;
  auto accounts = v1::AccountService::NewStub(d.PublicChannel());
  {
    grpc::ClientContext ctx;
    v1::RegisterUserRequest req;
    req.set_display_name(name);
    v1::RegisterUserResponse resp;
    EXPECT_TRUE(accounts->RegisterUser(&ctx, req, &resp).ok());
    p.user_id = resp.profile().user_id();
    p.user_token = resp.token();
  }
  v1::GetSendTokenKeyResponse key;
  {
    grpc::ClientContext ctx;
    EXPECT_TRUE(accounts->GetSendTokenKey(&ctx, v1::GetSendTokenKeyRequest(), &key).ok());
  }
  auto pub = crypto::BlindRsaPublicKey::FromDer(key.public_key());
  std::vector<crypto::BlindingResult> blinded;
  v1::IssueSendTokensRequest req;
  for (int i = 0; i < tokens; ++i) {
    blinded.push_back(pub.Blind(RandomBytes(32), crypto::BlindRsaVariant::kSha384PssRandomized));
    req.add_blinded_messages(blinded.back().blinded_msg);
  }
  grpc::ClientContext ctx;
  Authorize(&ctx, p.user_token);
  v1::IssueSendTokensResponse resp;
  auto s = accounts->IssueSendTokens(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (int i = 0; i < resp.blind_signatures_size(); ++i) {
    v1::SendToken t;
    t.set_message(blinded[i].prepared_msg);
    t.set_signature(
        pub.Finalize(resp.blind_signatures(i), blinded[i].inv, blinded[i].prepared_msg));
    t.set_key_id(resp.key_id());
    p.tokens.push_back(t);
  }
  // A mailbox, paid with one token, and its keys.
  auto relay = v1::PersonalRelayService::NewStub(relay_process.PersonalChannel());
  p.access_key = RandomBytes(32);
  {
    grpc::ClientContext c;
    v1::CreateMailboxRequest r;
    *r.mutable_token() = p.tokens.back();
    p.tokens.pop_back();
    r.set_access_key(p.access_key);
    v1::CreateMailboxResponse out;
    EXPECT_TRUE(relay->CreateMailbox(&c, r, &out).ok());
    p.mailbox_id = out.mailbox_id();
    p.owner_secret = out.owner_secret();
  }
  p.identity = crypto::GenerateEd25519KeyPair();
  p.signed_prekey = crypto::GenerateX25519KeyPair();
  grpc::ClientContext c;
  Authorize(&c, p.owner_secret);
  v1::PublishKeysRequest r;
  r.set_identity_key(p.identity.public_key);
  r.set_signed_prekey(p.signed_prekey.public_key);
  r.set_signed_prekey_signature(
      crypto::Ed25519Sign(p.identity.private_key, p.signed_prekey.public_key));
  r.set_signed_prekey_id(1);
  v1::PublishKeysResponse out;
  EXPECT_TRUE(relay->PublishKeys(&c, r, &out).ok());
  return p;
}

Person Join(DaemonProcess& d, const std::string& name, int tokens) {
  return Join(d, d, name, tokens);
}

grpc::Status SendTo(DaemonProcess& d, Person& from, const Person& to, const std::string& text,
                    bool reuse_token = false) {
  auto relay = v1::PersonalRelayService::NewStub(d.PersonalChannel());
  v1::FetchBundleResponse bundle;
  {
    grpc::ClientContext ctx;
    v1::FetchBundleRequest req;
    req.set_mailbox_id(to.mailbox_id);
    req.set_access_key(to.access_key);
    auto s = relay->FetchBundle(&ctx, req, &bundle);
    if (!s.ok()) return s;
  }
  EXPECT_TRUE(crypto::Ed25519Verify(bundle.identity_key(), bundle.signed_prekey(),
                                    bundle.signed_prekey_signature()));
  grpc::ClientContext ctx;
  v1::SendSealedRequest req;
  req.set_mailbox_id(to.mailbox_id);
  req.set_access_key(to.access_key);
  *req.mutable_token() = from.tokens.back();
  if (!reuse_token) from.tokens.pop_back();
  req.set_ciphertext(crypto::Seal(bundle.signed_prekey(), from.identity.private_key, text));
  v1::SendSealedResponse resp;
  return relay->SendSealed(&ctx, req, &resp);
}

std::vector<std::pair<std::string, std::string>> Receive(DaemonProcess& d, const Person& me,
                                                         int count) {
  auto relay = v1::PersonalRelayService::NewStub(d.PersonalChannel());
  grpc::ClientContext ctx;
  Authorize(&ctx, me.owner_secret);
  auto stream = relay->StreamMailbox(&ctx, v1::StreamMailboxRequest());
  std::vector<std::pair<std::string, std::string>> got;
  v1::StreamMailboxResponse e;
  int64_t last = 0;
  while (static_cast<int>(got.size()) < count && stream->Read(&e)) {
    auto opened = crypto::Open(me.signed_prekey.private_key, e.ciphertext());
    got.emplace_back(opened.sender_identity_key, opened.plaintext);
    last = e.sequence();
  }
  ctx.TryCancel();
  grpc::ClientContext ack_ctx;
  Authorize(&ack_ctx, me.owner_secret);
  v1::AcknowledgeEnvelopesRequest ack;
  ack.set_up_to_sequence(last);
  v1::AcknowledgeEnvelopesResponse ack_resp;
  EXPECT_TRUE(relay->AcknowledgeEnvelopes(&ack_ctx, ack, &ack_resp).ok());
  EXPECT_EQ(ack_resp.deleted(), count);
  return got;
}

// Every row of every table of the bizrelay schemas, as text.
std::string DumpTables(const std::string& url) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  std::string all;
  for (const auto& t : tx.exec("SELECT schemaname, tablename FROM pg_tables "
                               "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")) {
    std::string name =
        tx.quote_name(t[0].as<std::string>()) + "." + tx.quote_name(t[1].as<std::string>());
    for (const auto& r : tx.exec("SELECT row_to_json(x)::text FROM " + name + " x")) {
      all += name + " " + r[0].as<std::string>() + "\n";
    }
  }
  return all;
}

std::map<std::string, int> HostingRowCounts(const std::string& url) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  std::map<std::string, int> counts;
  for (const auto& t : tx.exec("SELECT schemaname || '.' || tablename FROM pg_tables "
                               "WHERE schemaname IN ('core', 'hosting')")) {
    std::string name = t[0].as<std::string>();
    counts[name] = tx.exec1("SELECT count(*) FROM " + name)[0].as<int>();
  }
  return counts;
}

TEST(PersonalE2E, SealedExchangeLeavesNothingThatLinksTheTwo) {
  std::string url = store::testing::FreshDatabase();
  // Sender and recipient on different instances; logging at its most verbose.
  DaemonProcess a(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--log-level", "trace"}});
  DaemonProcess b(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--log-level", "trace"}});
  Person ani = Join(a, "Ani", 5);
  Person budi = Join(b, "Budi", 5);
  auto hosting_before = HostingRowCounts(url);

  const std::string secret1 = "ketemu di stasiun jam 7, bawa payung";
  const std::string secret2 = "siap, sampai jumpa";
  ASSERT_TRUE(SendTo(a, ani, budi, secret1).ok());
  auto got = Receive(b, budi, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, secret1);
  EXPECT_EQ(got[0].first, ani.identity.public_key);  // the sender is known only inside
  ASSERT_TRUE(SendTo(b, budi, ani, secret2).ok());
  EXPECT_EQ(Receive(a, ani, 1)[0].second, secret2);

  // A spent token is refused; a wrong access key looks like no mailbox at all.
  ani.tokens.push_back(ani.tokens.back());
  auto s = SendTo(a, ani, budi, "again", /*reuse_token=*/false);
  EXPECT_TRUE(s.ok());
  s = SendTo(a, ani, budi, "replayed token", /*reuse_token=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(s), "TOKEN_SPENT");
  Person stranger = budi;
  stranger.access_key = RandomBytes(32);
  s = SendTo(a, ani, stranger, "probe");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // The hosting path's tables did not change.
  EXPECT_EQ(HostingRowCounts(url), hosting_before);

  // Every table: no plaintext, no user id, token or key id of either, no sender key next to
  // the recipient's mailbox.
  std::string tables = DumpTables(url);
  std::string logs = a.Log() + b.Log();
  std::vector<std::string> never_in_tables = {secret1,
                                              secret2,
                                              "ketemu",
                                              ToHex(ani.identity.private_key),
                                              ToHex(ani.tokens.back().message()),
                                              ToHex(ani.tokens.back().signature()),
                                              ani.user_token,
                                              budi.user_token,
                                              ani.owner_secret,
                                              budi.owner_secret,
                                              ToHex(ani.access_key),
                                              ToHex(budi.access_key)};
  for (const auto& needle : never_in_tables) {
    EXPECT_EQ(tables.find(needle), std::string::npos) << needle.substr(0, 12);
  }
  // Rows of the personal schema never name a user.
  for (const auto& line : std::vector<std::string>{tables}) {
    size_t at = 0;
    while ((at = line.find("\"personal\".", at)) != std::string::npos) {
      size_t end = line.find('\n', at);
      std::string row = line.substr(at, end - at);
      EXPECT_EQ(row.find(ani.user_id), std::string::npos) << row;
      EXPECT_EQ(row.find(budi.user_id), std::string::npos) << row;
      // Budi's envelopes and mailbox never carry Ani's identity key (and the reverse).
      if (row.find(budi.mailbox_id) != std::string::npos) {
        EXPECT_EQ(row.find(ToHex(ani.identity.public_key)), std::string::npos) << row;
      }
      at = end;
    }
  }
  // The logs name neither mailbox, key, token, user nor text.
  for (const auto& needle :
       {secret1, secret2, ani.mailbox_id, budi.mailbox_id, ani.user_id, budi.user_id,
        ani.owner_secret, budi.owner_secret, ani.tokens.back().key_id(), ani.user_token}) {
    EXPECT_EQ(logs.find(needle), std::string::npos) << "log has: " << needle.substr(0, 16);
  }
  EXPECT_THAT(logs, ::testing::HasSubstr("role=personal"));  // the relay did log, at trace
}

// The personal relay as a process of its own: accounts and tokens on one process, the relay
// (which links nothing of the hosting code) on another.
TEST(PersonalE2E, RunsAsItsOwnProcess) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess accounts(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--roles", "hosting,operator"}});
  DaemonProcess relay(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--roles", "personal"}});
  EXPECT_EQ(accounts.personal_port(), 0);
  EXPECT_EQ(relay.public_port(), 0);
  ASSERT_GT(relay.personal_port(), 0);
  // Tokens come from the accounts process; mailboxes and sends go to the relay process.
  Person ani = Join(accounts, relay, "Ani", 3);
  Person budi = Join(accounts, relay, "Budi", 3);
  ASSERT_TRUE(SendTo(relay, ani, budi, "lewat proses sendiri").ok());
  EXPECT_EQ(Receive(relay, budi, 1)[0].second, "lewat proses sendiri");
}

TEST(PersonalE2E, TokenIssuanceIsLimitedPerUserPerDay) {
  DaemonProcess d(DaemonProcess::Options{.extra_args = {"--tokens-per-day", "3"}});
  Person p = Join(d, "Citra", 3);  // three tokens; one paid for the mailbox
  EXPECT_EQ(p.tokens.size(), 2u);
  auto accounts = v1::AccountService::NewStub(d.PublicChannel());
  v1::GetSendTokenKeyResponse key;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(accounts->GetSendTokenKey(&ctx, v1::GetSendTokenKeyRequest(), &key).ok());
  }
  auto pub = crypto::BlindRsaPublicKey::FromDer(key.public_key());
  grpc::ClientContext ctx;
  Authorize(&ctx, p.user_token);
  v1::IssueSendTokensRequest req;
  req.add_blinded_messages(
      pub.Blind(RandomBytes(32), crypto::BlindRsaVariant::kSha384PssRandomized).blinded_msg);
  v1::IssueSendTokensResponse resp;
  auto s = accounts->IssueSendTokens(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(s), "TOKEN_QUOTA_EXCEEDED");
  // Oversized envelopes are refused before anything is stored.
  auto relay = v1::PersonalRelayService::NewStub(d.PersonalChannel());
  grpc::ClientContext sctx;
  v1::SendSealedRequest big;
  big.set_mailbox_id(p.mailbox_id);
  big.set_access_key(p.access_key);
  *big.mutable_token() = p.tokens.back();
  big.set_ciphertext(std::string(65 * 1024, 'x'));
  v1::SendSealedResponse out;
  s = relay->SendSealed(&sctx, big, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(s), "ENVELOPE_TOO_LARGE");
}

}  // namespace
}  // namespace bizrelay::e2e

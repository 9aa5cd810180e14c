#include "tests/harness/clients.h"

#include <gtest/gtest.h>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/crypto/blind_rsa.h"
#include "services/platform/token.h"

namespace bizrelay::e2e {

Biz CreateBusiness(DaemonProcess& d, const std::string& name) {
  grpc::ClientContext ctx;
  Authorize(&ctx, d.OperatorToken());
  v1::CreateBusinessRequest req;
  req.mutable_profile()->set_display_name(name);
  v1::CreateBusinessResponse resp;
  EXPECT_TRUE(
      v1::OperatorService::NewStub(d.OperatorChannel())->CreateBusiness(&ctx, req, &resp).ok());
  return {resp.business().business_id(), resp.api_key()};
}

Usr Register(DaemonProcess& d, const std::string& name) {
  grpc::ClientContext ctx;
  v1::RegisterUserRequest req;
  req.set_display_name(name);
  v1::RegisterUserResponse resp;
  EXPECT_TRUE(v1::AccountService::NewStub(d.PublicChannel())->RegisterUser(&ctx, req, &resp).ok());
  return {resp.profile().user_id(), resp.token()};
}

std::string StartChat(DaemonProcess& d, const Usr& u, const Biz& b) {
  auto stub = v1::UserChatService::NewStub(d.PublicChannel());
  v1::GetBusinessDisclosureResponse disclosure;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, u.token);
    v1::GetBusinessDisclosureRequest req;
    req.set_business_id(b.id);
    EXPECT_TRUE(stub->GetBusinessDisclosure(&ctx, req, &disclosure).ok());
  }
  grpc::ClientContext ctx;
  Authorize(&ctx, u.token);
  v1::StartChatRequest req;
  req.set_business_id(b.id);
  req.set_disclosure_version(disclosure.disclosure().version());
  v1::StartChatResponse resp;
  EXPECT_TRUE(stub->StartChat(&ctx, req, &resp).ok());
  return resp.conversation_id();
}

grpc::Status Send(DaemonProcess& d, const Usr& u, const Biz& b, const std::string& text,
                  const std::string& key, v1::SendMessageResponse* resp) {
  grpc::ClientContext ctx;
  Authorize(&ctx, u.token);
  v1::SendMessageRequest req;
  req.set_business_id(b.id);
  req.set_text(text);
  req.set_idempotency_key(key);
  v1::SendMessageResponse local;
  return v1::UserChatService::NewStub(d.PublicChannel())
      ->SendMessage(&ctx, req, resp ? resp : &local);
}

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
                    bool reuse_token) {
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

}  // namespace bizrelay::e2e

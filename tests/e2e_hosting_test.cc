// End-to-end: users and businesses chatting through real bizrelayd processes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/clients.h"
#include "tests/harness/command.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

DaemonProcess::Options WithArgs(std::string url, std::vector<std::string> args = {}) {
  return DaemonProcess::Options{.database_url = std::move(url), .extra_args = std::move(args)};
}

TEST(HostingE2E, UserOnOneInstanceBusinessOnAnother) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess a(WithArgs(url));
  DaemonProcess b(WithArgs(url));
  Biz biz = CreateBusiness(a, "Toko Ibu");
  Usr user = Register(a, "Siti");
  std::string conv = StartChat(a, user, biz);

  // The business listens on instance B; it first sees the chat-started notice.
  grpc::ClientContext inbox_ctx;
  Authorize(&inbox_ctx, biz.key);
  auto inbox_stub = v1::BusinessService::NewStub(b.PublicChannel());
  auto inbox = inbox_stub->StreamInbox(&inbox_ctx, v1::StreamInboxRequest());
  v1::StreamInboxResponse event;
  ASSERT_TRUE(inbox->Read(&event));
  EXPECT_EQ(event.notice().kind(), v1::ChatNotice::KIND_CHAT_STARTED);
  EXPECT_EQ(event.user_id(), user.id);

  // The user writes on instance A; B's stream is woken.
  v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(a, user, biz, "Apakah kue bolu masih ada?", "k1", &sent).ok());
  ASSERT_TRUE(inbox->Read(&event));
  EXPECT_EQ(event.message().message_id(), sent.message().message_id());
  EXPECT_EQ(event.message().text(), "Apakah kue bolu masih ada?");
  int64_t last = event.position();

  // The user listens on A; the business acknowledges and replies on B.
  grpc::ClientContext user_ctx;
  Authorize(&user_ctx, user.token);
  auto user_stub = v1::UserChatService::NewStub(a.PublicChannel());
  auto events = user_stub->StreamEvents(&user_ctx, v1::StreamEventsRequest());
  auto business = v1::BusinessService::NewStub(b.PublicChannel());
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    v1::AcknowledgeInboxRequest req;
    req.set_position(last);
    v1::AcknowledgeInboxResponse resp;
    ASSERT_TRUE(business->AcknowledgeInbox(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.acknowledged_position(), last);
  }
  v1::StreamEventsResponse ue;
  ASSERT_TRUE(events->Read(&ue));
  EXPECT_EQ(ue.status_change().message_id(), sent.message().message_id());
  EXPECT_EQ(ue.status_change().status(), v1::MESSAGE_STATUS_DELIVERED);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    v1::SendReplyRequest req;
    req.set_conversation_id(conv);
    req.set_text("Masih, kak!");
    req.set_idempotency_key("r1");
    v1::SendReplyResponse resp;
    ASSERT_TRUE(business->SendReply(&ctx, req, &resp).ok());
  }
  ASSERT_TRUE(events->Read(&ue));
  EXPECT_EQ(ue.message().text(), "Masih, kak!");
  EXPECT_EQ(ue.message().direction(), v1::MESSAGE_DIRECTION_BUSINESS_TO_USER);
  user_ctx.TryCancel();
  inbox_ctx.TryCancel();
}

TEST(HostingE2E, StreamResumesFromItsCursorWithNothingMissedOrRepeated) {
  DaemonProcess d;
  Biz biz = CreateBusiness(d, "Toko");
  Usr user = Register(d, "Budi");
  StartChat(d, user, biz);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(Send(d, user, biz, "m" + std::to_string(i), "k" + std::to_string(i)).ok());

  auto stub = v1::BusinessService::NewStub(d.PublicChannel());
  std::vector<std::string> seen;
  int64_t cursor = 0;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    auto stream = stub->StreamInbox(&ctx, v1::StreamInboxRequest());
    v1::StreamInboxResponse e;
    for (int i = 0; i < 3; ++i) {  // notice + m0 + m1, then disconnect without acknowledging
      ASSERT_TRUE(stream->Read(&e));
      if (e.has_message()) seen.push_back(e.message().text());
      cursor = e.position();
    }
    ctx.TryCancel();
  }
  for (int i = 5; i < 8; ++i)
    ASSERT_TRUE(Send(d, user, biz, "m" + std::to_string(i), "k" + std::to_string(i)).ok());
  grpc::ClientContext ctx;
  Authorize(&ctx, biz.key);
  v1::StreamInboxRequest req;
  req.set_after_position(cursor);
  auto stream = stub->StreamInbox(&ctx, req);
  v1::StreamInboxResponse e;
  int64_t prev = cursor;
  while (seen.size() < 8 && stream->Read(&e)) {
    EXPECT_GT(e.position(), prev);
    prev = e.position();
    seen.push_back(e.message().text());
  }
  ctx.TryCancel();
  EXPECT_EQ(seen, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"}));

  // Unacknowledged events are delivered again from position 0 (at least once).
  grpc::ClientContext again_ctx;
  Authorize(&again_ctx, biz.key);
  auto again = stub->StreamInbox(&again_ctx, v1::StreamInboxRequest());
  ASSERT_TRUE(again->Read(&e));
  EXPECT_EQ(e.position(), 1);
  again_ctx.TryCancel();
}

// For every RPC that takes an id: someone else's id answers exactly like an unknown one.
TEST(HostingE2E, IsolationMatrix) {
  DaemonProcess d;
  Biz a = CreateBusiness(d, "A"), b = CreateBusiness(d, "B");
  Usr x = Register(d, "X"), y = Register(d, "Y");
  std::string conv_xa = StartChat(d, x, a);
  std::string conv_yb = StartChat(d, y, b);
  v1::SendMessageResponse xa_msg, yb_msg;
  ASSERT_TRUE(Send(d, x, a, "hi a", "k", &xa_msg).ok());
  ASSERT_TRUE(Send(d, y, b, "hi b", "k", &yb_msg).ok());
  const std::string unknown = "00000000-0000-4000-8000-000000000000";
  auto biz = v1::BusinessService::NewStub(d.PublicChannel());
  auto usr = v1::UserChatService::NewStub(d.PublicChannel());

  struct Probe {
    std::string name;
    std::function<grpc::Status(const std::string& conv, const std::string& msg)> call;
  };
  std::vector<Probe> as_business_a = {
      {"SendReply",
       [&](const std::string& conv, const std::string&) {
         grpc::ClientContext ctx;
         Authorize(&ctx, a.key);
         v1::SendReplyRequest req;
         req.set_conversation_id(conv);
         req.set_text("x");
         req.set_idempotency_key("iso");
         v1::SendReplyResponse resp;
         return biz->SendReply(&ctx, req, &resp);
       }},
      {"MarkMessagesRead",
       [&](const std::string& conv, const std::string& msg) {
         grpc::ClientContext ctx;
         Authorize(&ctx, a.key);
         v1::MarkMessagesReadRequest req;
         req.set_conversation_id(conv);
         req.set_message_id(msg);
         v1::MarkMessagesReadResponse resp;
         return biz->MarkMessagesRead(&ctx, req, &resp);
       }},
      {"ListMessages",
       [&](const std::string& conv, const std::string&) {
         grpc::ClientContext ctx;
         Authorize(&ctx, a.key);
         v1::ListMessagesRequest req;
         req.set_conversation_id(conv);
         v1::ListMessagesResponse resp;
         return biz->ListMessages(&ctx, req, &resp);
       }},
      {"ReactToMessage",
       [&](const std::string& conv, const std::string& msg) {
         grpc::ClientContext ctx;
         Authorize(&ctx, a.key);
         v1::ReactToMessageRequest req;
         req.set_conversation_id(conv);
         req.set_message_id(msg);
         req.set_emoji("👍");
         v1::ReactToMessageResponse resp;
         return biz->ReactToMessage(&ctx, req, &resp);
       }},
  };
  std::vector<Probe> as_user_x = {
      {"MarkRead",
       [&](const std::string& conv, const std::string& msg) {
         grpc::ClientContext ctx;
         Authorize(&ctx, x.token);
         v1::MarkReadRequest req;
         req.set_conversation_id(conv);
         req.set_message_id(msg);
         v1::MarkReadResponse resp;
         return usr->MarkRead(&ctx, req, &resp);
       }},
      {"ListChatMessages",
       [&](const std::string& conv, const std::string&) {
         grpc::ClientContext ctx;
         Authorize(&ctx, x.token);
         v1::ListChatMessagesRequest req;
         req.set_conversation_id(conv);
         v1::ListChatMessagesResponse resp;
         return usr->ListChatMessages(&ctx, req, &resp);
       }},
      {"ReactToChatMessage",
       [&](const std::string& conv, const std::string& msg) {
         grpc::ClientContext ctx;
         Authorize(&ctx, x.token);
         v1::ReactToChatMessageRequest req;
         req.set_conversation_id(conv);
         req.set_message_id(msg);
         req.set_emoji("👍");
         v1::ReactToChatMessageResponse resp;
         return usr->ReactToChatMessage(&ctx, req, &resp);
       }},
  };
  auto check = [&](const std::vector<Probe>& probes, const std::string& own_conv,
                   const std::string& own_msg) {
    for (const auto& p : probes) {
      grpc::Status foreign = p.call(conv_yb, yb_msg.message().message_id());
      grpc::Status missing = p.call(unknown, unknown);
      EXPECT_EQ(foreign.error_code(), grpc::StatusCode::NOT_FOUND) << p.name;
      EXPECT_EQ(foreign.error_code(), missing.error_code()) << p.name;
      EXPECT_EQ(foreign.error_message(), missing.error_message()) << p.name;
      EXPECT_EQ(ErrorReason(foreign), ErrorReason(missing)) << p.name;
      // And the owner's own id works, so the probe is not failing for another reason.
      grpc::Status own = p.call(own_conv, own_msg);
      if (p.name != "SendReply") {
        EXPECT_TRUE(own.ok()) << p.name << ": " << own.error_message();
      }
    }
  };
  check(as_business_a, conv_xa, xa_msg.message().message_id());
  check(as_user_x, conv_xa, xa_msg.message().message_id());

  // Business ids: a user asking about a disabled business and an unknown one.
  for (const std::string& id : {unknown, std::string("not-an-id")}) {
    grpc::ClientContext ctx;
    Authorize(&ctx, x.token);
    v1::GetBusinessDisclosureRequest req;
    req.set_business_id(id);
    v1::GetBusinessDisclosureResponse resp;
    auto s = usr->GetBusinessDisclosure(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(s.error_message(), "business not found");
  }
  // History of B never shows A's conversation.
  grpc::ClientContext ctx;
  Authorize(&ctx, b.key);
  v1::ListConversationsResponse convs;
  ASSERT_TRUE(biz->ListConversations(&ctx, v1::ListConversationsRequest(), &convs).ok());
  ASSERT_EQ(convs.conversations_size(), 1);
  EXPECT_EQ(convs.conversations(0).conversation_id(), conv_yb);
}

TEST(HostingE2E, LimitsAnswerWithStandardCodes) {
  DaemonProcess d(DaemonProcess::Options{.extra_args = {"--hosting-sends-per-second", "5",
                                                        "--hosting-max-streams-per-principal", "2",
                                                        "--hosting-max-text-chars", "50"}});
  Biz biz = CreateBusiness(d, "Toko");
  Usr user = Register(d, "Ani");
  StartChat(d, user, biz);

  auto too_long = Send(d, user, biz, std::string(51, 'a'), "long");
  EXPECT_EQ(too_long.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorReason(too_long), "INVALID_FIELD");
  auto long_key = Send(d, user, biz, "x", std::string(200, 'k'));
  EXPECT_EQ(long_key.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Rate: a burst of 10 (twice the rate), then RESOURCE_EXHAUSTED with a retry delay.
  grpc::Status limited;
  int ok = 0;
  for (int i = 0; i < 30; ++i) {
    auto s = Send(d, user, biz, "m", "rate" + std::to_string(i));
    if (s.ok()) {
      ++ok;
    } else {
      limited = s;
      break;
    }
  }
  EXPECT_GE(ok, 8);
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(limited), "RATE_LIMITED");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(limited.error_details()));
  google::rpc::RetryInfo retry;
  ASSERT_EQ(details.details_size(), 2);
  ASSERT_TRUE(details.details(1).UnpackTo(&retry));
  EXPECT_GT(retry.retry_delay().nanos() + retry.retry_delay().seconds(), 0);

  // Streams per principal.
  auto stub = v1::BusinessService::NewStub(d.PublicChannel());
  grpc::ClientContext c1, c2, c3;
  for (auto* c : {&c1, &c2, &c3}) Authorize(c, biz.key);
  auto s1 = stub->StreamInbox(&c1, v1::StreamInboxRequest());
  auto s2 = stub->StreamInbox(&c2, v1::StreamInboxRequest());
  v1::StreamInboxResponse e;
  ASSERT_TRUE(s1->Read(&e));
  ASSERT_TRUE(s2->Read(&e));
  auto s3 = stub->StreamInbox(&c3, v1::StreamInboxRequest());
  EXPECT_FALSE(s3->Read(&e));
  auto st = s3->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(st), "TOO_MANY_STREAMS");
  c1.TryCancel();
  c2.TryCancel();

  // Page sizes are capped, tokens checked.
  grpc::ClientContext ctx;
  Authorize(&ctx, biz.key);
  v1::ListConversationsRequest req;
  req.set_page_token("garbage!");
  v1::ListConversationsResponse resp;
  auto bad = stub->ListConversations(&ctx, req, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(HostingE2E, ConversationDrivenByBufCurl) {
  DaemonProcess d;
  Biz biz = CreateBusiness(d, "Warung");
  auto reg = BufCurl(d.public_port(), "bizrelay.v1.AccountService/RegisterUser",
                     {"-d", R"({"display_name":"Rudi"})"});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  auto at = reg.out.find("bru_");
  std::string token = reg.out.substr(at, reg.out.find('"', at) - at);
  std::string auth = "authorization: Bearer " + token;
  auto disclosure = BufCurl(d.public_port(), "bizrelay.v1.UserChatService/GetBusinessDisclosure",
                            {"-H", auth, "-d", R"({"business_id":")" + biz.id + R"("})"});
  EXPECT_THAT(disclosure.out, HasSubstr("\"hosted\": true"));
  EXPECT_THAT(disclosure.out, HasSubstr("kept for 30 days"));
  auto start =
      BufCurl(d.public_port(), "bizrelay.v1.UserChatService/StartChat",
              {"-H", auth, "-d", R"({"business_id":")" + biz.id + R"(","disclosure_version":1})"});
  EXPECT_THAT(start.out, HasSubstr("CHAT_STATE_OPEN"));
  auto send = BufCurl(
      d.public_port(), "bizrelay.v1.UserChatService/SendMessage",
      {"-H", auth, "-d",
       R"({"business_id":")" + biz.id + R"(","text":"Pesan dari buf","idempotency_key":"b1"})"});
  EXPECT_EQ(send.exit_code, 0) << send.err;
  EXPECT_THAT(send.out, HasSubstr("MESSAGE_STATUS_SENT"));
  auto history = BufCurl(d.public_port(), "bizrelay.v1.BusinessService/ListConversations",
                         {"-H", "authorization: Bearer " + biz.key});
  EXPECT_THAT(history.out, HasSubstr("\"serviceWindowOpen\": true"));
  auto outside = BufCurl(
      d.public_port(), "bizrelay.v1.BusinessService/SendReply",
      {"-H", "authorization: Bearer " + biz.key, "-d",
       R"({"conversation_id":"00000000-0000-4000-8000-000000000000","text":"x","idempotency_key":"z"})"});
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_THAT(outside.out + outside.err, HasSubstr("not_found"));
}

// The README's walkthrough, run with the bizrelay CLI.
TEST(HostingE2E, ConversationWithTheCli) {
  DaemonProcess d;
  auto cli = [&](const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BIZRELAY_CLI_PATH,
                                     "--addr",
                                     "127.0.0.1:" + std::to_string(d.public_port()),
                                     "--operator-addr",
                                     "127.0.0.1:" + std::to_string(d.operator_port()),
                                     "--token",
                                     token};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  auto field = [](const std::string& out, const std::string& name) {
    auto at = out.find(name + ": ");
    if (at == std::string::npos) return std::string();
    at += name.size() + 2;
    return out.substr(at, out.find('\n', at) - at);
  };
  auto biz = cli(d.OperatorToken(), {"business", "create", "--name", "Toko Ibu Ani"});
  ASSERT_EQ(biz.exit_code, 0) << biz.err;
  std::string business_id = field(biz.out, "business_id"), key = field(biz.out, "api_key");
  auto reg = RunCommand({BIZRELAY_CLI_PATH, "--addr",
                         "127.0.0.1:" + std::to_string(d.public_port()), "register", "Siti"});
  std::string token = field(reg.out, "token");
  ASSERT_FALSE(token.empty()) << reg.out << reg.err;

  auto start = cli(token, {"start", business_id, "--yes"});
  EXPECT_EQ(start.exit_code, 0) << start.err;
  EXPECT_THAT(start.out, HasSubstr("hosted"));
  auto send = cli(token, {"send", business_id, "Halo, kue bolu masih ada?"});
  EXPECT_EQ(send.exit_code, 0) << send.err;
  auto inbox = cli(key, {"inbox", "--ack", "--count", "2"});
  EXPECT_EQ(inbox.exit_code, 0) << inbox.err;
  EXPECT_THAT(inbox.out, HasSubstr("Halo, kue bolu masih ada?"));
  std::string conversation = field(send.out, "conversation_id");
  auto reply = cli(key, {"reply", conversation, "Masih ada, kak!"});
  EXPECT_EQ(reply.exit_code, 0) << reply.err;
  auto listen = cli(token, {"listen", "--count", "2"});
  EXPECT_THAT(listen.out, HasSubstr("DELIVERED"));
  EXPECT_THAT(listen.out, HasSubstr("Masih ada, kak!"));
  auto refused = cli(key, {"reply", "00000000-0000-4000-8000-000000000000", "x"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace bizrelay::e2e

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/cli/commands.h"
#include "services/cli/credentials.h"
#include "services/cli/format.h"
#include "services/cli/invocation.h"
#include "services/cli/personal_client.h"
#include "services/cli/rpc_error.h"
#include "services/crypto/blind_rsa.h"
#include "services/crypto/sealed_box.h"
#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::cli {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

ParseResult Parse(std::vector<std::string> args, Environment env = {}) {
  return ParseCommandLine(args, env);
}

// Parses a command line that must be valid and returns its request of type T.
template <typename T>
T ParseAs(std::vector<std::string> args, Invocation* invocation = nullptr) {
  ParseResult r = Parse(std::move(args));
  EXPECT_EQ(r.outcome, ParseResult::Outcome::kOk) << r.message;
  EXPECT_TRUE(std::holds_alternative<T>(r.invocation.request));
  if (invocation != nullptr) *invocation = r.invocation;
  return std::holds_alternative<T>(r.invocation.request) ? std::get<T>(r.invocation.request) : T();
}

void ExpectUsageError(std::vector<std::string> args, const std::string& mentions) {
  ParseResult r = Parse(args);
  EXPECT_EQ(r.outcome, ParseResult::Outcome::kUsageError) << ::testing::PrintToString(args);
  EXPECT_THAT(r.message, HasSubstr(mentions)) << ::testing::PrintToString(args);
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bizrelay-cli-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& contents) {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// --- Parsing ---------------------------------------------------------------------------------

TEST(ParseTest, RegisterNeedsNoTokenAndUsesDefaults) {
  Invocation inv;
  auto r = ParseAs<v1::RegisterUserRequest>({"register", "Siti Aminah"}, &inv);
  EXPECT_EQ(r.display_name(), "Siti Aminah");
  EXPECT_FALSE(NeedsToken(inv.request));
  EXPECT_FALSE(UsesOperatorListener(inv.request));
  EXPECT_EQ(inv.connection.addr, "127.0.0.1:7000");
  EXPECT_EQ(inv.connection.operator_addr, "127.0.0.1:7002");
  EXPECT_FALSE(inv.json);
}

TEST(ParseTest, GlobalOptionsWorkBeforeAndAfterTheSubcommand) {
  Invocation before;
  ParseAs<v1::GetProfileRequest>({"--json", "--addr", "relay:1", "--token", "t1", "whoami"},
                                 &before);
  Invocation after;
  ParseAs<v1::GetProfileRequest>({"whoami", "--json", "--addr", "relay:1", "--token", "t1"},
                                 &after);
  for (const Invocation& inv : {before, after}) {
    EXPECT_TRUE(inv.json);
    EXPECT_EQ(inv.connection.addr, "relay:1");
    EXPECT_EQ(inv.connection.token, "t1");
  }
}

TEST(ParseTest, FlagsWinOverTheEnvironment) {
  Environment env = {{"BIZRELAY_ADDR", "env:1"},
                     {"BIZRELAY_OPERATOR_ADDR", "env:2"},
                     {"BIZRELAY_TOKEN", "env-token"}};
  ParseResult from_env = Parse({"whoami"}, env);
  ASSERT_EQ(from_env.outcome, ParseResult::Outcome::kOk) << from_env.message;
  EXPECT_EQ(from_env.invocation.connection.addr, "env:1");
  EXPECT_EQ(from_env.invocation.connection.operator_addr, "env:2");
  EXPECT_EQ(from_env.invocation.connection.token, "env-token");

  ParseResult flags = Parse({"whoami", "--addr", "flag:1", "--token", "flag-token"}, env);
  EXPECT_EQ(flags.invocation.connection.addr, "flag:1");
  EXPECT_EQ(flags.invocation.connection.token, "flag-token");

  TempDir dir;
  std::string file = dir.Write("token", "file-token\n");
  ParseResult token_file = Parse({"whoami", "--token-file", file}, env);
  ASSERT_EQ(token_file.outcome, ParseResult::Outcome::kOk) << token_file.message;
  EXPECT_EQ(token_file.invocation.connection.token, "");
  EXPECT_EQ(LoadToken(token_file.invocation.connection), "file-token");
}

TEST(ParseTest, OperatorCommandsGoToTheOperatorListener) {
  Invocation inv;
  auto create = ParseAs<v1::CreateBusinessRequest>(
      {"business", "create", "--name", "Toko Ibu", "--website", "https://toko.example"}, &inv);
  EXPECT_EQ(create.profile().display_name(), "Toko Ibu");
  EXPECT_EQ(create.profile().website(), "https://toko.example");
  EXPECT_EQ(create.profile().description(), "");
  EXPECT_TRUE(UsesOperatorListener(inv.request));
  EXPECT_TRUE(NeedsToken(inv.request));
  EXPECT_EQ(ParseAs<v1::RotateBusinessKeyRequest>({"business", "rotate-key", "b1"}).business_id(),
            "b1");
  EXPECT_EQ(ParseAs<v1::DisableBusinessRequest>({"business", "disable", "b2"}).business_id(), "b2");
  EXPECT_EQ(ParseAs<v1::GetBusinessRequest>({"business", "get", "b3"}).business_id(), "b3");
  ExpectUsageError({"business", "create"}, "--name");
  ExpectUsageError({"business"}, "business needs a subcommand: one of create, rotate-key");
  ExpectUsageError({"business", "frob"}, "frob");
}

TEST(ParseTest, UserCommandsFillTheirRequests) {
  EXPECT_EQ(ParseAs<v1::GetBusinessDisclosureRequest>({"disclosure", "b1"}).business_id(), "b1");
  Invocation inv;
  auto start = ParseAs<v1::StartChatRequest>({"start", "b1", "--yes"}, &inv);
  EXPECT_EQ(start.business_id(), "b1");
  EXPECT_TRUE(inv.assume_yes);
  ParseAs<v1::StartChatRequest>({"start", "b1"}, &inv);
  EXPECT_FALSE(inv.assume_yes);
  EXPECT_EQ(ParseAs<v1::BlockBusinessRequest>({"block", "b1"}).business_id(), "b1");
  EXPECT_EQ(ParseAs<v1::UnblockBusinessRequest>({"unblock", "b1"}).business_id(), "b1");
  EXPECT_EQ(ParseAs<v1::LeaveChatRequest>({"leave", "b1"}).business_id(), "b1");
  auto read = ParseAs<v1::MarkReadRequest>({"read", "c1", "m9"});
  EXPECT_EQ(read.conversation_id(), "c1");
  EXPECT_EQ(read.message_id(), "m9");
  ParseAs<v1::ListChatsRequest>({"chats"});
  ExpectUsageError({"block"}, "BUSINESS_ID");
  ExpectUsageError({"read", "c1"}, "MESSAGE_ID");
  ExpectUsageError({"frobnicate"}, "frobnicate");
  ExpectUsageError({}, "a command is required: one of register, whoami");
}

TEST(ParseTest, MediaCommandsCarryTheFileCaptionAndOffset) {
  auto send = ParseAs<SendFile>({"send", "b1", "caption", "--file", "/etc/hostname"});
  EXPECT_EQ(send.message.business_id(), "b1");
  EXPECT_EQ(send.message.text(), "caption");
  EXPECT_EQ(send.path, "/etc/hostname");
  EXPECT_TRUE(send.mime_type.empty());
  auto bare = ParseAs<SendFile>({"send", "b1", "--file", "/etc/hostname", "--type", "text/plain"});
  EXPECT_EQ(bare.message.text(), "");
  EXPECT_EQ(bare.mime_type, "text/plain");
  auto reply = ParseAs<ReplyFile>({"reply", "c1", "--file", "/etc/hostname"});
  EXPECT_EQ(reply.reply.conversation_id(), "c1");
  auto dl = ParseAs<DownloadFile>({"download", "m1", "--out", "f", "--offset", "42"});
  EXPECT_EQ(dl.media_id, "m1");
  EXPECT_EQ(dl.offset, 42);
  EXPECT_FALSE(dl.resume);
  EXPECT_FALSE(dl.as_business);
  auto resume = ParseAs<DownloadFile>({"download", "m1", "--out", "f", "--resume", "--business"});
  EXPECT_TRUE(resume.resume);
  EXPECT_TRUE(resume.as_business);
  ExpectUsageError({"download", "m1"}, "--out");
  ExpectUsageError({"download", "m1", "--out", "f", "--resume", "--offset", "3"}, "excludes");
  ExpectUsageError({"send", "b1", "x", "--file", "/nonexistent/file"}, "--file");
}

TEST(ParseTest, SendGeneratesAFreshKeyUnlessOneIsGiven) {
  Invocation inv;
  auto first = ParseAs<v1::SendMessageRequest>({"send", "b1", "hello there"}, &inv);
  EXPECT_EQ(first.business_id(), "b1");
  EXPECT_EQ(first.text(), "hello there");
  EXPECT_THAT(first.idempotency_key(), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_TRUE(inv.generated_key);
  auto second = ParseAs<v1::SendMessageRequest>({"send", "b1", "hello there"});
  EXPECT_NE(first.idempotency_key(), second.idempotency_key());

  auto retry = ParseAs<v1::SendMessageRequest>({"send", "b1", "hello", "--key", "k-1"}, &inv);
  EXPECT_EQ(retry.idempotency_key(), "k-1");
  EXPECT_FALSE(inv.generated_key);
  ExpectUsageError({"send", "b1"}, "TEXT");
  ExpectUsageError({"send", "b1", "two", "words"}, "words");
}

TEST(ParseTest, HistoryAndListingsTakePaging) {
  Invocation inv;
  auto history =
      ParseAs<v1::ListChatMessagesRequest>({"history", "c1", "--page-size", "20", "--all"}, &inv);
  EXPECT_EQ(history.conversation_id(), "c1");
  EXPECT_EQ(history.page_size(), 20);
  EXPECT_TRUE(inv.all_pages);
  auto messages = ParseAs<v1::ListMessagesRequest>({"messages", "c2", "--page-token", "p2"}, &inv);
  EXPECT_EQ(messages.conversation_id(), "c2");
  EXPECT_EQ(messages.page_token(), "p2");
  EXPECT_FALSE(inv.all_pages);
  EXPECT_EQ(
      ParseAs<v1::ListConversationsRequest>({"conversations", "--page-size", "5"}).page_size(), 5);
  ExpectUsageError({"history", "c1", "--page-size", "-1"}, "page-size");
  ExpectUsageError({"history", "c1", "--page-size", "many"}, "page-size");
}

TEST(ParseTest, StreamsTakeAfterAckAndCount) {
  Invocation inv;
  auto listen =
      ParseAs<v1::StreamEventsRequest>({"listen", "--after", "41", "--ack", "--count", "3"}, &inv);
  EXPECT_EQ(listen.after_position(), 41);
  EXPECT_TRUE(inv.ack);
  EXPECT_EQ(inv.max_events, 3);
  ParseAs<v1::StreamInboxRequest>({"inbox"}, &inv);
  EXPECT_FALSE(inv.ack);
  EXPECT_EQ(inv.max_events, 0);
  ExpectUsageError({"listen", "--count", "0"}, "count");
  ExpectUsageError({"inbox", "--after", "-5"}, "after");
}

TEST(ParseTest, BusinessCommandsFillTheirRequests) {
  Invocation inv;
  auto reply = ParseAs<v1::SendReplyRequest>({"reply", "c1", "Your order shipped"}, &inv);
  EXPECT_EQ(reply.conversation_id(), "c1");
  EXPECT_EQ(reply.text(), "Your order shipped");
  EXPECT_EQ(reply.template_name(), "");
  EXPECT_THAT(reply.idempotency_key(), MatchesRegex("[0-9a-f]{32}"));

  auto create = ParseAs<v1::CreateTemplateRequest>(
      {"template", "create", "order_ready", "Order {{order}} is ready"});
  EXPECT_EQ(create.name(), "order_ready");
  EXPECT_EQ(create.body(), "Order {{order}} is ready");
  ParseAs<v1::ListTemplatesRequest>({"template", "list"});
  ExpectUsageError({"template"}, "subcommand");

  auto hook = ParseAs<v1::CreateWebhookEndpointRequest>(
      {"webhook", "add", "https://crm.example/hook", "--kinds", "message,notice", "--disabled"});
  EXPECT_EQ(hook.url(), "https://crm.example/hook");
  EXPECT_THAT(hook.event_kinds(), ::testing::ElementsAre(v1::WEBHOOK_EVENT_KIND_MESSAGE,
                                                         v1::WEBHOOK_EVENT_KIND_NOTICE));
  EXPECT_TRUE(hook.disabled());
  ExpectUsageError({"webhook", "add", "https://crm.example/hook", "--kinds", "everything"},
                   "--kinds");
  ParseAs<v1::ListWebhookEndpointsRequest>({"webhook", "list"});
  auto rotate = ParseAs<v1::UpdateWebhookEndpointRequest>(
      {"webhook", "update", "e1", "--rotate-secret", "--enable"});
  EXPECT_EQ(rotate.endpoint_id(), "e1");
  EXPECT_TRUE(rotate.rotate_secret());
  EXPECT_TRUE(rotate.has_enabled() && rotate.enabled());
  EXPECT_FALSE(rotate.has_url());
  EXPECT_FALSE(rotate.has_event_kinds());
  auto disable =
      ParseAs<v1::UpdateWebhookEndpointRequest>({"webhook", "update", "e1", "--disable"});
  EXPECT_TRUE(disable.has_enabled() && !disable.enabled());
  ExpectUsageError({"webhook", "update", "e1"}, "--url");
  ExpectUsageError({"webhook", "update", "e1", "--enable", "--disable"}, "--enable");
  EXPECT_EQ(ParseAs<v1::DeleteWebhookEndpointRequest>({"webhook", "remove", "e1"}).endpoint_id(),
            "e1");
  EXPECT_EQ(ParseAs<v1::TestWebhookEndpointRequest>({"webhook", "test", "e1"}).endpoint_id(), "e1");

  auto read = ParseAs<v1::MarkMessagesReadRequest>({"business-read", "c1", "m2"});
  EXPECT_EQ(read.conversation_id(), "c1");
  EXPECT_EQ(read.message_id(), "m2");

  auto update = ParseAs<v1::UpdateProfileRequest>(
      {"profile", "update", "--data-use", "We keep orders for tax purposes."});
  EXPECT_EQ(update.data_use_statement(), "We keep orders for tax purposes.");
  EXPECT_EQ(update.display_name(), "");
  ExpectUsageError({"profile", "update"}, "at least one");
}

TEST(ParseTest, TemplateSendCarriesNamedParameters) {
  Invocation inv;
  auto send = ParseAs<v1::SendReplyRequest>(
      {"template", "send", "--param", "order=A-17", "c1", "order_ready", "--param", "eta=a=b",
       "--param", "note=", "--key", "k9"},
      &inv);
  EXPECT_EQ(send.conversation_id(), "c1");
  EXPECT_EQ(send.template_name(), "order_ready");
  EXPECT_EQ(send.text(), "");
  EXPECT_EQ(send.idempotency_key(), "k9");
  EXPECT_FALSE(inv.generated_key);
  std::map<std::string, std::string> params(send.template_parameters().begin(),
                                            send.template_parameters().end());
  EXPECT_THAT(params, ElementsAre(Pair("eta", "a=b"), Pair("note", ""), Pair("order", "A-17")));
  ExpectUsageError({"template", "send", "c1", "t", "--param", "order"}, "name=value");
  ExpectUsageError({"template", "send", "c1", "t", "--param", "a=1", "--param", "a=2"},
                   "more than once");
}

TEST(ParseTest, ParseTemplateParameters) {
  EXPECT_THAT(ParseTemplateParameters({"a=1", "b=x=y", "c="}),
              ElementsAre(Pair("a", "1"), Pair("b", "x=y"), Pair("c", "")));
  EXPECT_TRUE(ParseTemplateParameters({}).empty());
  EXPECT_THROW(ParseTemplateParameters({"novalue"}), UsageError);
  EXPECT_THROW(ParseTemplateParameters({"=1"}), UsageError);
  EXPECT_THROW(ParseTemplateParameters({"a=1", "a=1"}), UsageError);
}

TEST(ParseTest, RichMessages) {
  auto loc = ParseAs<v1::SendMessageRequest>({"location", "b1", "--lat", "-6.175", "--lng",
                                              "106.827", "--name", "Monas", "--reply-to", "m0"});
  EXPECT_EQ(loc.business_id(), "b1");
  EXPECT_DOUBLE_EQ(loc.content().location().latitude(), -6.175);
  EXPECT_DOUBLE_EQ(loc.content().location().longitude(), 106.827);
  EXPECT_EQ(loc.content().location().name(), "Monas");
  EXPECT_EQ(loc.reply_to_message_id(), "m0");
  ExpectUsageError({"location", "b1", "--lat", "1"}, "--lng");

  auto card = ParseAs<v1::SendMessageRequest>(
      {"contact", "b1", "Ibu Ani", "--phone", "+62 21 555", "--email", "a@b.example"});
  EXPECT_EQ(card.content().contacts().cards(0).name(), "Ibu Ani");
  EXPECT_EQ(card.content().contacts().cards(0).phones(0).number(), "+62 21 555");
  EXPECT_EQ(card.content().contacts().cards(0).emails(0).address(), "a@b.example");

  auto choice = ParseAs<v1::SendMessageRequest>({"choose", "b1", "m1", "yes"});
  EXPECT_EQ(choice.content().interactive_reply().message_id(), "m1");
  EXPECT_EQ(choice.content().interactive_reply().reply_id(), "yes");
  EXPECT_EQ(ParseAs<v1::SendMessageRequest>({"send", "b1", "ok", "--reply-to", "m1"})
                .reply_to_message_id(),
            "m1");

  auto react = ParseAs<v1::ReactToChatMessageRequest>({"react", "c1", "m1", "👍"});
  EXPECT_EQ(react.emoji(), "👍");
  EXPECT_EQ(ParseAs<v1::ReactToChatMessageRequest>({"react", "c1", "m1"}).emoji(), "");
  EXPECT_EQ(ParseAs<v1::ReactToMessageRequest>({"business-react", "c1", "m1", "🙏"}).emoji(), "🙏");

  auto buttons = ParseAs<v1::SendReplyRequest>(
      {"buttons", "c1", "Pesan?", "--button", "yes=Ya", "--button", "no=Tidak", "--to", "m0"});
  ASSERT_EQ(buttons.content().interactive().buttons().buttons_size(), 2);
  EXPECT_EQ(buttons.content().interactive().buttons().buttons(1).title(), "Tidak");
  EXPECT_EQ(buttons.content().interactive().body(), "Pesan?");
  EXPECT_EQ(buttons.reply_to_message_id(), "m0");
  ExpectUsageError({"buttons", "c1", "Pesan?", "--button", "yes"}, "ID=TITLE");
  ExpectUsageError({"buttons", "c1", "Pesan?"}, "--button");

  auto list = ParseAs<v1::SendReplyRequest>(
      {"list", "c1", "Menu", "--button-text", "Lihat", "--row", "Kue|bolu|Kue bolu|Rp 50.000",
       "--row", "Roti|tawar|Roti tawar", "--row", "Kue|lapis|Kue lapis"});
  const auto& menu = list.content().interactive().list();
  EXPECT_EQ(menu.button_text(), "Lihat");
  ASSERT_EQ(menu.sections_size(), 2);
  EXPECT_EQ(menu.sections(0).title(), "Kue");
  ASSERT_EQ(menu.sections(0).rows_size(), 2);
  EXPECT_EQ(menu.sections(0).rows(1).id(), "lapis");
  EXPECT_EQ(menu.sections(0).rows(0).description(), "Rp 50.000");
  EXPECT_EQ(menu.sections(1).rows(0).title(), "Roti tawar");
  ExpectUsageError({"list", "c1", "Menu", "--button-text", "L", "--row", "Kue|bolu"},
                   "SECTION|ID|TITLE");

  auto tmpl = ParseAs<v1::CreateTemplateRequest>(
      {"template", "create", "t", "Siap?", "--button", "a=Ambil", "--button", "b=Kirim"});
  ASSERT_EQ(tmpl.quick_replies_size(), 2);
  EXPECT_EQ(tmpl.quick_replies(0).id(), "a");
  auto loc_biz = ParseAs<v1::SendReplyRequest>(
      {"business-location", "c1", "--lat", "-6.2", "--lng", "106.8", "--to", "m2"});
  EXPECT_DOUBLE_EQ(loc_biz.content().location().latitude(), -6.2);
  EXPECT_EQ(loc_biz.reply_to_message_id(), "m2");
  auto card_biz =
      ParseAs<v1::SendReplyRequest>({"business-contact", "c1", "Kurir", "--email", "k@t.example"});
  EXPECT_EQ(card_biz.content().contacts().cards(0).emails(0).address(), "k@t.example");
  EXPECT_EQ(
      ParseAs<v1::SendReplyRequest>({"reply", "c1", "ok", "--to", "m3"}).reply_to_message_id(),
      "m3");
}

TEST(ParseTest, TlsOptions) {
  TempDir dir;
  std::string ca = dir.Write("ca.pem", "ca");
  std::string cert = dir.Write("cert.pem", "cert");
  std::string key = dir.Write("key.pem", "key");
  Invocation inv;
  ParseAs<v1::GetProfileRequest>(
      {"whoami", "--ca-file", ca, "--cert-file", cert, "--key-file", key}, &inv);
  EXPECT_EQ(inv.connection.ca_file, ca);
  EXPECT_EQ(inv.connection.cert_file, cert);
  EXPECT_EQ(inv.connection.key_file, key);
  ParseAs<v1::GetProfileRequest>({"whoami", "--plaintext"}, &inv);
  EXPECT_EQ(inv.connection.ca_file, "");
  ExpectUsageError({"whoami", "--plaintext", "--ca-file", ca}, "plaintext");
  ExpectUsageError({"whoami", "--cert-file", cert, "--key-file", key}, "ca-file");
  ExpectUsageError({"whoami", "--ca-file", ca, "--cert-file", cert}, "key-file");
  ExpectUsageError({"whoami", "--ca-file", dir.Write("x", "") + ".missing"}, "ca-file");
  ExpectUsageError({"whoami", "--token", "t", "--token-file", ca}, "token");
}

TEST(ParseTest, HelpIsNotAnError) {
  ParseResult top = Parse({"--help"});
  EXPECT_EQ(top.outcome, ParseResult::Outcome::kHelp);
  EXPECT_THAT(top.message, AllOf(HasSubstr("send"), HasSubstr("inbox"), HasSubstr("business"),
                                 HasSubstr("--operator-addr")));
  ParseResult send = Parse({"send", "--help"});
  EXPECT_EQ(send.outcome, ParseResult::Outcome::kHelp);
  EXPECT_THAT(send.message, HasSubstr("--key"));
}

TEST(ParseTest, IsYes) {
  EXPECT_TRUE(IsYes("y"));
  EXPECT_TRUE(IsYes(" YES \n"));
  EXPECT_FALSE(IsYes(""));
  EXPECT_FALSE(IsYes("n"));
  EXPECT_FALSE(IsYes("yes please"));
}

// --- Credentials -----------------------------------------------------------------------------

TEST(CredentialsTest, TokenFromFlagOrFile) {
  TempDir dir;
  ConnectionOptions flag;
  flag.token = "bru_abc";
  EXPECT_EQ(LoadToken(flag), "bru_abc");
  ConnectionOptions file;
  file.token_file = dir.Write("token", "  brb_key-123_X\r\n\n");
  EXPECT_EQ(LoadToken(file), "brb_key-123_X");
}

TEST(CredentialsTest, BadTokensAreUsageErrorsThatDoNotEchoTheToken) {
  TempDir dir;
  ConnectionOptions none;
  EXPECT_THROW(LoadToken(none), UsageError);

  ConnectionOptions empty;
  empty.token_file = dir.Write("empty", "\n");
  EXPECT_THROW(LoadToken(empty), UsageError);

  ConnectionOptions missing;
  missing.token_file = dir.Write("x", "") + ".missing";
  EXPECT_THROW(LoadToken(missing), UsageError);

  ConnectionOptions two_lines;
  two_lines.token_file = dir.Write("two", "bru_secretpart\nbru_othersecret\n");
  try {
    LoadToken(two_lines);
    ADD_FAILURE() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(two_lines.token_file), Not(HasSubstr("secret"))));
  }
  ConnectionOptions control;
  control.token = "bru_x\x01secret";
  try {
    LoadToken(control);
    ADD_FAILURE() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), Not(HasSubstr("secret")));
  }
}

TEST(CredentialsTest, ChannelCredentials) {
  TempDir dir;
  ConnectionOptions plain;
  EXPECT_NE(MakeChannelCredentials(plain), nullptr);
  ConnectionOptions tls;
  tls.ca_file = dir.Write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  EXPECT_NE(MakeChannelCredentials(tls), nullptr);
  tls.cert_file = dir.Write("cert.pem", "cert");
  EXPECT_THROW(MakeChannelCredentials(tls), UsageError);  // no key
  ConnectionOptions missing_ca;
  missing_ca.ca_file = dir.Write("x", "") + ".missing";
  EXPECT_THROW(MakeChannelCredentials(missing_ca), UsageError);
}

// --- Output ----------------------------------------------------------------------------------

grpc::Status StatusWithReason(grpc::StatusCode code, const std::string& message,
                              const std::string& reason) {
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain("bizrelay.dev");
  details.add_details()->PackFrom(info);
  return grpc::Status(code, message, details.SerializeAsString());
}

TEST(FormatTest, Printable) {
  EXPECT_EQ(Printable("plain text"), "plain text");
  EXPECT_EQ(Printable("caf\xc3\xa9 \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(Printable("two\nlines\ttab\r"), "two\\nlines\\ttab\\r");
  EXPECT_EQ(Printable("two\nlines", /*keep_newlines=*/true), "two\nlines");
  EXPECT_EQ(Printable("\x1b[2Jred\x7f"), "\\x1b[2Jred\\x7f");
  EXPECT_EQ(Printable("c1 \xc2\x9b"
                      "31m"),
            "c1 \\u009b31m");
  EXPECT_EQ(Printable("nbsp\xc2\xa0"), "nbsp\xc2\xa0");
}

TEST(FormatTest, ErrorsShowCodeReasonAndMessage) {
  EXPECT_EQ(FormatError(StatusWithReason(grpc::StatusCode::FAILED_PRECONDITION,
                                         "the 24-hour window is closed", "OUTSIDE_SERVICE_WINDOW")),
            "error: FAILED_PRECONDITION OUTSIDE_SERVICE_WINDOW: the 24-hour window is closed\n");
  EXPECT_EQ(FormatError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect")),
            "error: UNAVAILABLE: failed to connect\n");
  EXPECT_EQ(FormatError(grpc::Status(grpc::StatusCode::INTERNAL, "x", "not a proto \xff")),
            "error: INTERNAL: x\n");
  EXPECT_EQ(ErrorReason(StatusWithReason(grpc::StatusCode::NOT_FOUND, "m", "NOT_FOUND")),
            "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
}

TEST(FormatTest, JsonIsOneLineWithEveryField) {
  v1::SendMessageResponse r;
  r.mutable_message()->set_message_id("m1");
  r.mutable_message()->set_text("hi\nthere");
  r.mutable_message()->set_status(v1::MESSAGE_STATUS_SENT);
  std::string json = ToJson(r);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_THAT(json, AllOf(HasSubstr(R"("messageId":"m1")"), HasSubstr(R"("replayed":false)"),
                          HasSubstr(R"("status":"MESSAGE_STATUS_SENT")"),
                          HasSubstr(R"("text":"hi\nthere")")));
}

TEST(FormatTest, EventsAreOneLineEach) {
  v1::StreamEventsResponse message;
  message.set_position(7);
  message.mutable_message()->set_conversation_id("c1");
  message.mutable_message()->set_message_id("m1");
  message.mutable_message()->set_text("Hello\nworld");
  EXPECT_EQ(FormatEvent(message), "7 message c1 m1 Hello\\nworld\n");

  v1::StreamEventsResponse status;
  status.set_position(8);
  status.mutable_status_change()->set_conversation_id("c1");
  status.mutable_status_change()->set_message_id("m0");
  status.mutable_status_change()->set_status(v1::MESSAGE_STATUS_READ);
  EXPECT_EQ(FormatEvent(status), "8 status c1 m0 READ\n");

  v1::StreamInboxResponse notice;
  notice.set_position(9);
  notice.mutable_notice()->set_conversation_id("c2");
  notice.mutable_notice()->set_kind(v1::ChatNotice::KIND_TERMS_CHANGED);
  notice.mutable_notice()->mutable_disclosure()->set_version(4);
  EXPECT_EQ(FormatEvent(notice), "9 notice c2 TERMS_CHANGED version 4\n");
  notice.mutable_notice()->set_kind(v1::ChatNotice::KIND_CHAT_LEFT);
  notice.mutable_notice()->clear_disclosure();
  EXPECT_EQ(FormatEvent(notice), "9 notice c2 CHAT_LEFT\n");
}

TEST(FormatTest, MessagesAndListings) {
  google::protobuf::RepeatedPtrField<v1::HostedMessage> messages;
  v1::HostedMessage* m = messages.Add();
  m->set_message_id("m1");
  m->set_direction(v1::MESSAGE_DIRECTION_BUSINESS_TO_USER);
  m->set_status(v1::MESSAGE_STATUS_DELIVERED);
  m->set_text("Order A-17 is ready");
  m->mutable_create_time()->set_seconds(1700000000);
  m->mutable_create_time()->set_nanos(123);
  EXPECT_EQ(FormatMessages(messages),
            "2023-11-14T22:13:20Z  m1  business  DELIVERED  Order A-17 is ready\n");

  v1::ListChatsResponse chats;
  v1::UserChat* c = chats.add_chats();
  c->set_conversation_id("c1");
  c->set_business_id("b1");
  c->set_business_display_name("Toko Ibu");
  c->set_state(v1::CHAT_STATE_BLOCKED);
  EXPECT_EQ(FormatChats(chats), "c1  b1  BLOCKED  Toko Ibu\n");

  v1::ListConversationsResponse convs;
  v1::BusinessConversation* bc = convs.add_conversations();
  bc->set_conversation_id("c1");
  bc->set_user_id("u1");
  bc->set_state(v1::CHAT_STATE_OPEN);
  bc->set_service_window_open(true);
  EXPECT_EQ(FormatConversations(convs), "c1  u1  OPEN  window-open\n");

  google::protobuf::RepeatedPtrField<v1::Template> templates;
  v1::Template* t = templates.Add();
  t->set_name("order_ready");
  t->set_body("Order {{order}} ready at {{time}}");
  t->add_parameters("order");
  t->add_parameters("time");
  EXPECT_EQ(FormatTemplates(templates),
            "order_ready  (order,time)  Order {{order}} ready at {{time}}\n");
}

TEST(FormatTest, SentShowsTheKeyOnlyWhenAsked) {
  v1::HostedMessage m;
  m.set_message_id("m1");
  m.set_conversation_id("c1");
  m.set_status(v1::MESSAGE_STATUS_SENT);
  EXPECT_EQ(FormatSent(m, false, ""), "message_id: m1\nconversation_id: c1\nstatus: SENT\n");
  EXPECT_THAT(FormatSent(m, true, "abc"),
              AllOf(HasSubstr("replayed: true"), HasSubstr("idempotency_key: abc\n")));
}

TEST(FormatTest, DisclosureShowsSummaryAndTerms) {
  v1::GetBusinessDisclosureResponse d;
  d.set_business_id("b1");
  d.set_display_name("Toko Ibu");
  d.set_website("https://toko.example");
  d.mutable_disclosure()->set_version(3);
  d.mutable_disclosure()->set_hosted(true);
  d.mutable_disclosure()->set_retention_days(30);
  d.mutable_disclosure()->set_data_use_statement("Orders only.");
  d.mutable_disclosure()->set_summary("Chats are stored by the relay.\nKept 30 days.");
  std::string out = FormatDisclosure(d);
  EXPECT_THAT(out, AllOf(StartsWith("Toko Ibu (business b1)\n"),
                         HasSubstr("Chats are stored by the relay.\nKept 30 days.\n"),
                         HasSubstr("disclosure version 3"), HasSubstr("hosted by this relay: yes"),
                         HasSubstr("kept for: 30 days"), HasSubstr("data use: Orders only.")));
}

TEST(FormatTest, OnlyIssuingCommandsShowSecrets) {
  v1::RegisterUserResponse reg;
  reg.mutable_profile()->set_user_id("u1");
  reg.set_token("bru_T");
  EXPECT_EQ(FormatRegistered(reg), "user_id: u1\ntoken: bru_T\n");
  v1::CreateBusinessResponse created;
  created.mutable_business()->set_business_id("b1");
  created.set_api_key("brb_K");
  EXPECT_EQ(FormatCreatedBusiness(created), "business_id: b1\napi_key: brb_K\n");
}

// --- Commands against an in-process fake relay ----------------------------------------------

// Answers like the relay would, recording what the client sent.
class FakeUserChat final : public v1::UserChatService::Service {
 public:
  grpc::Status GetBusinessDisclosure(grpc::ServerContext* ctx,
                                     const v1::GetBusinessDisclosureRequest* req,
                                     v1::GetBusinessDisclosureResponse* resp) override {
    Record(ctx, "GetBusinessDisclosure");
    resp->set_business_id(req->business_id());
    resp->set_display_name("Toko Ibu");
    resp->mutable_disclosure()->set_version(7);
    resp->mutable_disclosure()->set_hosted(true);
    resp->mutable_disclosure()->set_retention_days(30);
    resp->mutable_disclosure()->set_summary("Chats with Toko Ibu are stored by this relay.");
    return grpc::Status::OK;
  }

  grpc::Status StartChat(grpc::ServerContext* ctx, const v1::StartChatRequest* req,
                         v1::StartChatResponse* resp) override {
    Record(ctx, "StartChat");
    std::lock_guard lock(mu_);
    consented_version_ = req->disclosure_version();
    if (req->disclosure_version() != current_version_) {
      return StatusWithReason(grpc::StatusCode::FAILED_PRECONDITION, "the terms changed",
                              "DISCLOSURE_CHANGED");
    }
    resp->set_conversation_id("c-" + req->business_id());
    resp->set_state(v1::CHAT_STATE_OPEN);
    return grpc::Status::OK;
  }

  grpc::Status SendMessage(grpc::ServerContext* ctx, const v1::SendMessageRequest* req,
                           v1::SendMessageResponse* resp) override {
    Record(ctx, "SendMessage");
    if (req->text() == "fail") {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "took too long");
    }
    if (req->text().empty()) {
      return StatusWithReason(grpc::StatusCode::INVALID_ARGUMENT, "text is empty", "INVALID_FIELD");
    }
    resp->mutable_message()->set_message_id("m-" + req->idempotency_key());
    resp->mutable_message()->set_conversation_id("c1");
    resp->mutable_message()->set_status(v1::MESSAGE_STATUS_SENT);
    return grpc::Status::OK;
  }

  grpc::Status ListChatMessages(grpc::ServerContext* ctx, const v1::ListChatMessagesRequest* req,
                                v1::ListChatMessagesResponse* resp) override {
    Record(ctx, "ListChatMessages");
    v1::HostedMessage* m = resp->add_messages();
    m->set_direction(v1::MESSAGE_DIRECTION_USER_TO_BUSINESS);
    m->set_status(v1::MESSAGE_STATUS_READ);
    if (req->page_token().empty()) {
      m->set_message_id("m1");
      m->set_text("first page");
      resp->set_next_page_token("p2");
    } else {
      m->set_message_id("m2");
      m->set_text("second page");
    }
    return grpc::Status::OK;
  }

  // Sends events 1..3, then holds the stream open until the client goes away.
  grpc::Status StreamEvents(grpc::ServerContext* ctx, const v1::StreamEventsRequest* req,
                            grpc::ServerWriter<v1::StreamEventsResponse>* writer) override {
    Record(ctx, "StreamEvents");
    for (int64_t p = req->after_position() + 1; p <= 3; ++p) {
      v1::StreamEventsResponse e;
      e.set_position(p);
      e.mutable_message()->set_conversation_id("c1");
      e.mutable_message()->set_message_id("m" + std::to_string(p));
      e.mutable_message()->set_text("event " + std::to_string(p));
      writer->Write(e);
    }
    while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return grpc::Status::CANCELLED;
  }

  grpc::Status AcknowledgeEvents(grpc::ServerContext* ctx, const v1::AcknowledgeEventsRequest* req,
                                 v1::AcknowledgeEventsResponse* resp) override {
    Record(ctx, "AcknowledgeEvents");
    std::lock_guard lock(mu_);
    acks_.push_back(req->position());
    resp->set_acknowledged_position(req->position());
    return grpc::Status::OK;
  }

  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::string> authorizations() {
    std::lock_guard lock(mu_);
    return authorizations_;
  }
  std::vector<int64_t> acks() {
    std::lock_guard lock(mu_);
    return acks_;
  }
  int64_t consented_version() {
    std::lock_guard lock(mu_);
    return consented_version_;
  }
  void set_current_version(int64_t v) {
    std::lock_guard lock(mu_);
    current_version_ = v;
  }

 private:
  void Record(grpc::ServerContext* ctx, const std::string& method) {
    std::lock_guard lock(mu_);
    calls_.push_back(method);
    auto it = ctx->client_metadata().find("authorization");
    authorizations_.push_back(it == ctx->client_metadata().end()
                                  ? ""
                                  : std::string(it->second.data(), it->second.size()));
  }

  std::mutex mu_;
  std::vector<std::string> calls_;           // guarded by mu_
  std::vector<std::string> authorizations_;  // guarded by mu_
  std::vector<int64_t> acks_;                // guarded by mu_
  int64_t consented_version_ = 0;            // guarded by mu_
  int64_t current_version_ = 7;              // guarded by mu_
};

class CommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  struct Outcome {
    int exit_code;
    std::string out;
    std::string err;
  };

  Outcome RunCli(std::vector<std::string> args, const std::string& input = "",
                 bool interactive = false) {
    args.insert(args.begin(), {"--addr", "127.0.0.1:" + std::to_string(port_)});
    ParseResult parsed = ParseCommandLine(args, {{"BIZRELAY_TOKEN", "bru_test"}});
    EXPECT_EQ(parsed.outcome, ParseResult::Outcome::kOk) << parsed.message;
    std::ostringstream out, err;
    std::istringstream in(input);
    Io io{.out = out, .err = err, .in = in, .interactive = interactive};
    int code = cli::Run(parsed.invocation, io);
    return {code, out.str(), err.str()};
  }

  FakeUserChat fake_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(CommandTest, StartNeedsYesWhenNotInteractive) {
  Outcome r = RunCli({"start", "b1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--yes"));
  EXPECT_TRUE(fake_.calls().empty());
}

TEST_F(CommandTest, StartShowsTermsAndAsks) {
  Outcome declined = RunCli({"start", "b1"}, "n\n", /*interactive=*/true);
  EXPECT_EQ(declined.exit_code, 1);
  EXPECT_THAT(declined.out, HasSubstr("Chats with Toko Ibu are stored by this relay."));
  EXPECT_THAT(declined.err, AllOf(HasSubstr("[y/N]"), HasSubstr("not started")));
  EXPECT_THAT(fake_.calls(), ElementsAre("GetBusinessDisclosure"));

  Outcome accepted = RunCli({"start", "b1"}, "y\n", /*interactive=*/true);
  EXPECT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_THAT(accepted.out, AllOf(HasSubstr("kept for: 30 days"),
                                  HasSubstr("conversation_id: c-b1\nstate: OPEN\n")));
  EXPECT_EQ(fake_.consented_version(), 7);
}

TEST_F(CommandTest, StartWithYesReportsChangedTerms) {
  fake_.set_current_version(8);
  Outcome r = RunCli({"start", "b1", "--yes"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: FAILED_PRECONDITION DISCLOSURE_CHANGED: the terms changed\n");
  EXPECT_EQ(fake_.consented_version(), 7);
}

TEST_F(CommandTest, SendAuthenticatesAndShowsTheGeneratedKey) {
  Outcome r = RunCli({"send", "b1", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, MatchesRegex("(.|\n)*idempotency_key: [0-9a-f]{32}\n"));
  EXPECT_THAT(fake_.authorizations(), ElementsAre("Bearer bru_test"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("bru_test")));

  Outcome given = RunCli({"send", "b1", "hello", "--key", "k1"});
  EXPECT_THAT(given.out, AllOf(HasSubstr("message_id: m-k1"), Not(HasSubstr("idempotency_key"))));
}

TEST_F(CommandTest, FailedSendTellsHowToRetry) {
  Outcome r = RunCli({"send", "b1", "fail"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, MatchesRegex("error: DEADLINE_EXCEEDED: took too long\n"
                                  "to retry .*: --key [0-9a-f]{32}\n"));
  // A refusal stored nothing: a fresh key is as good as the old one.
  Outcome refused = RunCli({"send", "b1", ""});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err, "error: INVALID_ARGUMENT INVALID_FIELD: text is empty\n");
}

TEST_F(CommandTest, HistoryAllFollowsPages) {
  Outcome human = RunCli({"history", "c1", "--all"});
  EXPECT_EQ(human.exit_code, 0) << human.err;
  EXPECT_THAT(human.out, AllOf(HasSubstr("m1  user  READ  first page\n"),
                               HasSubstr("m2  user  READ  second page\n")));

  Outcome json = RunCli({"history", "c1", "--all", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(std::count(json.out.begin(), json.out.end(), '\n'), 1);
  EXPECT_THAT(json.out, AllOf(HasSubstr("first page"), HasSubstr("second page"),
                              HasSubstr(R"("nextPageToken":"")")));

  Outcome one = RunCli({"history", "c1"});
  EXPECT_THAT(one.out, Not(HasSubstr("second page")));
  EXPECT_THAT(one.err, HasSubstr("--page-token p2"));
}

TEST_F(CommandTest, ListenStopsAfterCountAndAcknowledgesWhatItPrinted) {
  Outcome r = RunCli({"listen", "--ack", "--count", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 message c1 m1 event 1\n2 message c1 m2 event 2\n");
  EXPECT_THAT(fake_.acks(), ElementsAre(1, 2));

  Outcome json = RunCli({"listen", "--after", "2", "--count", "1", "--json"});
  EXPECT_THAT(json.out, AllOf(StartsWith("{"), HasSubstr(R"("position":"3")")));
  EXPECT_THAT(fake_.acks(), ElementsAre(1, 2));
}

TEST_F(CommandTest, MissingTokenIsAUsageError) {
  ParseResult parsed = ParseCommandLine({"whoami"}, {});
  std::ostringstream out, err;
  std::istringstream in;
  Io io{.out = out, .err = err, .in = in};
  EXPECT_EQ(cli::Run(parsed.invocation, io), 2);
  EXPECT_THAT(err.str(), HasSubstr("needs a token"));
}

TEST(RunTest, UnreachableRelayIsUnavailable) {
  // A port nothing listens on: bound, then closed.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);
  close(fd);
  ParseResult parsed =
      ParseCommandLine({"--addr", "127.0.0.1:" + std::to_string(port), "register", "x"}, {});
  std::ostringstream out, err;
  std::istringstream in;
  Io io{.out = out, .err = err, .in = in};
  EXPECT_EQ(cli::Run(parsed.invocation, io), 1);
  EXPECT_THAT(err.str(), StartsWith("error: UNAVAILABLE"));
  EXPECT_EQ(out.str(), "");
}

// --- Personal: parsing ------------------------------------------------------------------------

// Parses a personal command line with HOME set.
ParseResult ParsePersonal(std::vector<std::string> args, Environment env = {}) {
  env.emplace("HOME", "/home/siti");
  return ParseCommandLine(args, env);
}

template <typename T>
T ParsePersonalAs(std::vector<std::string> args, Invocation* invocation = nullptr) {
  ParseResult r = ParsePersonal(std::move(args));
  EXPECT_EQ(r.outcome, ParseResult::Outcome::kOk) << r.message;
  EXPECT_TRUE(std::holds_alternative<T>(r.invocation.request));
  if (invocation != nullptr) *invocation = r.invocation;
  return std::holds_alternative<T>(r.invocation.request) ? std::get<T>(r.invocation.request) : T();
}

const ContactCard kCard{"0b8f0c1e-5a8d-4c1e-9a57-3c1f2e0d9b11", std::string(32, '\x07')};

TEST(PersonalParseTest, InitUsesTheUserTokenAndTheDefaultKeyStore) {
  Invocation inv;
  EXPECT_EQ(ParsePersonalAs<PersonalInit>({"personal", "init"}, &inv).tokens, 20);
  EXPECT_EQ(inv.keys_dir, "/home/siti/.bizrelay/personal");
  EXPECT_EQ(inv.connection.personal_addr, "127.0.0.1:7001");
  EXPECT_TRUE(IsPersonal(inv.request));
  EXPECT_TRUE(NeedsToken(inv.request));
  EXPECT_FALSE(UsesOperatorListener(inv.request));
  EXPECT_EQ(ParsePersonalAs<PersonalInit>({"personal", "init", "--tokens", "50"}).tokens, 50);
  ExpectUsageError({"personal", "init", "--tokens", "0"}, "tokens");
  ExpectUsageError({"personal"}, "personal needs a subcommand: one of init, tokens, refill");
}

TEST(PersonalParseTest, OnlyInitAndTokensNeedTheUserToken) {
  Invocation inv;
  EXPECT_EQ(ParsePersonalAs<PersonalTokens>({"personal", "tokens", "--count", "7"}, &inv).count, 7);
  EXPECT_TRUE(NeedsToken(inv.request));
  EXPECT_EQ(ParsePersonalAs<PersonalTokens>({"personal", "tokens"}).count, 20);
  ParsePersonalAs<PersonalRefill>({"personal", "refill"}, &inv);
  EXPECT_FALSE(NeedsToken(inv.request));
  auto send = ParsePersonalAs<PersonalSend>(
      {"personal", "send", FormatContactCard(kCard), "apa kabar?"}, &inv);
  EXPECT_EQ(send.contact, kCard);
  EXPECT_EQ(send.text, "apa kabar?");
  EXPECT_FALSE(NeedsToken(inv.request));
  auto listen =
      ParsePersonalAs<PersonalListen>({"personal", "listen", "--after", "3", "--count", "2"}, &inv);
  EXPECT_EQ(listen.after_sequence, 3);
  EXPECT_EQ(inv.max_events, 2);
  EXPECT_FALSE(NeedsToken(inv.request));
  ExpectUsageError({"personal", "send", FormatContactCard(kCard)}, "TEXT");
  ExpectUsageError({"personal", "listen", "--count", "0"}, "count");
}

TEST(PersonalParseTest, KeysDirAndPersonalAddr) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"personal", "--keys-dir", "/k", "refill", "--personal-addr", "p:1"},
           {"--personal-addr", "p:1", "personal", "refill", "--keys-dir", "/k"}}) {
    Invocation inv;
    ParsePersonalAs<PersonalRefill>(args, &inv);
    EXPECT_EQ(inv.keys_dir, "/k");
    EXPECT_EQ(inv.connection.personal_addr, "p:1");
  }
  ParseResult env = ParsePersonal({"personal", "refill"}, {{"BIZRELAY_PERSONAL_ADDR", "env:1"}});
  EXPECT_EQ(env.invocation.connection.personal_addr, "env:1");
  ParseResult flag = ParsePersonal({"personal", "refill", "--personal-addr", "flag:1"},
                                   {{"BIZRELAY_PERSONAL_ADDR", "env:1"}});
  EXPECT_EQ(flag.invocation.connection.personal_addr, "flag:1");
  // Without HOME the key store must be named.
  ExpectUsageError({"personal", "refill"}, "--keys-dir");
  EXPECT_EQ(Parse({"personal", "refill", "--keys-dir", "/k"}).outcome, ParseResult::Outcome::kOk);
}

TEST(PersonalParseTest, ABadContactCardIsAUsageErrorThatDoesNotEchoIt) {
  std::string key = Base64UrlEncode("sixteen byte key");
  ParseResult r = ParsePersonal({"personal", "send", "bizrelay-contact:m1:" + key, "hi"});
  EXPECT_EQ(r.outcome, ParseResult::Outcome::kUsageError);
  EXPECT_THAT(r.message, AllOf(HasSubstr("access key"), Not(HasSubstr(key))));
}

// --- Personal: contact cards ------------------------------------------------------------------

TEST(ContactCardTest, RoundTrips) {
  ContactCard card{"0b8f0c1e-5a8d-4c1e-9a57-3c1f2e0d9b11", RandomBytes(32)};
  std::string text = FormatContactCard(card);
  EXPECT_THAT(text, MatchesRegex("bizrelay-contact:0b8f0c1e-5a8d-4c1e-9a57-3c1f2e0d9b11:"
                                 "[A-Za-z0-9_-]{43}"));
  EXPECT_EQ(ParseContactCard(text), card);
  EXPECT_EQ(ParseContactCard("  " + text + "\n"), card);
}

TEST(ContactCardTest, RejectsMalformedCardsWithoutEchoingThem) {
  const std::string key = Base64UrlEncode(RandomBytes(32));
  for (const std::string& bad : std::vector<std::string>{
           "", "bizrelay-contact:", "contact:m1:" + key, "bizrelay-contact::" + key,
           "bizrelay-contact:m1", "bizrelay-contact:m:1:" + key, "bizrelay-contact:m1:",
           "bizrelay-contact:m1:" + key.substr(1), "bizrelay-contact:m1:" + key + "=",
           "bizrelay-contact:m 1:" + key, "bizrelay-contact:m1:" + key + key}) {
    try {
      ParseContactCard(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const UsageError& e) {
      EXPECT_THAT(e.what(), Not(HasSubstr(key))) << bad;
    }
  }
}

// --- Personal: key store ----------------------------------------------------------------------

PersonalKeys SampleKeys() {
  PersonalKeys k;
  k.mailbox_id = "0b8f0c1e-5a8d-4c1e-9a57-3c1f2e0d9b11";
  k.owner_secret = "brm_ownerSecretValue";
  k.access_key = RandomBytes(32);
  EnsureIdentity(&k);
  NewPublication(&k, 3);
  k.send_tokens = {{RandomBytes(64), RandomBytes(256), "00aa11bb22cc33dd"},
                   {RandomBytes(64), RandomBytes(256), "00aa11bb22cc33dd"}};
  return k;
}

mode_t ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST(KeyStoreTest, RoundTripsThroughPrivateFiles) {
  TempDir tmp;
  KeyStore store(tmp.path() / "home" / "personal");
  EXPECT_FALSE(store.Exists());
  EXPECT_THROW(store.Load(), UsageError);
  EXPECT_THROW(store.Update([](PersonalKeys&) {}), UsageError);

  const PersonalKeys keys = SampleKeys();
  EXPECT_EQ(keys.one_time_prekeys.size(), 3u);
  EXPECT_EQ(keys.next_prekey_id, 4);
  EXPECT_EQ(store.Update([&](PersonalKeys& k) { k = keys; }, /*create=*/true), keys);
  EXPECT_TRUE(store.Exists());
  EXPECT_EQ(store.Load(), keys);
  EXPECT_EQ(KeyStore::Parse(KeyStore::Serialize(keys)), keys);
  EXPECT_EQ(ModeOf(store.dir()), 0700u);
  EXPECT_EQ(ModeOf(store.dir() / "keys.json"), 0600u);
  EXPECT_FALSE(std::filesystem::exists(store.dir() / "keys.json.tmp"));

  // An update starts from what is stored and keeps what it does not change.
  PersonalKeys updated =
      store.Update([](PersonalKeys& k) { k.send_tokens.erase(k.send_tokens.begin()); });
  EXPECT_EQ(updated.send_tokens, std::vector<SendToken>{keys.send_tokens[1]});
  EXPECT_EQ(updated.one_time_prekeys, keys.one_time_prekeys);
  EXPECT_EQ(store.Load(), updated);
  // A change that throws saves nothing.
  EXPECT_THROW(store.Update([](PersonalKeys& k) {
    k.mailbox_id = "other";
    throw std::runtime_error("changed my mind");
  }),
               std::runtime_error);
  EXPECT_EQ(store.Load(), updated);
}

TEST(KeyStoreTest, ConcurrentUpdatesLoseNothing) {
  TempDir tmp;
  KeyStore store(tmp.path() / "personal");
  store.Update([](PersonalKeys&) {}, /*create=*/true);
  auto add = [&store](char tag) {
    for (int i = 0; i < 25; ++i) {
      store.Update([&](PersonalKeys& k) {
        k.send_tokens.push_back({std::string(64, tag), std::to_string(i), "k"});
      });
    }
  };
  std::thread a(add, 'a');
  std::thread b(add, 'b');
  a.join();
  b.join();
  EXPECT_EQ(store.Load().send_tokens.size(), 50u);
}

TEST(KeyStoreTest, MalformedStoresAreReportedWithoutTheirContents) {
  PersonalKeys keys = SampleKeys();
  const std::string good = KeyStore::Serialize(keys);
  auto replace = [&good](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  for (const std::string& bad : std::vector<std::string>{
           good.substr(0, good.size() / 2),
           "not json " + keys.owner_secret,
           replace("\"version\": 1", "\"version\": 2"),
           replace(Base64UrlEncode(keys.access_key), Base64UrlEncode(keys.access_key.substr(1))),
           replace(Base64UrlEncode(keys.identity_private_key), "!" + keys.owner_secret),
           replace("\"next_prekey_id\": 4", "\"next_prekey_id\": \"" + keys.owner_secret + "\""),
       }) {
    try {
      KeyStore::Parse(bad);
      ADD_FAILURE() << "accepted a malformed store";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr("key store"), Not(HasSubstr(keys.owner_secret))));
    }
  }
}

// --- Personal: envelopes ----------------------------------------------------------------------

struct Person {
  PersonalKeys keys;
  v1::PublishKeysRequest published;
};

Person NewPerson(int one_time_prekeys) {
  Person p;
  EnsureIdentity(&p.keys);
  p.published = NewPublication(&p.keys, one_time_prekeys);
  return p;
}

// What FetchBundle would answer for `p`, with its first one-time prekey if `one_time` is set.
v1::FetchBundleResponse BundleOf(const Person& p, bool one_time) {
  v1::FetchBundleResponse b;
  b.set_identity_key(p.published.identity_key());
  b.set_signed_prekey(p.published.signed_prekey());
  b.set_signed_prekey_signature(p.published.signed_prekey_signature());
  b.set_signed_prekey_id(p.published.signed_prekey_id());
  if (one_time) *b.mutable_one_time_prekey() = p.published.one_time_prekeys(0);
  return b;
}

// Opening `envelope` fails with `reason` (any reason if empty) and leaves `keys` unchanged.
void ExpectOpenFails(PersonalKeys* keys, std::string_view envelope, const std::string& reason) {
  const PersonalKeys before = *keys;
  try {
    OpenEnvelope(keys, envelope);
    ADD_FAILURE() << "opened";
  } catch (const Error& e) {
    if (!reason.empty()) {
      EXPECT_EQ(e.reason(), reason);
    }
  }
  EXPECT_EQ(*keys, before);
}

TEST(EnvelopeTest, PublicationIsSignedAndKeepsThePrivateKeys) {
  Person bob = NewPerson(3);
  const v1::PublishKeysRequest& pub = bob.published;
  EXPECT_EQ(pub.identity_key(), crypto::Ed25519PublicKey(bob.keys.identity_private_key));
  EXPECT_TRUE(crypto::Ed25519Verify(pub.identity_key(), pub.signed_prekey(),
                                    pub.signed_prekey_signature()));
  EXPECT_EQ(pub.signed_prekey(), crypto::X25519PublicKey(bob.keys.signed_prekey_private_key));
  ASSERT_EQ(pub.one_time_prekeys_size(), 3);
  for (const v1::OneTimePrekey& p : pub.one_time_prekeys()) {
    ASSERT_TRUE(bob.keys.one_time_prekeys.contains(p.prekey_id()));
    EXPECT_EQ(p.public_key(), crypto::X25519PublicKey(bob.keys.one_time_prekeys[p.prekey_id()]));
  }
  v1::PublishKeysRequest more = NewPublication(&bob.keys, 2);
  EXPECT_EQ(more.one_time_prekeys(0).prekey_id(), 4);
  EXPECT_EQ(more.one_time_prekeys(1).prekey_id(), 5);
  EXPECT_EQ(more.identity_key(), pub.identity_key());
  EXPECT_EQ(bob.keys.one_time_prekeys.size(), 5u);
}

TEST(EnvelopeTest, AOneTimePrekeyOpensOneMessageAndIsThenDeleted) {
  Person alice = NewPerson(0);
  Person bob = NewPerson(2);
  std::string envelope =
      SealToBundle(BundleOf(bob, /*one_time=*/true), alice.keys.identity_private_key, "halo Bob");
  ASSERT_GT(envelope.size(), kEnvelopeHeaderBytes);
  EXPECT_EQ(envelope[0], kEnvelopeVersion);
  EXPECT_EQ(envelope[1], static_cast<char>(PrekeyKind::kOneTime));
  EXPECT_THAT(envelope, Not(HasSubstr("halo Bob")));

  OpenedEnvelope opened = OpenEnvelope(&bob.keys, envelope);
  EXPECT_EQ(opened.plaintext, "halo Bob");
  EXPECT_EQ(opened.sender_identity_key, alice.published.identity_key());
  EXPECT_EQ(opened.one_time_prekey_id, std::optional<int64_t>(1));
  EXPECT_FALSE(bob.keys.one_time_prekeys.contains(1));
  EXPECT_TRUE(bob.keys.one_time_prekeys.contains(2));
  // The key is gone, so the same envelope (a replay) no longer opens.
  ExpectOpenFails(&bob.keys, envelope, "UNKNOWN_PREKEY");
}

TEST(EnvelopeTest, AnyFlippedBitFailsAndKeepsTheKey) {
  Person alice = NewPerson(0);
  Person bob = NewPerson(1);
  const std::string envelope =
      SealToBundle(BundleOf(bob, /*one_time=*/true), alice.keys.identity_private_key, "rahasia");
  for (size_t i = 0; i < envelope.size(); ++i) {
    std::string flipped = envelope;
    flipped[i] ^= static_cast<char>(1 << (i % 8));
    SCOPED_TRACE(i);
    ExpectOpenFails(&bob.keys, flipped, i < kEnvelopeHeaderBytes ? "" : "SEALED_BOX_INVALID");
  }
  ExpectOpenFails(&bob.keys, envelope.substr(0, kEnvelopeHeaderBytes - 1), "ENVELOPE_INVALID");
  // Sealed to someone else's key.
  Person carol = NewPerson(1);
  ExpectOpenFails(&carol.keys, envelope, "SEALED_BOX_INVALID");
  EXPECT_EQ(OpenEnvelope(&bob.keys, envelope).plaintext, "rahasia");
}

TEST(EnvelopeTest, WithoutOneTimePrekeysTheSignedPrekeyIsUsedAndKept) {
  Person alice = NewPerson(0);
  Person bob = NewPerson(0);
  std::string envelope =
      SealToBundle(BundleOf(bob, /*one_time=*/false), alice.keys.identity_private_key, "hi");
  EXPECT_EQ(envelope[1], static_cast<char>(PrekeyKind::kSigned));
  for (int i = 0; i < 2; ++i) {
    OpenedEnvelope opened = OpenEnvelope(&bob.keys, envelope);
    EXPECT_EQ(opened.plaintext, "hi");
    EXPECT_EQ(opened.one_time_prekey_id, std::nullopt);
  }
  EXPECT_FALSE(bob.keys.signed_prekey_private_key.empty());
}

TEST(EnvelopeTest, ABundleWithABadPrekeySignatureIsRefused) {
  Person alice = NewPerson(0);
  Person bob = NewPerson(1);
  Person mallory = NewPerson(0);
  auto expect_refused = [&](const v1::FetchBundleResponse& bundle) {
    try {
      SealToBundle(bundle, alice.keys.identity_private_key, "hi");
      ADD_FAILURE() << "sealed";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason(), "BAD_PREKEY_SIGNATURE");
    }
  };
  v1::FetchBundleResponse swapped_prekey = BundleOf(bob, true);
  swapped_prekey.set_signed_prekey(mallory.published.signed_prekey());
  expect_refused(swapped_prekey);
  v1::FetchBundleResponse swapped_identity = BundleOf(bob, true);
  swapped_identity.set_identity_key(mallory.published.identity_key());
  expect_refused(swapped_identity);
  expect_refused(v1::FetchBundleResponse());
}

// --- Personal: commands against an in-process fake relay -------------------------------------

const crypto::BlindRsaPrivateKey& IssuerKey() {
  static const crypto::BlindRsaPrivateKey key = crypto::BlindRsaPrivateKey::Generate(2048);
  return key;
}

std::string AuthorizationOf(const grpc::ServerContext* ctx) {
  auto it = ctx->client_metadata().find("authorization");
  return it == ctx->client_metadata().end() ? ""
                                            : std::string(it->second.data(), it->second.size());
}

// Blind-signs like AccountService, up to a quota.
class FakeIssuer final : public v1::AccountService::Service {
 public:
  grpc::Status GetSendTokenKey(grpc::ServerContext*, const v1::GetSendTokenKeyRequest*,
                               v1::GetSendTokenKeyResponse* resp) override {
    resp->set_key_id(crypto::BlindRsaKeyId(IssuerKey().public_key()));
    resp->set_public_key(IssuerKey().public_key().ToDer());
    return grpc::Status::OK;
  }

  grpc::Status IssueSendTokens(grpc::ServerContext* ctx, const v1::IssueSendTokensRequest* req,
                               v1::IssueSendTokensResponse* resp) override {
    std::lock_guard lock(mu_);
    authorizations_.push_back(AuthorizationOf(ctx));
    batches_.push_back(req->blinded_messages_size());
    if (req->blinded_messages_size() > kMaxTokensPerIssue) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "too many");
    }
    if (issued_ + req->blinded_messages_size() > quota_) {
      return StatusWithReason(grpc::StatusCode::RESOURCE_EXHAUSTED, "quota",
                              "TOKEN_QUOTA_EXCEEDED");
    }
    issued_ += req->blinded_messages_size();
    resp->set_key_id(crypto::BlindRsaKeyId(IssuerKey().public_key()));
    for (const std::string& m : req->blinded_messages()) {
      resp->add_blind_signatures(IssuerKey().BlindSign(m));
    }
    return grpc::Status::OK;
  }

  std::vector<int> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::vector<std::string> authorizations() {
    std::lock_guard lock(mu_);
    return authorizations_;
  }
  void set_quota(int quota) {
    std::lock_guard lock(mu_);
    quota_ = quota;
  }

 private:
  std::mutex mu_;
  std::vector<int> batches_;                 // guarded by mu_
  std::vector<std::string> authorizations_;  // guarded by mu_
  int issued_ = 0;                           // guarded by mu_
  int quota_ = 1000;                         // guarded by mu_
};

// Keeps mailboxes in memory with the relay's rules that the client depends on: tokens verify
// and are spent once, access keys and owner secrets are checked, bundles use up prekeys.
class FakePersonalRelay final : public v1::PersonalRelayService::Service {
 public:
  grpc::Status CreateMailbox(grpc::ServerContext* ctx, const v1::CreateMailboxRequest* req,
                             v1::CreateMailboxResponse* resp) override {
    std::lock_guard lock(mu_);
    Record(ctx, "CreateMailbox");
    if (grpc::Status s = Spend(req->token()); !s.ok()) return s;
    std::string n = std::to_string(mailboxes_.size() + 1);
    Mailbox& m = mailboxes_["mb-" + n];
    m.access_key = req->access_key();
    m.owner_secret = "brm_" + n;
    resp->set_mailbox_id("mb-" + n);
    resp->set_owner_secret(m.owner_secret);
    return grpc::Status::OK;
  }

  grpc::Status PublishKeys(grpc::ServerContext* ctx, const v1::PublishKeysRequest* req,
                           v1::PublishKeysResponse* resp) override {
    std::lock_guard lock(mu_);
    Record(ctx, "PublishKeys");
    Mailbox* m = Owner(ctx);
    if (m == nullptr) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who");
    if (!crypto::Ed25519Verify(req->identity_key(), req->signed_prekey(),
                               req->signed_prekey_signature())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad signature");
    }
    m->bundle.set_identity_key(req->identity_key());
    m->bundle.set_signed_prekey(req->signed_prekey());
    m->bundle.set_signed_prekey_signature(req->signed_prekey_signature());
    m->bundle.set_signed_prekey_id(req->signed_prekey_id());
    m->prekeys.insert(m->prekeys.end(), req->one_time_prekeys().begin(),
                      req->one_time_prekeys().end());
    resp->set_one_time_prekeys_left(static_cast<int>(m->prekeys.size()));
    return grpc::Status::OK;
  }

  grpc::Status GetPrekeyCount(grpc::ServerContext* ctx, const v1::GetPrekeyCountRequest*,
                              v1::GetPrekeyCountResponse* resp) override {
    std::lock_guard lock(mu_);
    Record(ctx, "GetPrekeyCount");
    Mailbox* m = Owner(ctx);
    if (m == nullptr) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who");
    resp->set_one_time_prekeys_left(static_cast<int>(m->prekeys.size()));
    return grpc::Status::OK;
  }

  grpc::Status FetchBundle(grpc::ServerContext* ctx, const v1::FetchBundleRequest* req,
                           v1::FetchBundleResponse* resp) override {
    std::lock_guard lock(mu_);
    Record(ctx, "FetchBundle");
    Mailbox* m = Access(req->mailbox_id(), req->access_key());
    if (m == nullptr) return grpc::Status(grpc::StatusCode::NOT_FOUND, "mailbox");
    *resp = m->bundle;
    if (corrupt_signatures_) resp->mutable_signed_prekey_signature()->at(0) ^= 1;
    if (!m->prekeys.empty()) {
      *resp->mutable_one_time_prekey() = m->prekeys.front();
      m->prekeys.pop_front();
    }
    return grpc::Status::OK;
  }

  grpc::Status SendSealed(grpc::ServerContext* ctx, const v1::SendSealedRequest* req,
                          v1::SendSealedResponse*) override {
    std::lock_guard lock(mu_);
    Record(ctx, "SendSealed");
    Mailbox* m = Access(req->mailbox_id(), req->access_key());
    if (m == nullptr) return grpc::Status(grpc::StatusCode::NOT_FOUND, "mailbox");
    if (grpc::Status s = Spend(req->token()); !s.ok()) return s;
    m->envelopes.emplace_back(++m->last_seq, req->ciphertext());
    return grpc::Status::OK;
  }

  // Sends what is held after the requested sequence, then holds the stream open.
  grpc::Status StreamMailbox(grpc::ServerContext* ctx, const v1::StreamMailboxRequest* req,
                             grpc::ServerWriter<v1::StreamMailboxResponse>* writer) override {
    std::vector<std::pair<int64_t, std::string>> held;
    {
      std::lock_guard lock(mu_);
      Record(ctx, "StreamMailbox");
      Mailbox* m = Owner(ctx);
      if (m == nullptr) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who");
      held = m->envelopes;
    }
    for (const auto& [seq, ciphertext] : held) {
      if (seq <= req->after_sequence()) continue;
      v1::StreamMailboxResponse r;
      r.set_sequence(seq);
      r.set_ciphertext(ciphertext);
      writer->Write(r);
    }
    while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return grpc::Status::CANCELLED;
  }

  grpc::Status AcknowledgeEnvelopes(grpc::ServerContext* ctx,
                                    const v1::AcknowledgeEnvelopesRequest* req,
                                    v1::AcknowledgeEnvelopesResponse* resp) override {
    std::lock_guard lock(mu_);
    Record(ctx, "AcknowledgeEnvelopes");
    Mailbox* m = Owner(ctx);
    if (m == nullptr) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who");
    auto acked = [&](const auto& e) { return e.first <= req->up_to_sequence(); };
    resp->set_deleted(static_cast<int>(std::erase_if(m->envelopes, acked)));
    return grpc::Status::OK;
  }

  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::string> authorizations() {
    std::lock_guard lock(mu_);
    return authorizations_;
  }
  size_t held(const std::string& mailbox) {
    std::lock_guard lock(mu_);
    return mailboxes_[mailbox].envelopes.size();
  }
  void MarkSpent(const std::string& token_message) {
    std::lock_guard lock(mu_);
    spent_.insert(token_message);
  }
  void TakePrekeys(const std::string& mailbox, int n) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < n; ++i) mailboxes_[mailbox].prekeys.pop_front();
  }
  void set_corrupt_signatures(bool corrupt) {
    std::lock_guard lock(mu_);
    corrupt_signatures_ = corrupt;
  }

 private:
  struct Mailbox {
    std::string access_key, owner_secret;
    v1::FetchBundleResponse bundle;
    std::deque<v1::OneTimePrekey> prekeys;
    std::vector<std::pair<int64_t, std::string>> envelopes;
    int64_t last_seq = 0;
  };

  void Record(const grpc::ServerContext* ctx, const std::string& method) {
    calls_.push_back(method);
    authorizations_.push_back(AuthorizationOf(ctx));
  }
  grpc::Status Spend(const v1::SendToken& t) {
    if (t.message().size() != 64 || t.key_id() != crypto::BlindRsaKeyId(IssuerKey().public_key()) ||
        !IssuerKey().public_key().Verify(t.message(), t.signature())) {
      return StatusWithReason(grpc::StatusCode::PERMISSION_DENIED, "bad token", "INVALID_TOKEN");
    }
    if (!spent_.insert(t.message()).second) {
      return StatusWithReason(grpc::StatusCode::FAILED_PRECONDITION, "spent", "TOKEN_SPENT");
    }
    return grpc::Status::OK;
  }
  Mailbox* Owner(const grpc::ServerContext* ctx) {
    for (auto& [id, m] : mailboxes_) {
      if (AuthorizationOf(ctx) == "Bearer " + m.owner_secret) return &m;
    }
    return nullptr;
  }
  Mailbox* Access(const std::string& id, const std::string& access_key) {
    auto it = mailboxes_.find(id);
    return it == mailboxes_.end() || it->second.access_key != access_key ? nullptr : &it->second;
  }

  std::mutex mu_;
  std::map<std::string, Mailbox> mailboxes_;  // guarded by mu_
  std::set<std::string> spent_;               // guarded by mu_
  std::vector<std::string> calls_;            // guarded by mu_
  std::vector<std::string> authorizations_;   // guarded by mu_
  bool corrupt_signatures_ = false;           // guarded by mu_
};

TEST(SendTokenTest, ObtainsInChunksOfAtMostOneHundredAndUnblindsValidTokens) {
  FakeIssuer issuer;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&issuer);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::AccountService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));

  std::vector<std::vector<SendToken>> kept;
  ObtainSendTokens(*stub, "bru_test", 150, std::chrono::seconds(30),
                   [&](std::vector<SendToken> t) { kept.push_back(std::move(t)); });
  EXPECT_THAT(issuer.batches(), ElementsAre(100, 50));
  EXPECT_THAT(issuer.authorizations(), ElementsAre("Bearer bru_test", "Bearer bru_test"));
  ASSERT_EQ(kept.size(), 2u);
  std::set<std::string> messages;
  for (const auto& batch : kept) {
    for (const SendToken& t : batch) {
      EXPECT_EQ(t.message.size(), 64u);
      EXPECT_EQ(t.key_id, crypto::BlindRsaKeyId(IssuerKey().public_key()));
      EXPECT_TRUE(IssuerKey().public_key().Verify(t.message, t.signature));
      messages.insert(t.message);
    }
  }
  EXPECT_EQ(messages.size(), 150u);

  // Tokens issued before a refusal are handed over before the error.
  issuer.set_quota(150 + 100 + 20);
  kept.clear();
  try {
    ObtainSendTokens(*stub, "bru_test", 150, std::chrono::seconds(30),
                     [&](std::vector<SendToken> t) { kept.push_back(std::move(t)); });
    ADD_FAILURE() << "no error";
  } catch (const RpcError& e) {
    EXPECT_EQ(ErrorReason(e.status()), "TOKEN_QUOTA_EXCEEDED");
  }
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].size(), 100u);
  server->Shutdown(std::chrono::system_clock::now());
}

class PersonalCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&issuer_);
    builder.RegisterService(&relay_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  struct Outcome {
    int exit_code;
    std::string out;
    std::string err;
  };

  // Runs `bizrelay personal --keys-dir <dir of who> args...` with a user token in the
  // environment (as a user would have it set), on the same fake for both listeners.
  Outcome Personal(const std::string& who, std::vector<std::string> args) {
    std::string addr = "127.0.0.1:" + std::to_string(port_);
    args.insert(args.begin(), {"--addr", addr, "--personal-addr", addr, "personal", "--keys-dir",
                               (dir_.path() / who).string()});
    ParseResult parsed = ParseCommandLine(args, {{"BIZRELAY_TOKEN", "bru_test"}});
    EXPECT_EQ(parsed.outcome, ParseResult::Outcome::kOk) << parsed.message;
    std::ostringstream out, err;
    std::istringstream in;
    Io io{.out = out, .err = err, .in = in};
    int code = cli::Run(parsed.invocation, io);
    return {code, out.str(), err.str()};
  }

  PersonalKeys Keys(const std::string& who) { return KeyStore(dir_.path() / who).Load(); }

  // `personal init` for `who`; returns the contact card.
  std::string Init(const std::string& who, int tokens) {
    Outcome r = Personal(who, {"init", "--tokens", std::to_string(tokens)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, MatchesRegex("bizrelay-contact:mb-[0-9]+:[A-Za-z0-9_-]{43}\n"));
    return r.out.substr(0, r.out.size() - 1);
  }

  TempDir dir_;
  FakeIssuer issuer_;
  FakePersonalRelay relay_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(PersonalCommandTest, TwoPeopleExchangeMessages) {
  std::string alice_card = Init("alice", 5);
  std::string bob_card = Init("bob", 5);
  PersonalKeys alice = Keys("alice");
  EXPECT_EQ(alice.mailbox_id, "mb-1");
  EXPECT_EQ(alice.send_tokens.size(), 4u);  // one paid for the mailbox
  EXPECT_EQ(alice.one_time_prekeys.size(), 20u);
  EXPECT_EQ(ParseContactCard(alice_card), (ContactCard{alice.mailbox_id, alice.access_key}));

  Outcome sent = Personal("alice", {"send", bob_card, "halo Bob"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_EQ(sent.out, "sent\n");
  EXPECT_EQ(sent.err, "send tokens left: 3; get more with `bizrelay personal tokens`\n");
  EXPECT_EQ(Keys("alice").send_tokens.size(), 3u);
  EXPECT_EQ(Personal("bob", {"send", alice_card, "halo Alice\nbaris dua"}).exit_code, 0);

  Outcome bob_listen = Personal("bob", {"listen", "--count", "1"});
  EXPECT_EQ(bob_listen.exit_code, 0) << bob_listen.err;
  std::string alice_identity = crypto::Ed25519PublicKey(alice.identity_private_key);
  EXPECT_EQ(bob_listen.out, "1 sender=" + IdentityFingerprint(alice_identity) + " halo Bob\n");
  EXPECT_EQ(relay_.held("mb-2"), 0u);                   // acknowledged
  EXPECT_EQ(Keys("bob").one_time_prekeys.size(), 19u);  // the used prekey is forgotten

  Outcome alice_listen = Personal("alice", {"listen", "--count", "1", "--after", "0"});
  EXPECT_EQ(alice_listen.exit_code, 0) << alice_listen.err;
  EXPECT_THAT(alice_listen.out, HasSubstr(" halo Alice\\nbaris dua\n"));

  // The user token went to the issuer only; the personal relay saw owner secrets or nothing.
  EXPECT_THAT(issuer_.authorizations(), Each(Eq("Bearer bru_test")));
  for (const std::string& a : relay_.authorizations()) {
    EXPECT_THAT(a, AnyOf(Eq(""), Eq("Bearer brm_1"), Eq("Bearer brm_2")));
  }
  // Nothing printed a secret.
  for (const Outcome& o : {sent, bob_listen, alice_listen}) {
    EXPECT_THAT(o.out + o.err, AllOf(Not(HasSubstr("brm_")), Not(HasSubstr("bru_test"))));
  }
}

TEST_F(PersonalCommandTest, ListenJsonShowsTheWholeSenderKey) {
  std::string card = Init("alice", 2);
  ASSERT_EQ(Personal("alice", {"send", card, "catatan untuk diri sendiri"}).exit_code, 0);
  Outcome r = Personal("alice", {"listen", "--count", "1", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string identity = crypto::Ed25519PublicKey(Keys("alice").identity_private_key);
  EXPECT_EQ(r.out, R"({"sender":")" + ToHex(identity) +
                       R"(","sequence":1,"text":"catatan untuk diri sendiri"})"
                       "\n");
}

TEST_F(PersonalCommandTest, ASpentTokenIsDroppedAndTheNextOneUsed) {
  std::string card = Init("alice", 3);
  PersonalKeys before = Keys("alice");
  ASSERT_EQ(before.send_tokens.size(), 2u);
  relay_.MarkSpent(before.send_tokens[0].message);
  Outcome r = Personal("alice", {"send", card, "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Keys("alice").send_tokens.empty());
  EXPECT_EQ(relay_.held("mb-1"), 1u);

  // With no tokens left nothing is fetched (a fetch uses up one of the recipient's prekeys).
  size_t calls = relay_.calls().size();
  Outcome none = Personal("alice", {"send", card, "hi again"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("personal tokens"));
  EXPECT_EQ(relay_.calls().size(), calls);

  Outcome more = Personal("alice", {"tokens", "--count", "4"});
  EXPECT_EQ(more.exit_code, 0) << more.err;
  EXPECT_EQ(more.out, "send tokens: 4\n");
  EXPECT_EQ(Personal("alice", {"send", card, "hi again"}).exit_code, 0);
}

TEST_F(PersonalCommandTest, RefillTopsUpOnlyWhenFewAreLeft) {
  Init("alice", 1);
  Outcome full = Personal("alice", {"refill"});
  EXPECT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.out, "one-time prekeys: 20 (published 0)\n");
  relay_.TakePrekeys("mb-1", 15);
  Outcome low = Personal("alice", {"refill"});
  EXPECT_EQ(low.exit_code, 0) << low.err;
  EXPECT_EQ(low.out, "one-time prekeys: 20 (published 15)\n");
  PersonalKeys keys = Keys("alice");
  EXPECT_EQ(keys.one_time_prekeys.size(), 35u);
  EXPECT_EQ(keys.next_prekey_id, 36);
}

TEST_F(PersonalCommandTest, ABadPrekeySignatureSendsNothing) {
  std::string card = Init("alice", 2);
  relay_.set_corrupt_signatures(true);
  Outcome r = Personal("alice", {"send", card, "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("BAD_PREKEY_SIGNATURE"));
  EXPECT_EQ(Keys("alice").send_tokens.size(), 1u);
  EXPECT_EQ(relay_.held("mb-1"), 0u);
}

TEST_F(PersonalCommandTest, CommandsNeedAnInitializedStore) {
  Outcome r = Personal("nobody", {"send", FormatContactCard(kCard), "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("personal init"));
  EXPECT_EQ(Personal("nobody", {"listen"}).exit_code, 2);
  EXPECT_EQ(Personal("nobody", {"tokens"}).exit_code, 2);
  EXPECT_TRUE(relay_.calls().empty());
  EXPECT_TRUE(issuer_.batches().empty());
  Init("alice", 1);
  Outcome again = Personal("alice", {"init"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("already holds a mailbox"));
}

}  // namespace
}  // namespace bizrelay::cli

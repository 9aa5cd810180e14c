// End-to-end: webhook delivery from real bizrelayd processes to a real HTTPS receiver
// (tests/python/webhook_receiver.py, Python's http.server and ssl), whose signature check is
// Python's hmac, not the relay's code.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/clients.h"
#include "tests/harness/command.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/tls_material.h"

extern char** environ;

namespace bizrelay::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The Python receiver, in a directory of its own; killed with the object.
class Receiver {
 public:
  explicit Receiver(const fs::path& tls) {
    char tmpl[] = "/tmp/bizrelay-webhook-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Control({});
    std::vector<std::string> args = {"python3", BIZRELAY_WEBHOOK_RECEIVER, dir_.string(),
                                     (tls / "server.pem").string(),
                                     (tls / "server-key.pem").string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawnp(&pid_, "python3", nullptr, nullptr, argv.data(), environ), 0);
    EXPECT_TRUE(WaitFor([&] { return fs::exists(dir_ / "port"); }, 20s));
    std::ifstream(dir_ / "port") >> port_;
  }
  ~Receiver() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    fs::remove_all(dir_);
  }
  std::string Url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  void Control(const json& c) {
    std::ofstream(dir_ / "control.tmp") << c.dump();
    fs::rename(dir_ / "control.tmp", dir_ / "control.json");
  }
  std::vector<json> Requests() const {
    std::vector<json> out;
    std::ifstream in(dir_ / "requests.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(json::parse(line));
    }
    return out;
  }
  // Event requests (not the handshake) answered 2xx.
  std::vector<json> Delivered() const {
    std::vector<json> out;
    for (auto& r : Requests()) {
      if (!r["verification"].get<bool>() && r["status"].get<int>() == 200) out.push_back(r);
    }
    return out;
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class WebhooksE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/bizrelay-webhook-tls-XXXXXX";
    tls_ = mkdtemp(tmpl);
    ASSERT_TRUE(MakeTlsMaterial(tls_));
  }
  static void TearDownTestSuite() { fs::remove_all(tls_); }

  // A daemon that may call the local receiver, verifying it against the test CA, and retries
  // quickly.
  static DaemonProcess::Options Options(const std::string& database_url,
                                        std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"--webhooks-allow-private-targets",
                                     "true",
                                     "--webhooks-ca-file",
                                     (tls_ / "ca.pem").string(),
                                     "--webhooks-backoff-initial-ms",
                                     "200",
                                     "--webhooks-backoff-max-ms",
                                     "1000",
                                     "--webhooks-lease-ms",
                                     "2000",
                                     "--webhooks-timeout-ms",
                                     "3000"};
    args.insert(args.end(), more.begin(), more.end());
    return DaemonProcess::Options{.database_url = database_url, .extra_args = args};
  }

  static v1::CreateWebhookEndpointResponse CreateEndpoint(DaemonProcess& d, const Biz& b,
                                                          const std::string& url,
                                                          grpc::Status* status = nullptr,
                                                          bool disabled = false) {
    grpc::ClientContext ctx;
    Authorize(&ctx, b.key);
    v1::CreateWebhookEndpointRequest req;
    req.set_url(url);
    req.set_disabled(disabled);
    v1::CreateWebhookEndpointResponse resp;
    auto s =
        v1::BusinessService::NewStub(d.PublicChannel())->CreateWebhookEndpoint(&ctx, req, &resp);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  static v1::WebhookEndpoint GetEndpoint(DaemonProcess& d, const Biz& b, const std::string& id,
                                         grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    Authorize(&ctx, b.key);
    v1::GetWebhookEndpointRequest req;
    req.set_endpoint_id(id);
    v1::GetWebhookEndpointResponse resp;
    auto s = v1::BusinessService::NewStub(d.PublicChannel())->GetWebhookEndpoint(&ctx, req, &resp);
    if (status != nullptr) *status = s;
    return resp.endpoint();
  }

  static bool WaitActive(DaemonProcess& d, const Biz& b, const std::string& id) {
    return WaitFor(
        [&] { return GetEndpoint(d, b, id).state() == v1::WEBHOOK_ENDPOINT_STATE_ACTIVE; }, 20s);
  }

  // Message ids delivered (2xx), each once, in the order of their first 2xx.
  static std::vector<std::string> DeliveredMessages(const Receiver& r) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (auto& req : r.Delivered()) {
      if (!req["body"].contains("message")) continue;
      std::string id = req["body"]["message"]["messageId"];
      if (seen.insert(id).second) out.push_back(id);
    }
    return out;
  }

  static inline fs::path tls_;
};

TEST_F(WebhooksE2E, SignedInOrderPerConversationThroughFailuresAndDelivered) {
  std::string db = store::testing::FreshDatabase();
  DaemonProcess d(Options(db));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Webhook");
  auto created = CreateEndpoint(d, biz, r.Url());
  std::string secret = created.signing_secret();
  ASSERT_FALSE(secret.empty());
  EXPECT_EQ(created.endpoint().state(), v1::WEBHOOK_ENDPOINT_STATE_VERIFYING);
  // The receiver refuses the first events: each conversation must wait for its own.
  r.Control({{"secrets", {secret}}, {"fail_first", 8}, {"fail_status", 500}});
  double secret_known_at = Now();
  ASSERT_TRUE(WaitActive(d, biz, created.endpoint().endpoint_id())) << d.Log();

  std::map<std::string, std::vector<std::string>> sent;  // conversation -> message ids
  std::vector<std::string> texts;
  std::vector<Usr> users;
  for (int u = 0; u < 3; ++u) users.push_back(Register(d, "User " + std::to_string(u)));
  for (auto& user : users) StartChat(d, user, biz);
  for (int i = 0; i < 4; ++i) {
    for (size_t u = 0; u < users.size(); ++u) {
      std::string text = "pesan rahasia " + std::to_string(u) + "/" + std::to_string(i);
      v1::SendMessageResponse resp;
      ASSERT_TRUE(Send(d, users[u], biz, text, "k" + std::to_string(i), &resp).ok());
      sent[resp.message().conversation_id()].push_back(resp.message().message_id());
      texts.push_back(text);
    }
  }
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 12; }, 60s))
      << DeliveredMessages(r).size() << "\n"
      << d.Log();

  auto requests = r.Requests();
  int failed = 0;
  std::map<std::string, double> first_success;  // message id -> time
  for (auto& req : requests) {
    // Python's hmac agrees with every signature (once the receiver knows the secret), and the
    // event id header is the position.
    if (req["time"].get<double>() > secret_known_at) {
      EXPECT_TRUE(req["signature_ok"].get<bool>()) << req.dump();
    }
    EXPECT_TRUE(req["signature"].get<std::string>().starts_with("t=")) << req.dump();
    if (req["verification"].get<bool>()) continue;
    EXPECT_EQ(req["event_id"].get<std::string>(), req["body"]["position"].get<std::string>());
    if (req["status"].get<int>() != 200) ++failed;
    if (req["status"].get<int>() == 200 && req["body"].contains("message")) {
      first_success.emplace(req["body"]["message"]["messageId"], req["time"].get<double>());
    }
  }
  EXPECT_EQ(failed, 8);
  // In order per conversation: no attempt of a message before its predecessor got its 2xx.
  for (auto& [conversation, ids] : sent) {
    for (size_t i = 1; i < ids.size(); ++i) {
      for (auto& req : requests) {
        if (req["verification"].get<bool>() || !req["body"].contains("message")) continue;
        if (req["body"]["message"]["messageId"] != ids[i]) continue;
        EXPECT_GE(req["time"].get<double>(), first_success[ids[i - 1]]) << conversation << " " << i;
      }
    }
  }
  // The user messages are DELIVERED, as if the business had acknowledged them.
  auto business = v1::BusinessService::NewStub(d.PublicChannel());
  for (auto& [conversation, ids] : sent) {
    EXPECT_TRUE(WaitFor(
        [&] {
          grpc::ClientContext ctx;
          Authorize(&ctx, biz.key);
          v1::ListMessagesRequest req;
          req.set_conversation_id(conversation);
          v1::ListMessagesResponse resp;
          if (!business->ListMessages(&ctx, req, &resp).ok()) return false;
          int delivered = 0;
          for (auto& m : resp.messages()) delivered += m.status() == v1::MESSAGE_STATUS_DELIVERED;
          return delivered == 4;
        },
        10s));
  }
  // The endpoint's state shows what happened.
  v1::WebhookEndpoint state;
  EXPECT_TRUE(WaitFor(
      [&] {
        state = GetEndpoint(d, biz, created.endpoint().endpoint_id());
        return state.backlog() == 0;
      },
      10s))
      << state.DebugString();
  EXPECT_EQ(state.last_error(), "http 500");
  EXPECT_TRUE(state.has_last_success_time());
  EXPECT_FALSE(state.has_failing_since_time());

  pqxx::connection conn(db);
  pqxx::work tx(conn);
  // Acknowledging the same events on the inbox stream tells the users nothing new.
  auto status_events = [&] {
    return tx.exec1("SELECT count(*) FROM hosting.events WHERE kind = 2")[0].as<int>();
  };
  int before = status_events();
  EXPECT_GE(before, 3);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    v1::AcknowledgeInboxRequest req;
    req.set_position(1000);
    v1::AcknowledgeInboxResponse resp;
    ASSERT_TRUE(business->AcknowledgeInbox(&ctx, req, &resp).ok());
  }
  tx.commit();
  pqxx::work tx2(conn);
  EXPECT_EQ(tx2.exec1("SELECT count(*) FROM hosting.events WHERE kind = 2")[0].as<int>(), before);
  // No webhook row holds the secret or any text in plaintext.
  std::string rows = tx2.exec1(
                            "SELECT coalesce(string_agg(w::text, '|'), '') "
                            "FROM hosting.webhook_endpoints w")[0]
                         .as<std::string>();
  EXPECT_FALSE(rows.empty());
  EXPECT_EQ(rows.find(secret), std::string::npos);
  std::string hex_secret =
      tx2.exec1("SELECT encode(convert_to(" + tx2.quote(secret) + ", 'UTF8'), 'hex')")[0]
          .as<std::string>();
  EXPECT_EQ(rows.find(hex_secret), std::string::npos);
  for (auto& t : texts) EXPECT_EQ(rows.find(t), std::string::npos);
}

TEST_F(WebhooksE2E, RetryAfterIsHonoured) {
  DaemonProcess d(Options(""));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Sibuk");
  auto created = CreateEndpoint(d, biz, r.Url());
  r.Control({{"secrets", {created.signing_secret()}},
             {"fail_first", 1},
             {"fail_status", 429},
             {"retry_after", 2}});
  ASSERT_TRUE(WaitActive(d, biz, created.endpoint().endpoint_id()));
  Usr user = Register(d, "Siti");
  StartChat(d, user, biz);
  ASSERT_TRUE(WaitFor([&] { return !r.Delivered().empty(); }, 20s));
  auto requests = r.Requests();
  std::vector<json> attempts;
  for (auto& req : requests) {
    if (!req["verification"].get<bool>()) attempts.push_back(req);
  }
  ASSERT_GE(attempts.size(), 2u);
  EXPECT_EQ(attempts[0]["status"].get<int>(), 429);
  EXPECT_EQ(attempts[1]["event_id"], attempts[0]["event_id"]);
  // Backoff alone would have retried after 100-200 ms.
  EXPECT_GE(attempts[1]["time"].get<double>() - attempts[0]["time"].get<double>(), 1.9);
}

TEST_F(WebhooksE2E, ReceiverDownForThirtySecondsLosesNothingAndKeepsTheOrder) {
  DaemonProcess d(Options(""));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Sabar");
  auto created = CreateEndpoint(d, biz, r.Url());
  json up = {{"secrets", {created.signing_secret()}}};
  r.Control(up);
  ASSERT_TRUE(WaitActive(d, biz, created.endpoint().endpoint_id()));
  json down = up;
  down["down"] = true;
  down["fail_status"] = 503;
  r.Control(down);
  const double down_at = Now();
  std::vector<Usr> users;
  for (int u = 0; u < 3; ++u) users.push_back(Register(d, "Pelanggan " + std::to_string(u)));
  for (auto& user : users) StartChat(d, user, biz);
  // Messages keep coming while the receiver is down, spread over the outage.
  std::map<std::string, std::vector<std::string>> sent;  // conversation -> message ids
  for (int i = 0; i < 5; ++i) {
    for (size_t u = 0; u < users.size(); ++u) {
      v1::SendMessageResponse resp;
      ASSERT_TRUE(Send(d, users[u], biz, "antre " + std::to_string(u) + "/" + std::to_string(i),
                       "k" + std::to_string(i), &resp)
                      .ok());
      sent[resp.message().conversation_id()].push_back(resp.message().message_id());
    }
    std::this_thread::sleep_for(5s);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, down_at + 30 - Now())));
  EXPECT_TRUE(DeliveredMessages(r).empty());
  auto during = GetEndpoint(d, biz, created.endpoint().endpoint_id());
  EXPECT_EQ(during.state(), v1::WEBHOOK_ENDPOINT_STATE_ACTIVE) << during.DebugString();
  EXPECT_EQ(during.last_error(), "http 503");
  EXPECT_TRUE(during.has_failing_since_time());
  EXPECT_GE(during.backlog(), 15);
  EXPECT_GE(during.oldest_event_age_seconds(), 25);

  r.Control(up);
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 15; }, 30s))
      << DeliveredMessages(r).size() << "\n"
      << d.Log();
  // Per conversation, the first 2xx of each message came in the order the messages were sent.
  auto delivered = DeliveredMessages(r);
  std::map<std::string, size_t> rank;
  for (size_t i = 0; i < delivered.size(); ++i) rank[delivered[i]] = i;
  for (auto& [conversation, ids] : sent) {
    for (size_t i = 1; i < ids.size(); ++i) {
      EXPECT_LT(rank.at(ids[i - 1]), rank.at(ids[i])) << conversation << " " << i;
    }
  }
  v1::WebhookEndpoint after;
  EXPECT_TRUE(WaitFor(
      [&] {
        after = GetEndpoint(d, biz, created.endpoint().endpoint_id());
        return after.backlog() == 0 && !after.has_failing_since_time();
      },
      10s))
      << after.DebugString();
}

TEST_F(WebhooksE2E, DisablingAnEndpointStopsItsDeliveriesAtOnce) {
  DaemonProcess d(Options(""));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Tutup");
  auto created = CreateEndpoint(d, biz, r.Url());
  std::string id = created.endpoint().endpoint_id();
  r.Control({{"secrets", {created.signing_secret()}}});
  ASSERT_TRUE(WaitActive(d, biz, id));
  Usr user = Register(d, "Sari");
  StartChat(d, user, biz);
  v1::SendMessageResponse first;
  ASSERT_TRUE(Send(d, user, biz, "pertama", "k1", &first).ok());
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 1; }, 20s));

  auto set_enabled = [&](bool enabled) {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    v1::UpdateWebhookEndpointRequest req;
    req.set_endpoint_id(id);
    req.set_enabled(enabled);
    v1::UpdateWebhookEndpointResponse resp;
    return v1::BusinessService::NewStub(d.PublicChannel())->UpdateWebhookEndpoint(&ctx, req, &resp);
  };
  // (A POST the receiver answered too late for the relay may have gone twice: at least once.)
  auto posts_of_first = [&] {
    int n = 0;
    for (auto& req : r.Requests()) {
      n += !req["verification"].get<bool>() && req["body"].contains("message") &&
           req["body"]["message"]["messageId"] == first.message().message_id();
    }
    return n;
  };
  std::this_thread::sleep_for(500ms);
  const int first_posts = posts_of_first();
  ASSERT_TRUE(set_enabled(false).ok());
  // Sent right after: the instance still holds the lease for up to a second, but finds the
  // endpoint disabled when it reads the log, and sends nothing.
  v1::SendMessageResponse second;
  ASSERT_TRUE(Send(d, user, biz, "kedua", "k2", &second).ok());
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(DeliveredMessages(r).size(), 1u);
  EXPECT_EQ(GetEndpoint(d, biz, id).state(), v1::WEBHOOK_ENDPOINT_STATE_DISABLED);

  // Enabled again, it resumes with what it had not delivered: the first message is not sent
  // again.
  ASSERT_TRUE(set_enabled(true).ok());
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 2; }, 20s));
  EXPECT_EQ(DeliveredMessages(r)[1], second.message().message_id());
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(posts_of_first(), first_posts) << d.Log();
}

TEST_F(WebhooksE2E, AMessageWithMediaCarriesItsMetadataNotItsBytes) {
  DaemonProcess d(Options(""));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Foto");
  auto created = CreateEndpoint(d, biz, r.Url());
  r.Control({{"secrets", {created.signing_secret()}}});
  ASSERT_TRUE(WaitActive(d, biz, created.endpoint().endpoint_id()));
  Usr user = Register(d, "Siti");
  StartChat(d, user, biz);
  const std::string content = "Daftar pesanan: 12 kue bolu\n";
  v1::UploadMediaResponse uploaded;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, user.token);
    auto writer = v1::UserChatService::NewStub(d.PublicChannel())->UploadMedia(&ctx, &uploaded);
    v1::UploadMediaRequest header;
    header.mutable_header()->set_mime_type("text/plain");
    header.mutable_header()->set_size_bytes(static_cast<int64_t>(content.size()));
    header.mutable_header()->set_business_id(biz.id);
    v1::UploadMediaRequest chunk;
    chunk.set_chunk(content);
    ASSERT_TRUE(writer->Write(header) && writer->Write(chunk));
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
  }
  grpc::ClientContext ctx;
  Authorize(&ctx, user.token);
  v1::SendMessageRequest req;
  req.set_business_id(biz.id);
  req.set_text("pesanan");
  req.set_media_id(uploaded.media().media_id());
  req.set_idempotency_key("m1");
  v1::SendMessageResponse resp;
  ASSERT_TRUE(v1::UserChatService::NewStub(d.PublicChannel())->SendMessage(&ctx, req, &resp).ok());
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 1; }, 20s));
  for (auto& delivered : r.Delivered()) {
    if (!delivered["body"].contains("message")) continue;
    const json& media = delivered["body"]["message"]["media"];
    EXPECT_EQ(media["mediaId"], uploaded.media().media_id());
    EXPECT_EQ(media["mimeType"], "text/plain");
    EXPECT_EQ(media["kind"], "MEDIA_KIND_DOCUMENT");
    EXPECT_EQ(media["sizeBytes"], std::to_string(content.size()));
    EXPECT_FALSE(media["sha256"].get<std::string>().empty());
    EXPECT_EQ(delivered.dump().find("12 kue bolu"), std::string::npos);
  }
}

TEST_F(WebhooksE2E, ExpiredMessageIsNeverSentAndTheEndpointCatchesUp) {
  DaemonProcess d(Options("", {"--retention-min-seconds", "1"}));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Kilat");
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    v1::SetRetentionPolicyRequest req;
    req.mutable_policy()->set_default_lifetime_seconds(2);
    v1::SetRetentionPolicyResponse resp;
    ASSERT_TRUE(
        v1::BusinessService::NewStub(d.PublicChannel())->SetRetentionPolicy(&ctx, req, &resp).ok());
  }
  auto created = CreateEndpoint(d, biz, r.Url());
  r.Control({{"secrets", {created.signing_secret()}}});
  ASSERT_TRUE(WaitActive(d, biz, created.endpoint().endpoint_id()));
  r.Control({{"secrets", {created.signing_secret()}}, {"down", true}});
  Usr user = Register(d, "Budi");
  StartChat(d, user, biz);
  v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(d, user, biz, "hilang sebentar lagi", "k1", &sent).ok());
  double sent_at = Now();
  std::this_thread::sleep_for(4s);
  r.Control({{"secrets", {created.signing_secret()}}});
  // The notice before it arrives; the message, expired meanwhile, never does.
  ASSERT_TRUE(WaitFor([&] { return !r.Delivered().empty(); }, 20s));
  std::this_thread::sleep_for(2s);
  // (Queued behind the conversation's refused notice, it may never have been tried at all.)
  for (auto& req : r.Requests()) {
    if (req["verification"].get<bool>() || !req["body"].contains("message")) continue;
    EXPECT_NE(req["status"].get<int>(), 200);
    // Lifetime 2 s, plus the 1 s a body read may wait before it is sent, plus slack.
    EXPECT_LT(req["time"].get<double>(), sent_at + 3.5) << req.dump();
  }
  EXPECT_TRUE(WaitFor(
      [&] { return GetEndpoint(d, biz, created.endpoint().endpoint_id()).backlog() == 0; }, 10s));
}

TEST_F(WebhooksE2E, RichMessagesAndReactionsArePostedAsTheirProtoJson) {
  DaemonProcess d(Options(""));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Kaya");
  auto created = CreateEndpoint(d, biz, r.Url());
  r.Control({{"secrets", {created.signing_secret()}}});
  ASSERT_TRUE(WaitActive(d, biz, created.endpoint().endpoint_id()));
  Usr user = Register(d, "Rina");
  std::string conv = StartChat(d, user, biz);
  auto chat = v1::UserChatService::NewStub(d.PublicChannel());
  v1::SendMessageResponse located;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, user.token);
    v1::SendMessageRequest req;
    req.set_business_id(biz.id);
    req.set_idempotency_key("loc");
    req.mutable_content()->mutable_location()->set_latitude(-6.2);
    req.mutable_content()->mutable_location()->set_longitude(106.8);
    req.mutable_content()->mutable_location()->set_name("Monas");
    ASSERT_TRUE(chat->SendMessage(&ctx, req, &located).ok());
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, user.token);
    v1::ReactToChatMessageRequest req;
    req.set_conversation_id(conv);
    req.set_message_id(located.message().message_id());
    req.set_emoji("👍");
    v1::ReactToChatMessageResponse resp;
    ASSERT_TRUE(chat->ReactToChatMessage(&ctx, req, &resp).ok());
  }
  // Notice, location message, reaction (reactions come with the "message" kind).
  ASSERT_TRUE(WaitFor([&] { return r.Delivered().size() >= 3; }, 20s));
  auto delivered = r.Delivered();
  json location, reaction;
  for (auto& req : delivered) {
    if (req["body"].contains("message")) location = req["body"]["message"];
    if (req["body"].contains("reaction")) reaction = req["body"]["reaction"];
  }
  EXPECT_EQ(location["content"]["location"]["latitude"], -6.2);
  EXPECT_EQ(location["content"]["location"]["name"], "Monas");
  EXPECT_EQ(location["text"], "Location: Monas, -6.200000, 106.800000");
  EXPECT_EQ(reaction["messageId"], located.message().message_id());
  EXPECT_EQ(reaction["emoji"], "👍");
  EXPECT_EQ(reaction["reactor"], "CHAT_PARTY_USER");
}

TEST_F(WebhooksE2E, OffboardingStopsDeliveryAndShredsTheSecret) {
  std::string db = store::testing::FreshDatabase();
  DaemonProcess d(Options(db));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Tutup");
  auto created = CreateEndpoint(d, biz, r.Url());
  r.Control({{"secrets", {created.signing_secret()}}});
  ASSERT_TRUE(WaitActive(d, biz, created.endpoint().endpoint_id()));
  r.Control({{"secrets", {created.signing_secret()}}, {"down", true}});
  Usr user = Register(d, "Ani");
  StartChat(d, user, biz);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Send(d, user, biz, "pesan " + std::to_string(i), "k" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return r.Requests().size() >= 2; }, 20s));
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, d.OperatorToken());
    v1::OffboardBusinessRequest req;
    req.set_business_id(biz.id);
    v1::OffboardBusinessResponse resp;
    ASSERT_TRUE(
        v1::OperatorService::NewStub(d.OperatorChannel())->OffboardBusiness(&ctx, req, &resp).ok());
  }
  double offboarded_at = Now();
  r.Control({{"secrets", {created.signing_secret()}}});
  std::this_thread::sleep_for(5s);
  for (auto& req : r.Requests()) {
    // A request already on its way may land just after.
    EXPECT_LT(req["time"].get<double>(), offboarded_at + 0.5) << req.dump();
  }
  EXPECT_TRUE(r.Delivered().empty());
  // The sealed secret is still stored, but the key that opens it is gone.
  pqxx::connection conn(db);
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM hosting.webhook_endpoints "
                            "WHERE business_id = $1::uuid",
                            biz.id)[0]
                .as<int>(),
            1);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM hosting.business_keys "
                            "WHERE business_id = $1::uuid",
                            biz.id)[0]
                .as<int>(),
            0);
}

TEST_F(WebhooksE2E, PrivateTargetsAndPlainHttpAreRefusedByDefault) {
  DaemonProcess d;
  Biz biz = CreateBusiness(d, "Toko Aman");
  for (const char* url : {"https://127.0.0.1:8443/hook", "https://localhost/hook",
                          "https://169.254.169.254/latest/meta-data", "https://10.0.0.5/hook",
                          "https://[::1]/hook", "http://8.8.8.8/hook"}) {
    grpc::Status status;
    CreateEndpoint(d, biz, url, &status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << url;
    EXPECT_EQ(ErrorReason(status), "WEBHOOK_TARGET_NOT_ALLOWED") << url;
  }
}

TEST_F(WebhooksE2E, BusinessesSeeOnlyTheirOwnEndpoints) {
  DaemonProcess d;
  Biz a = CreateBusiness(d, "Toko A");
  Biz b = CreateBusiness(d, "Toko B");
  // A public address, created disabled: nothing is ever sent to it.
  auto created = CreateEndpoint(d, a, "https://8.8.8.8/hook", nullptr, /*disabled=*/true);
  std::string id = created.endpoint().endpoint_id();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(created.endpoint().state(), v1::WEBHOOK_ENDPOINT_STATE_DISABLED);
  auto stub = v1::BusinessService::NewStub(d.PublicChannel());
  for (const std::string& target : {id, std::string("00000000-0000-4000-8000-000000000000")}) {
    grpc::Status s;
    GetEndpoint(d, b, target, &s);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(ErrorReason(s), "NOT_FOUND");
    {
      grpc::ClientContext ctx;
      Authorize(&ctx, b.key);
      v1::UpdateWebhookEndpointRequest req;
      req.set_endpoint_id(target);
      req.set_rotate_secret(true);
      v1::UpdateWebhookEndpointResponse resp;
      s = stub->UpdateWebhookEndpoint(&ctx, req, &resp);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
      EXPECT_TRUE(resp.signing_secret().empty());
    }
    {
      grpc::ClientContext ctx;
      Authorize(&ctx, b.key);
      v1::DeleteWebhookEndpointRequest req;
      req.set_endpoint_id(target);
      v1::DeleteWebhookEndpointResponse resp;
      EXPECT_EQ(stub->DeleteWebhookEndpoint(&ctx, req, &resp).error_code(),
                grpc::StatusCode::NOT_FOUND);
    }
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, b.key);
    v1::ListWebhookEndpointsResponse resp;
    ASSERT_TRUE(stub->ListWebhookEndpoints(&ctx, v1::ListWebhookEndpointsRequest(), &resp).ok());
    EXPECT_EQ(resp.endpoints_size(), 0);
  }
  // A's endpoint is untouched; a rotation shows a new secret once and keeps the old one signing.
  grpc::ClientContext ctx;
  Authorize(&ctx, a.key);
  v1::UpdateWebhookEndpointRequest req;
  req.set_endpoint_id(id);
  req.set_rotate_secret(true);
  v1::UpdateWebhookEndpointResponse resp;
  ASSERT_TRUE(stub->UpdateWebhookEndpoint(&ctx, req, &resp).ok());
  EXPECT_FALSE(resp.signing_secret().empty());
  EXPECT_NE(resp.signing_secret(), created.signing_secret());
  EXPECT_TRUE(resp.endpoint().has_previous_secret_expire_time());
}

TEST_F(WebhooksE2E, HangingReceiverTimesOutIsDisabledPastTheHorizonAndResumesWhenEnabled) {
  DaemonProcess d(Options("", {"--webhooks-retry-horizon-seconds", "3"}));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko Lambat");
  auto created = CreateEndpoint(d, biz, r.Url());
  std::string id = created.endpoint().endpoint_id();
  json up = {{"secrets", {created.signing_secret()}}};
  r.Control(up);
  ASSERT_TRUE(WaitActive(d, biz, id));
  // Answers only after the relay's 3 s timeout.
  json hanging = up;
  hanging["hang_ms"] = 4000;
  r.Control(hanging);
  Usr user = Register(d, "Rina");
  StartChat(d, user, biz);
  v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(d, user, biz, "masih ada?", "k1", &sent).ok());
  v1::WebhookEndpoint state;
  ASSERT_TRUE(WaitFor(
      [&] {
        state = GetEndpoint(d, biz, id);
        return state.state() == v1::WEBHOOK_ENDPOINT_STATE_DISABLED;
      },
      30s))
      << state.DebugString();
  EXPECT_EQ(state.last_error(), "transport: timeout");
  EXPECT_NE(state.disabled_reason().find("retry_horizon"), std::string::npos);
  EXPECT_GE(state.backlog(), 2);
  EXPECT_GT(state.oldest_event_age_seconds(), 0);
  // (The receiver logs its late answers as 200s; the relay had given up on them.)
  EXPECT_TRUE(DeliveredMessages(r).empty());
  // The business is told in its inbox, after the message it has not received.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    auto stream = v1::BusinessService::NewStub(d.PublicChannel())
                      ->StreamInbox(&ctx, v1::StreamInboxRequest());
    v1::StreamInboxResponse event;
    bool message_seen = false;
    std::optional<v1::WebhookEndpointNotice> notice;
    while (!notice && stream->Read(&event)) {
      message_seen = message_seen || event.has_message();
      if (event.has_webhook_notice()) notice = event.webhook_notice();
    }
    ctx.TryCancel();
    ASSERT_TRUE(notice.has_value());
    EXPECT_TRUE(message_seen);
    EXPECT_EQ(notice->endpoint_id(), id);
    EXPECT_EQ(notice->kind(), v1::WebhookEndpointNotice::KIND_DISABLED);
    EXPECT_NE(notice->reason().find("retry_horizon"), std::string::npos) << notice->DebugString();
    EXPECT_EQ(notice->last_error(), "transport: timeout");
    EXPECT_EQ(notice->url(), r.Url());
  }

  // Enabled again, it starts from the oldest event still kept: the notice, then the message.
  r.Control(up);
  grpc::ClientContext ctx;
  Authorize(&ctx, biz.key);
  v1::UpdateWebhookEndpointRequest req;
  req.set_endpoint_id(id);
  req.set_enabled(true);
  v1::UpdateWebhookEndpointResponse resp;
  ASSERT_TRUE(v1::BusinessService::NewStub(d.PublicChannel())
                  ->UpdateWebhookEndpoint(&ctx, req, &resp)
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 1; }, 20s));
  EXPECT_EQ(DeliveredMessages(r)[0], sent.message().message_id());
  EXPECT_TRUE(r.Delivered()[0]["body"].contains("notice"));
  // ... and the notice of its own disabling, as proto3 JSON.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto& req : r.Delivered()) {
          if (req["body"].contains("webhookNotice")) return true;
        }
        return false;
      },
      20s));
  for (auto& req : r.Delivered()) {
    if (!req["body"].contains("webhookNotice")) continue;
    EXPECT_EQ(req["body"]["webhookNotice"]["endpointId"], id);
    EXPECT_EQ(req["body"]["webhookNotice"]["kind"], "KIND_DISABLED");
  }
}

TEST_F(WebhooksE2E, TheCliAddsTestsListsAndRemovesAnEndpoint) {
  DaemonProcess d(Options(""));
  Receiver r(tls_);
  Biz biz = CreateBusiness(d, "Toko CLI");
  std::string addr = "127.0.0.1:" + std::to_string(d.public_port());
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {BIZRELAY_CLI_PATH, "--addr", addr, "--token", biz.key};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  auto added = cli({"--json", "webhook", "add", r.Url(), "--kinds", "message"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  auto created = json::parse(added.out);
  std::string id = created["endpoint"]["endpointId"];
  r.Control({{"secrets", {created["signingSecret"]}}});
  auto tested = cli({"webhook", "test", id});
  EXPECT_EQ(tested.exit_code, 0) << tested.out << tested.err;
  EXPECT_NE(tested.out.find("active"), std::string::npos) << tested.out;
  auto listed = cli({"webhook", "list"});
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_NE(listed.out.find(id), std::string::npos);
  EXPECT_NE(listed.out.find("backlog=0"), std::string::npos) << listed.out;
  auto rotated = cli({"webhook", "update", id, "--rotate-secret"});
  EXPECT_EQ(rotated.exit_code, 0);
  EXPECT_NE(rotated.out.find("new signing secret (shown only now): whsec_"), std::string::npos);
  auto removed = cli({"webhook", "remove", id});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  auto again = cli({"webhook", "remove", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("NOT_FOUND"), std::string::npos) << again.err;
}

TEST_F(WebhooksE2E, AnotherInstanceTakesOverWhenTheDeliveringOneIsKilled) {
  std::string db = store::testing::FreshDatabase();
  DaemonProcess first(Options(db));
  DaemonProcess second(Options(db));
  Receiver r(tls_);
  Biz biz = CreateBusiness(first, "Toko Dua");
  auto created = CreateEndpoint(first, biz, r.Url());
  std::string id = created.endpoint().endpoint_id();
  r.Control({{"secrets", {created.signing_secret()}}});
  ASSERT_TRUE(WaitActive(first, biz, id));
  std::string marker = "event=webhook_endpoint_driven endpoint_id=" + id;
  bool first_drives = first.Log().find(marker) != std::string::npos;
  DaemonProcess& driver = first_drives ? first : second;
  DaemonProcess& survivor = first_drives ? second : first;
  Usr user = Register(survivor, "Dewi");
  StartChat(survivor, user, biz);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        Send(survivor, user, biz, "sebelum " + std::to_string(i), "a" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 5; }, 20s));
  driver.Kill();
  auto killed_at = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        Send(survivor, user, biz, "sesudah " + std::to_string(i), "b" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return DeliveredMessages(r).size() == 10; }, 30s)) << survivor.Log();
  // Taken over within the lease (2 s) and a renewal, with room for a busy machine.
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 10s);
  // In order, and a duplicate is the same event under the same id.
  std::map<std::string, std::string> body_of;
  for (auto& req : r.Delivered()) {
    auto [it, fresh] = body_of.emplace(req["event_id"].get<std::string>(), req["body"].dump());
    if (!fresh) {
      EXPECT_EQ(it->second, req["body"].dump());
    }
  }
  std::vector<std::string> texts;
  for (auto& req : r.Delivered()) {
    if (req["body"].contains("message")) texts.push_back(req["body"]["message"]["text"]);
  }
  std::vector<std::string> unique;
  for (auto& t : texts) {
    if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(t);
  }
  ASSERT_EQ(unique.size(), 10u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(unique[i], "sebelum " + std::to_string(i));
    EXPECT_EQ(unique[5 + i], "sesudah " + std::to_string(i));
  }
}

}  // namespace
}  // namespace bizrelay::e2e

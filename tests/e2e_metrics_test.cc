// End-to-end: the Prometheus endpoint of a real bizrelayd. It carries rates, latencies and
// backlogs of hosted and personal traffic, never an id, a token or a text; and Debian's
// Prometheus server scrapes it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "bizrelay/v1/business_service.grpc.pb.h"
#include "services/platform/token.h"
#include "tests/harness/clients.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string Scrape(int port) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return "";
  return res->body;
}

// The value of the series `series` (name with its labels exactly as rendered), or -1.
double Value(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(MetricsE2E, HostedAndPersonalTrafficShowAsAggregatesWithoutAnyIdOrText) {
  DaemonProcess d(DaemonProcess::Options{.extra_args = {"--retention-sweep-interval-ms", "200"}});
  ASSERT_GT(d.metrics_port(), 0);
  std::vector<std::string> secrets = {d.OperatorToken()};  // every id, token and text used

  // Hosted: a business, two users, messages, the inbox stream, a reply.
  Biz biz = CreateBusiness(d, "Warung Metrik Rahasia");
  secrets.insert(secrets.end(), {biz.id, biz.key, "Warung Metrik Rahasia"});
  std::vector<std::string> conversations;
  for (const char* name : {"Dewi Sartika", "Bayu Saputra"}) {
    Usr u = Register(d, name);
    conversations.push_back(StartChat(d, u, biz));
    secrets.insert(secrets.end(), {u.id, u.token, name, conversations.back()});
    for (int i = 0; i < 5; ++i) {
      std::string text =
          std::string("Pesanan rahasia nomor ") + std::to_string(i) + " dari " + name;
      std::string key = "kunci-" + ToHex(RandomBytes(6));
      v1::SendMessageResponse sent;
      ASSERT_TRUE(Send(d, u, biz, text, key, &sent).ok());
      secrets.insert(secrets.end(), {text, key, sent.message().message_id()});
    }
  }
  auto business = v1::BusinessService::NewStub(d.PublicChannel());
  grpc::ClientContext inbox_ctx;
  Authorize(&inbox_ctx, biz.key);
  auto inbox = business->StreamInbox(&inbox_ctx, v1::StreamInboxRequest());
  v1::StreamInboxResponse event;
  ASSERT_TRUE(inbox->Read(&event));
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    v1::SendReplyRequest req;
    req.set_conversation_id(conversations[0]);
    req.set_text("Balasan rahasia dari warung");
    req.set_idempotency_key("balasan-1");
    v1::SendReplyResponse resp;
    auto s = business->SendReply(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    secrets.insert(secrets.end(),
                   {"Balasan rahasia dari warung", "balasan-1", resp.message().message_id()});
  }
  // A call to a method that does not exist, its path made of an id: counted as "other".
  {
    grpc::GenericStub generic(d.PublicChannel());
    grpc::ClientContext ctx;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/bizrelay.v1.UserChatService/" + biz.id, grpc::StubOptions(), &request,
                      &response, [&](grpc::Status s) { done.set_value(s); });
    EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }

  // Personal: two people exchange sealed messages.
  Person ani = Join(d, "Ani Personal", 4);
  Person budi = Join(d, "Budi Personal", 4);
  for (const Person* p : {&ani, &budi}) {
    secrets.insert(secrets.end(), {p->user_id, p->user_token, p->mailbox_id, p->owner_secret,
                                   ToHex(p->access_key), ToHex(p->identity.public_key)});
    for (const auto& t : p->tokens) secrets.push_back(ToHex(t.message()));
  }
  secrets.insert(secrets.end(), {"Ani Personal", "Budi Personal"});
  ASSERT_TRUE(SendTo(d, ani, budi, "Surat pribadi yang rahasia").ok());
  ASSERT_TRUE(SendTo(d, budi, ani, "Balasan pribadi yang rahasia").ok());
  secrets.insert(secrets.end(), {"Surat pribadi yang rahasia", "Balasan pribadi yang rahasia"});
  EXPECT_EQ(Receive(d, budi, 1).size(), 1u);
  EXPECT_EQ(Receive(d, ani, 1).size(), 1u);

  std::string text = Scrape(d.metrics_port());
  ASSERT_FALSE(text.empty());
  inbox_ctx.TryCancel();

  // Rates and latencies by method and code, on each server.
  EXPECT_EQ(Value(text,
                  "bizrelay_grpc_server_handled_total{server=\"public\",service=\"bizrelay.v1."
                  "UserChatService\",method=\"SendMessage\",code=\"OK\"}"),
            10);
  EXPECT_EQ(Value(text,
                  "bizrelay_grpc_server_handling_seconds_count{server=\"public\",service="
                  "\"bizrelay.v1.UserChatService\",method=\"SendMessage\",code=\"OK\"}"),
            10);
  EXPECT_EQ(Value(text,
                  "bizrelay_grpc_server_handled_total{server=\"personal\",service=\"bizrelay.v1."
                  "PersonalRelayService\",method=\"SendSealed\",code=\"OK\"}"),
            2);
  EXPECT_EQ(Value(text,
                  "bizrelay_grpc_server_handled_total{server=\"public\",service=\"other\","
                  "method=\"other\",code=\"UNIMPLEMENTED\"}"),
            1);
  // Group commit, tokens, pools, reachability, streams, sweeper.
  EXPECT_EQ(Value(text, "bizrelay_group_commit_batch_size_sum{path=\"hosting\"}"), 10);
  EXPECT_GE(Value(text, "bizrelay_group_commit_seconds_count{path=\"hosting\"}"), 1);
  EXPECT_EQ(Value(text, "bizrelay_group_commit_batch_size_sum{path=\"personal\"}"), 2);
  EXPECT_EQ(Value(text, "bizrelay_send_tokens_issued_total"), 8);
  EXPECT_EQ(Value(text, "bizrelay_send_tokens_spent_total"), 4);  // 2 mailboxes, 2 sends
  EXPECT_EQ(Value(text, "bizrelay_database_up{path=\"hosting\"}"), 1);
  EXPECT_EQ(Value(text, "bizrelay_database_up{path=\"personal\"}"), 1);
  EXPECT_EQ(Value(text, "bizrelay_db_pool_queued{pool=\"hosting\"}"), 0);
  EXPECT_EQ(Value(text, "bizrelay_open_streams{path=\"hosting\"}"), 1);
  EXPECT_GE(Value(text, "bizrelay_sweeper_deleted_total{kind=\"messages\"}"), 0);
  EXPECT_GE(Value(text, "bizrelay_sweeper_expiry_lag_seconds"), 0);
  EXPECT_EQ(Value(text, "bizrelay_embedded_postgres_restarts_total"), 0);

  // Privacy: nothing the clients used appears anywhere in the output...
  for (const auto& s : secrets) {
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(text.find(s), std::string::npos) << "metrics carry '" << s << "'";
  }
  // ... and cannot: every line is a comment or a series of fixed-vocabulary labels and a number.
  std::regex series(R"(^[a-z_]+(\{[a-z_]+="[A-Za-z0-9_./+-]*"(,[a-z_]+="[A-Za-z0-9_./+-]*")*\})? )"
                    R"(([0-9.e+-]+|NaN|\+Inf)$)");
  std::regex comment(R"(^# (HELP|TYPE) [a-z_]+ [A-Za-z0-9 ,.;:'()/_+-]+$)");
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_TRUE(std::regex_match(line, series) || std::regex_match(line, comment)) << line;
  }
  EXPECT_GT(n, 50);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Debian's Prometheus server, on loopback, with its data in `dir`; stopped by the destructor.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::filesystem::path& dir, int scrape_port) : port_(FreePort()) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: bizrelayd\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << scrape_port << "']\n";
    std::vector<std::string> args = {"/usr/bin/prometheus",
                                     "--config.file=" + (dir / "prometheus.yml").string(),
                                     "--storage.tsdb.path=" + (dir / "data").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = (dir / "prometheus.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~PrometheusProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(50ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool started() const { return pid_ > 0; }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

TEST(MetricsE2E, PrometheusScrapesTheEndpointAndAnswersQueriesAboutIt) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/prometheus"))
      << "Debian's prometheus package is needed (./dev setup installs it)";
  DaemonProcess d;
  ASSERT_GT(d.metrics_port(), 0);
  Usr u = Register(d, "Penguji Prometheus");
  PrometheusProcess prometheus(d.data_dir() / "prometheus", d.metrics_port());
  ASSERT_TRUE(prometheus.started());
  httplib::Client api("127.0.0.1", prometheus.port());
  const std::string query =
      "/api/v1/query?query=" +
      httplib::detail::encode_query_param(
          "bizrelay_grpc_server_handled_total{service=\"bizrelay.v1.AccountService\","
          "method=\"RegisterUser\",code=\"OK\"}");
  std::string value;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (value.empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(500ms);
    auto res = api.Get(query.c_str());
    if (!res || res->status != 200) continue;
    auto body = nlohmann::json::parse(res->body);
    if (body["status"] != "success" || body["data"]["result"].empty()) continue;
    value = body["data"]["result"][0]["value"][1].get<std::string>();
    EXPECT_EQ(body["data"]["result"][0]["metric"]["job"], "bizrelayd");
  }
  EXPECT_EQ(value, "1") << "Prometheus never returned the series";
  // The scrape target is healthy in Prometheus's own eyes.
  auto targets = api.Get("/api/v1/targets");
  ASSERT_TRUE(targets);
  EXPECT_THAT(targets->body, HasSubstr("\"health\":\"up\""));
}

}  // namespace
}  // namespace bizrelay::e2e

// End-to-end: the real bizrelayd, probed over real sockets by buf curl (through reflection),
// Python grpcio and our generated C++ stubs.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/command.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/tls_material.h"

namespace bizrelay::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(FoundationE2E, BufCurlThroughReflection) {
  DaemonProcess d;
  auto methods = BufCurl(d.public_port(), "", {"--list-methods"});
  ASSERT_EQ(methods.exit_code, 0) << methods.err;
  EXPECT_THAT(methods.out, HasSubstr("bizrelay.v1.AccountService/RegisterUser"));
  EXPECT_THAT(methods.out, HasSubstr("grpc.health.v1.Health/Check"));
  EXPECT_THAT(methods.out, Not(HasSubstr("OperatorService")));
  auto op_methods = BufCurl(d.operator_port(), "", {"--list-methods"});
  EXPECT_THAT(op_methods.out, HasSubstr("bizrelay.v1.OperatorService/CreateBusiness"));

  auto health = BufCurl(d.public_port(), "grpc.health.v1.Health/Check", {});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_THAT(health.out, HasSubstr("\"SERVING\""));
  auto svc_health = BufCurl(d.public_port(), "grpc.health.v1.Health/Check",
                            {"-d", R"({"service":"bizrelay.v1.AccountService"})"});
  EXPECT_THAT(svc_health.out, HasSubstr("\"SERVING\""));

  auto created =
      BufCurl(d.operator_port(), "bizrelay.v1.OperatorService/CreateBusiness",
              {"-H", "authorization: Bearer " + d.OperatorToken(), "-d",
               R"({"profile":{"display_name":"Toko Ibu","website":"https://toko.example"}})"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("\"apiKey\": \"brb_"));
  EXPECT_THAT(created.out, HasSubstr("BUSINESS_STATE_ACTIVE"));

  auto user = BufCurl(d.public_port(), "bizrelay.v1.AccountService/RegisterUser",
                      {"-d", R"({"display_name":"Siti"})"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  auto at = user.out.find("bru_");
  ASSERT_NE(at, std::string::npos) << user.out;
  std::string token = user.out.substr(at, user.out.find('"', at) - at);

  auto profile = BufCurl(d.public_port(), "bizrelay.v1.AccountService/GetProfile",
                         {"-H", "authorization: Bearer " + token});
  EXPECT_EQ(profile.exit_code, 0) << profile.err;
  EXPECT_THAT(profile.out, HasSubstr("\"displayName\": \"Siti\""));

  auto anonymous = BufCurl(d.public_port(), "bizrelay.v1.AccountService/GetProfile", {});
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_THAT(anonymous.out + anonymous.err, HasSubstr("unauthenticated"));

  auto wrong = BufCurl(
      d.operator_port(), "bizrelay.v1.OperatorService/CreateBusiness",
      {"-H", "authorization: Bearer " + token, "-d", R"({"profile":{"display_name":"Sneaky"}})"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.out + wrong.err, HasSubstr("permission_denied"));

  // No token, key or secret in the log.
  std::string log = d.Log();
  EXPECT_FALSE(Contains(log, token));
  EXPECT_FALSE(Contains(log, d.OperatorToken()));
  EXPECT_FALSE(Contains(log, "brb_"));
}

TEST(FoundationE2E, ProtosAreBufLintClean) {
  auto lint = RunCommand({BufPath(), "lint", std::string(BIZRELAY_SOURCE_DIR) + "/proto"});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
}

// Every API change since 4ea16fd (before rich messages) is additive: existing clients keep
// working. The baseline is a kept copy, so the check needs no git history (shallow clones).
TEST(FoundationE2E, ApiIsBackwardCompatible) {
  std::string root = BIZRELAY_SOURCE_DIR;
  auto breaking = RunCommand(
      {BufPath(), "breaking", root + "/proto", "--against", root + "/tests/api_baseline/4ea16fd"});
  EXPECT_EQ(breaking.exit_code, 0) << breaking.out << breaking.err;
}

TEST(FoundationE2E, PythonGrpcioClient) {
  DaemonProcess d;
  auto r = RunCommand({"/usr/bin/python3",
                       std::string(BIZRELAY_SOURCE_DIR) + "/tests/python/foundation_client.py",
                       BIZRELAY_PY_STUBS, std::to_string(d.public_port()),
                       std::to_string(d.operator_port()), d.OperatorToken()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("all checks passed"));
}

TEST(FoundationE2E, OversizedAndMalformedRequests) {
  DaemonProcess d;
  auto stub = v1::AccountService::NewStub(d.PublicChannel());
  {
    grpc::ClientContext ctx;
    v1::RegisterUserRequest req;
    req.set_display_name(std::string(300 * 1024, 'a'));
    v1::RegisterUserResponse resp;
    auto s = stub->RegisterUser(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }
  // (Invalid UTF-8 cannot reach our checks: proto3 string parsing refuses it first.)
  for (const std::string& bad :
       {std::string(""), std::string(101, 'x'), std::string("tab\there"), std::string("bell\a")}) {
    grpc::ClientContext ctx;
    v1::RegisterUserRequest req;
    req.set_display_name(bad);
    v1::RegisterUserResponse resp;
    auto s = stub->RegisterUser(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ErrorReason(s), "INVALID_FIELD");
  }
  auto ops = v1::OperatorService::NewStub(d.OperatorChannel());
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, d.OperatorToken());
    v1::CreateBusinessRequest req;
    req.mutable_profile()->set_display_name("ok");
    req.mutable_profile()->set_website("javascript:alert(1)");
    v1::CreateBusinessResponse resp;
    auto s = ops->CreateBusiness(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ErrorReason(s), "INVALID_FIELD");
  }
  // Unknown and malformed ids are indistinguishable.
  std::string messages[2];
  int i = 0;
  for (const std::string& id : {std::string("00000000-0000-4000-8000-000000000000"),
                                std::string("'; DROP TABLE core.businesses; --")}) {
    grpc::ClientContext ctx;
    Authorize(&ctx, d.OperatorToken());
    v1::GetBusinessRequest req;
    req.set_business_id(id);
    v1::GetBusinessResponse resp;
    auto s = ops->GetBusiness(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    messages[i++] = s.error_message();
  }
  EXPECT_EQ(messages[0], messages[1]);
}

// Feeds random bytes as the request of every bizrelay method the server lists; each call must
// end with a status and the server must keep serving.
TEST(FoundationE2E, RandomBytesToEveryMethod) {
  DaemonProcess d;
  std::mt19937 rng(20261123);
  grpc::GenericStub public_stub(d.PublicChannel());
  grpc::GenericStub operator_stub(d.OperatorChannel());
  grpc::GenericStub personal_stub(d.PersonalChannel());
  int calls = 0;
  // Each service's descriptor, reached through a message of its file (which also links it in).
  const google::protobuf::ServiceDescriptor* services[] = {
      v1::RegisterUserRequest::descriptor()->file()->service(0),
      v1::CreateBusinessRequest::descriptor()->file()->service(0),
      v1::SendMessageRequest::descriptor()->file()->service(0),
      v1::SendReplyRequest::descriptor()->file()->service(0),
      v1::SendSealedRequest::descriptor()->file()->service(0)};
  for (const auto* service : services) {
    ASSERT_NE(service, nullptr);
    const std::string& name = service->full_name();
    const char* service_name = name.c_str();
    grpc::GenericStub& stub = name == "bizrelay.v1.OperatorService"        ? operator_stub
                              : name == "bizrelay.v1.PersonalRelayService" ? personal_stub
                                                                           : public_stub;
    for (int m = 0; m < service->method_count(); ++m) {
      std::string method = "/" + std::string(service_name) + "/" + service->method(m)->name();
      // Server-streaming methods answer a bad request too; only unary ones are probed here.
      if (service->method(m)->server_streaming()) continue;
      for (int round = 0; round < 40; ++round) {
        std::string bytes(rng() % 512, '\0');
        for (auto& c : bytes) c = static_cast<char>(rng());
        grpc::Slice slice(bytes);
        grpc::ByteBuffer request(&slice, 1), response;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        if (round % 2 == 0) Authorize(&ctx, d.OperatorToken());
        std::promise<grpc::Status> done;
        stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                       [&](grpc::Status s) { done.set_value(s); });
        auto status = done.get_future().get();
        EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << method;
        EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << method;
        ++calls;
      }
    }
  }
  EXPECT_GT(calls, 1000);
  auto health = grpc::health::v1::Health::NewStub(d.PublicChannel());
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(FoundationE2E, GracefulShutdownOnSigterm) {
  DaemonProcess d;
  auto health = grpc::health::v1::Health::NewStub(d.PublicChannel());
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  auto watch = health->Watch(&ctx, req);
  grpc::health::v1::HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto exit_code = std::async(std::launch::async, [&] { return d.Terminate(); });
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(watch->Read(&update));
  EXPECT_TRUE(watch->Finish().ok());
  EXPECT_EQ(exit_code.get(), 0);
  // The embedded PostgreSQL was stopped too.
  EXPECT_FALSE(std::filesystem::exists(d.data_dir() / "pg" / "postmaster.pid"));
  EXPECT_THAT(d.Log(), HasSubstr("event=shutdown_complete"));
}

TEST(FoundationE2E, TwoInstancesStartTogetherOnOneDatabase) {
  std::string url = store::testing::FreshDatabase();
  std::unique_ptr<DaemonProcess> a, b;
  std::thread ta([&] { a = std::make_unique<DaemonProcess>(DaemonProcess::Options{url}); });
  std::thread tb([&] { b = std::make_unique<DaemonProcess>(DaemonProcess::Options{url}); });
  ta.join();
  tb.join();
  ASSERT_GT(a->public_port(), 0);
  ASSERT_GT(b->public_port(), 0);
  {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    auto applied = tx.exec1("SELECT count(*) FROM public.bizrelay_migrations")[0].as<int>();
    EXPECT_GT(applied, 0);
    EXPECT_EQ(tx.exec1("SELECT count(DISTINCT name) FROM public.bizrelay_migrations")[0].as<int>(),
              applied);
  }
  // Stateless: a user registered on A is known to B.
  v1::RegisterUserResponse reg;
  {
    grpc::ClientContext ctx;
    v1::RegisterUserRequest req;
    req.set_display_name("Rina");
    ASSERT_TRUE(
        v1::AccountService::NewStub(a->PublicChannel())->RegisterUser(&ctx, req, &reg).ok());
  }
  grpc::ClientContext ctx;
  Authorize(&ctx, reg.token());
  v1::GetProfileResponse profile;
  ASSERT_TRUE(v1::AccountService::NewStub(b->PublicChannel())
                  ->GetProfile(&ctx, v1::GetProfileRequest(), &profile)
                  .ok());
  EXPECT_EQ(profile.profile().display_name(), "Rina");
}

TEST(FoundationE2E, RefusesUnsafeDurabilityUnlessAllowed) {
  std::string url = store::testing::FreshDatabase() + " options='-c synchronous_commit=off'";
  {
    DaemonProcess d(DaemonProcess::Options{.database_url = url, .expect_ready = false});
    EXPECT_EQ(d.WaitExit(60), 1);
    EXPECT_THAT(d.Log(), HasSubstr("synchronous_commit=off"));
  }
  DaemonProcess allowed(DaemonProcess::Options{
      .database_url = url, .extra_args = {"--database-allow-unsafe-durability", "true"}});
  EXPECT_GT(allowed.public_port(), 0);
  EXPECT_THAT(allowed.Log(), HasSubstr("event=unsafe_durability"));
}

TEST(FoundationE2E, ConfigurationErrorsExitWithStatus2) {
  DaemonProcess flag(
      DaemonProcess::Options{.extra_args = {"--no-such-option", "1"}, .expect_ready = false});
  EXPECT_EQ(flag.WaitExit(30), 2);
  DaemonProcess value(DaemonProcess::Options{.extra_args = {"--limits-max-message-bytes", "huge"},
                                             .expect_ready = false});
  EXPECT_EQ(value.WaitExit(30), 2);
  EXPECT_THAT(value.Log(), HasSubstr("limits.max_message_bytes"));
}

TEST(FoundationE2E, TlsAndMutualTls) {
  char tmpl[] = "/tmp/bizrelay-tls-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  ASSERT_TRUE(MakeTlsMaterial(dir));
  auto p = [&](const char* f) { return (dir / f).string(); };
  DaemonProcess d(DaemonProcess::Options{
      .extra_args = {"--tls-plaintext", "false", "--tls-cert-file", p("server.pem"),
                     "--tls-key-file", p("server-key.pem"), "--tls-client-ca-file", p("ca.pem"),
                     "--tls-require-client-cert", "true"}});
  std::string url =
      "https://localhost:" + std::to_string(d.public_port()) + "/grpc.health.v1.Health/Check";
  auto with_cert = RunCommand({BufPath(), "curl", "--protocol", "grpc", "--cacert", p("ca.pem"),
                               "--cert", p("client.pem"), "--key", p("client-key.pem"), url});
  EXPECT_EQ(with_cert.exit_code, 0) << with_cert.err;
  EXPECT_THAT(with_cert.out, HasSubstr("SERVING"));
  auto without_cert =
      RunCommand({BufPath(), "curl", "--protocol", "grpc", "--cacert", p("ca.pem"), url});
  EXPECT_NE(without_cert.exit_code, 0);
  auto plaintext = BufCurl(d.public_port(), "grpc.health.v1.Health/Check", {});
  EXPECT_NE(plaintext.exit_code, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bizrelay::e2e

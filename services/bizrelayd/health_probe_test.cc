#include "services/bizrelayd/health_probe.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "services/rpc/health_service.h"

namespace bizrelay::daemon {
namespace {

using grpc::health::v1::HealthCheckResponse;

class HealthProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override { server_->Shutdown(); }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "health");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    out_.str("");
    err_.str("");
    return RunHealthProbe(static_cast<int>(argv.size()), argv.data(), out_, err_);
  }

  rpc::HealthService health_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(HealthProbeTest, ExitsZeroOnlyWhenServing) {
  health_.SetStatus("", HealthCheckResponse::SERVING);
  EXPECT_EQ(Run({"--plaintext", "--address", address_}), 0) << err_.str();
  EXPECT_EQ(out_.str(), address_ + " SERVING\n");

  health_.SetStatus("", HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Run({"--plaintext", "--address", address_}), 1);
  EXPECT_EQ(out_.str(), address_ + " NOT_SERVING\n");
}

TEST_F(HealthProbeTest, ChecksTheNamedService) {
  health_.SetStatus("", HealthCheckResponse::SERVING);
  health_.SetStatus("bizrelay.v1.UserChatService", HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Run({"--plaintext", "--address", address_, "--service", "bizrelay.v1.UserChatService"}),
            1);
}

TEST_F(HealthProbeTest, EveryAddressMustServe) {
  health_.SetStatus("", HealthCheckResponse::SERVING);
  // Port 1 on loopback: nothing listens there, so the call fails within the deadline.
  EXPECT_EQ(Run({"--plaintext", "--timeout-ms", "500", "--address", address_, "--address",
                 "127.0.0.1:1"}),
            1);
  EXPECT_NE(out_.str().find(address_ + " SERVING\n"), std::string::npos);
  EXPECT_NE(out_.str().find("127.0.0.1:1 UNREACHABLE"), std::string::npos);
}

TEST_F(HealthProbeTest, TlsAgainstAPlaintextServerIsNotServing) {
  health_.SetStatus("", HealthCheckResponse::SERVING);
  EXPECT_EQ(Run({"--timeout-ms", "500", "--address", address_}), 1);
}

TEST_F(HealthProbeTest, UsageErrors) {
  EXPECT_EQ(Run({"--plaintext"}), 2);  // no --address
  EXPECT_EQ(Run({"--address", address_, "--ca-file", "/nonexistent/ca.pem"}), 2);
  EXPECT_EQ(Run({"--address", address_, "--cert-file", "c.pem"}), 2);  // without --key-file
  EXPECT_EQ(Run({"--help"}), 0);
}

}  // namespace
}  // namespace bizrelay::daemon

#include "services/rpc/status.h"

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace bizrelay::rpc {
namespace {

TEST(StatusTest, CarriesCodeReasonAndMetadata) {
  grpc::Status s = ToGrpcStatus(InvalidField("profile.display_name", "too long"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "INVALID_FIELD");
  EXPECT_EQ(info.domain(), "bizrelay.v1");
  EXPECT_EQ(info.metadata().at("field"), "profile.display_name");
}

TEST(StatusTest, RetryDelayBecomesRetryInfo) {
  grpc::Status s = ToGrpcStatus(Error(ErrorCode::kResourceExhausted, "RATE_LIMITED", "slow down",
                                      {{"retry_delay_ms", "1500"}}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  ASSERT_EQ(details.details_size(), 2);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(1).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
}

}  // namespace
}  // namespace bizrelay::rpc

#include "services/rpc/bearer.h"

#include <gtest/gtest.h>

namespace bizrelay::rpc {
namespace {

using Md = std::multimap<grpc::string_ref, grpc::string_ref>;

TEST(BearerTest, ParsesTheToken) {
  Md md{{"authorization", "Bearer bru_abc"}};
  EXPECT_EQ(BearerToken(md), "bru_abc");
  Md lower{{"authorization", "bearer bru_abc"}};
  EXPECT_EQ(BearerToken(lower), "bru_abc");
}

TEST(BearerTest, RejectsMissingMalformedDuplicateAndOversized) {
  EXPECT_EQ(BearerToken(Md{}), std::nullopt);
  EXPECT_EQ(BearerToken(Md{{"authorization", "Basic abc"}}), std::nullopt);
  EXPECT_EQ(BearerToken(Md{{"authorization", "Bearer "}}), std::nullopt);
  EXPECT_EQ(BearerToken(Md{{"authorization", "Bearer a"}, {"authorization", "Bearer b"}}),
            std::nullopt);
  std::string big = "Bearer " + std::string(kMaxBearerLength + 1, 'x');
  EXPECT_EQ(BearerToken(Md{{"authorization", big}}), std::nullopt);
}

}  // namespace
}  // namespace bizrelay::rpc

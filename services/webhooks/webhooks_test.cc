#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <random>

#include "services/platform/error.h"
#include "services/webhooks/retry.h"
#include "services/webhooks/signature.h"
#include "services/webhooks/target.h"
#include "services/webhooks/webhook_desk.h"

namespace bizrelay::webhooks {
namespace {

bool Forbidden(const std::string& text) {
  sockaddr_storage storage{};
  if (text.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &a->sin6_addr), 1) << text;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &a->sin_addr), 1) << text;
  }
  return IsForbiddenAddress(reinterpret_cast<sockaddr*>(&storage));
}

std::string ReasonOf(const std::string& url, TargetPolicy policy) {
  try {
    CheckWebhookUrl(url, policy);
    return "";
  } catch (const Error& e) {
    return e.reason();
  }
}

// RFC 4231 test case 2.
TEST(Signature, HmacSha256MatchesTheRfcVector) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, HeaderSignsTimestampDotBodyWithEverySecret) {
  std::string header = SignatureHeader(1700000000, R"({"a":1})", {"new", "old"});
  EXPECT_EQ(header, "t=1700000000,v1=" + HmacSha256Hex("new", R"(1700000000.{"a":1})") +
                        ",v1=" + HmacSha256Hex("old", R"(1700000000.{"a":1})"));
}

TEST(Target, RefusesLoopbackPrivateLinkLocalAndMetadataAddresses) {
  for (const char* a :
       {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "64:ff9b::a00:1"}) {
    EXPECT_TRUE(Forbidden(a)) << a;
  }
  for (const char* a : {"8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111"}) {
    EXPECT_FALSE(Forbidden(a)) << a;
  }
}

TEST(Target, OnlyHttpsUnlessPlainHttpIsAllowed) {
  TargetPolicy strict;
  EXPECT_EQ(ReasonOf("http://8.8.8.8/hook", strict), "WEBHOOK_TARGET_NOT_ALLOWED");
  EXPECT_EQ(ReasonOf("ftp://8.8.8.8/hook", strict), "WEBHOOK_TARGET_NOT_ALLOWED");
  EXPECT_EQ(ReasonOf("https://8.8.8.8/hook", strict), "");
  EXPECT_EQ(ReasonOf("http://8.8.8.8/hook", {.allow_plain_http = true}), "");
  EXPECT_EQ(ReasonOf("not a url", strict), "INVALID_FIELD");
  EXPECT_EQ(ReasonOf("https://user:pw@8.8.8.8/", strict), "INVALID_FIELD");
  EXPECT_EQ(ReasonOf("", strict), "INVALID_FIELD");
}

TEST(Target, PrivateTargetsOnlyWithTheFlag) {
  TargetPolicy strict;
  EXPECT_EQ(ReasonOf("https://127.0.0.1:8443/hook", strict), "WEBHOOK_TARGET_NOT_ALLOWED");
  EXPECT_EQ(ReasonOf("https://localhost/hook", strict), "WEBHOOK_TARGET_NOT_ALLOWED");
  EXPECT_EQ(ReasonOf("https://[::1]/hook", strict), "WEBHOOK_TARGET_NOT_ALLOWED");
  EXPECT_EQ(ReasonOf("https://169.254.169.254/latest/meta-data", strict),
            "WEBHOOK_TARGET_NOT_ALLOWED");
  EXPECT_EQ(ReasonOf("https://127.0.0.1:8443/hook", {.allow_private_targets = true}), "");
}

TEST(Retry, DelaysGrowExponentiallyWithJitterUpToTheCap) {
  std::mt19937_64 rng(7);
  using std::chrono::milliseconds;
  for (int failures = 1; failures <= 30; ++failures) {
    for (int i = 0; i < 50; ++i) {
      auto d = RetryDelay(failures, milliseconds(1000), milliseconds(60000), rng);
      int64_t ceiling = std::min<int64_t>(60000, 1000LL << std::min(failures - 1, 20));
      EXPECT_GE(d.count(), ceiling / 2) << failures;
      EXPECT_LE(d.count(), ceiling) << failures;
    }
  }
}

TEST(Retry, RetryAfterInSecondsOrAsAnHttpDate) {
  EXPECT_EQ(ParseRetryAfter(" 3 ", 0), std::chrono::seconds(3));
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 20),
            std::chrono::seconds(20));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 20),
            std::chrono::seconds(0));
  EXPECT_EQ(ParseRetryAfter("soon", 0), std::nullopt);
}

TEST(Secret, OpensOnlyAsTheSecretOfItsOwnEndpoint) {
  std::string key(32, 'k');
  std::string sealed = WebhookDesk::SealSecret(key, "biz", "endpoint-1", "whsec_abc");
  EXPECT_EQ(sealed.find("whsec_abc"), std::string::npos);
  EXPECT_EQ(WebhookDesk::OpenSecret(key, "biz", "endpoint-1", sealed), "whsec_abc");
  EXPECT_EQ(WebhookDesk::OpenSecret(key, "biz", "endpoint-2", sealed), std::nullopt);
  EXPECT_EQ(WebhookDesk::OpenSecret(std::string(32, 'x'), "biz", "endpoint-1", sealed),
            std::nullopt);
}

}  // namespace
}  // namespace bizrelay::webhooks

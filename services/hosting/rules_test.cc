#include "services/hosting/rules.h"

#include <gtest/gtest.h>

#include "services/platform/error.h"

namespace bizrelay::hosting {
namespace {

std::string ReasonOf(auto fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.reason() + ":" + (e.metadata().count("field") ? e.metadata().at("field") : "");
  }
  return "no error";
}

TEST(RulesTest, ServiceWindow) {
  HostingOptions o;
  EXPECT_FALSE(ServiceWindowOpen(std::nullopt, o));
  EXPECT_TRUE(ServiceWindowOpen(0, o));
  EXPECT_TRUE(ServiceWindowOpen(24 * 3600 - 1, o));
  EXPECT_FALSE(ServiceWindowOpen(24 * 3600 + 1, o));
  o.service_window = std::chrono::seconds(2);
  EXPECT_FALSE(ServiceWindowOpen(3, o));
}

TEST(RulesTest, TemplatesListAndFillParameters) {
  HostingOptions o;
  auto def = ParseTemplate("order_ready", "Hi {{name}}, order {{order}} is ready. {{name}}!", o);
  EXPECT_EQ(def.parameters, (std::vector<std::string>{"name", "order"}));
  EXPECT_EQ(FillTemplate(def, {{"name", "Siti"}, {"order", "42"}}, o),
            "Hi Siti, order 42 is ready. Siti!");
  EXPECT_EQ(ReasonOf([&] {
              FillTemplate(def, {{"name", "Siti"}}, o);
            }),
            "INVALID_FIELD:template_parameters");
  EXPECT_EQ(ReasonOf([&] {
              FillTemplate(def, {{"name", "a"}, {"order", "1"}, {"x", "y"}}, o);
            }),
            "INVALID_FIELD:template_parameters");
  EXPECT_EQ(ReasonOf([&] { ParseTemplate("Bad Name", "x", o); }), "INVALID_FIELD:name");
  EXPECT_EQ(ReasonOf([&] { ParseTemplate("ok", "Hi {{name", o); }), "INVALID_FIELD:body");
  EXPECT_EQ(ReasonOf([&] { ParseTemplate("ok", "Hi {{Na-me}}", o); }), "INVALID_FIELD:body");
}

TEST(RulesTest, FilledTemplateObeysTextLimit) {
  HostingOptions o;
  o.max_text_chars = 10;
  auto def = ParseTemplate("t", "x{{v}}", o);
  EXPECT_EQ(ReasonOf([&] {
              FillTemplate(def, {{"v", std::string(20, 'a')}}, o);
            }),
            "INVALID_FIELD:template_parameters");
}

TEST(RulesTest, PageTokensRoundTripAndRejectGarbage) {
  auto token = EncodePageToken({"123", "abc"});
  EXPECT_EQ(DecodePageToken(token, 2), (std::vector<std::string>{"123", "abc"}));
  EXPECT_EQ(ReasonOf([&] { DecodePageToken(token, 1); }), "INVALID_FIELD:page_token");
  EXPECT_EQ(ReasonOf([&] { DecodePageToken("!!!", 1); }), "INVALID_FIELD:page_token");
  EXPECT_EQ(ReasonOf([&] { DecodePageToken(std::string(600, 'A'), 1); }),
            "INVALID_FIELD:page_token");
}

TEST(RulesTest, PageSizes) {
  EXPECT_EQ(PageSize(0, 50, 100), 50);
  EXPECT_EQ(PageSize(500, 50, 100), 100);
  EXPECT_EQ(PageSize(7, 50, 100), 7);
  EXPECT_EQ(ReasonOf([] { PageSize(-1, 50, 100); }), "INVALID_FIELD:page_size");
}

TEST(RulesTest, TextAndKeyLimits) {
  HostingOptions o;
  EXPECT_EQ(ReasonOf([&] { CheckMessageText("text", "", o); }), "INVALID_FIELD:text");
  EXPECT_EQ(ReasonOf([&] { CheckMessageText("text", std::string(4097, 'a'), o); }),
            "INVALID_FIELD:text");
  EXPECT_EQ(ReasonOf([&] { CheckIdempotencyKey(std::string(129, 'k'), o); }),
            "INVALID_FIELD:idempotency_key");
  CheckMessageText("text", "multi\nline", o);
}

TEST(RulesTest, RequestHashSeparatesFields) {
  EXPECT_NE(RequestHash({"ab", "c"}), RequestHash({"a", "bc"}));
  EXPECT_EQ(RequestHash({"a", "b"}), RequestHash({"a", "b"}));
}

TEST(RulesTest, DisclosureSaysHostedRetentionAndStatement) {
  auto s = DisclosureSummary("Toko", 30 * 86400, false, {{"orders", 7200}},
                             "We use chats to handle orders.");
  EXPECT_NE(s.find("hosted"), std::string::npos);
  EXPECT_NE(s.find("30 days"), std::string::npos);
  EXPECT_NE(s.find("orders conversations: 2 hours"), std::string::npos);
  EXPECT_NE(s.find("We use chats to handle orders."), std::string::npos);
  EXPECT_NE(DisclosureSummary("Toko", 86400, false, {}, "").find("has not said"),
            std::string::npos);
  EXPECT_NE(DisclosureSummary("Toko", 86400, true, {}, "").find("only until they are delivered"),
            std::string::npos);
}

TEST(RulesTest, RetentionRulesStayWithinBounds) {
  HostingOptions o;
  o.min_lifetime_seconds = 60;
  o.max_lifetime_seconds = 3600;
  EXPECT_EQ(ReasonOf([&] {
              CheckRetentionRule({30, false, {}}, o);
            }),
            "RETENTION_OUT_OF_BOUNDS:policy.default_lifetime_seconds");
  EXPECT_EQ(ReasonOf([&] {
              CheckRetentionRule({60, false, {{"orders", 7200}}}, o);
            }),
            "RETENTION_OUT_OF_BOUNDS:policy.label_lifetimes.lifetime_seconds");
  auto rule = CheckRetentionRule({0, true, {{"b", 60}, {"a", 120}}}, o);
  EXPECT_EQ(rule.label_lifetimes.front().first, "a");  // sorted
  EXPECT_EQ(HumanDuration(90), "90 seconds");
  EXPECT_EQ(HumanDuration(3600), "1 hour");
}

}  // namespace
}  // namespace bizrelay::hosting

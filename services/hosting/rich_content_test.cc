#include "services/hosting/rich_content.h"

#include <gtest/gtest.h>

#include <limits>

#include "services/platform/error.h"

namespace bizrelay::hosting {
namespace {

// The field and rule of the INVALID_ARGUMENT that checking `content` from `from` gives, or
// "ok".
std::string Refusal(const v1::MessageContent& content, Party from = Party::kBusiness) {
  try {
    CheckContent(content, from);
    return "ok";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_EQ(e.reason(), "INVALID_FIELD");
    auto field = e.metadata().find("field");
    auto rule = e.metadata().find("rule");
    if (field == e.metadata().end() || rule == e.metadata().end()) return "no field or rule";
    return field->second + " " + rule->second;
  }
}

v1::MessageContent Buttons(std::initializer_list<std::pair<std::string, std::string>> buttons) {
  v1::MessageContent c;
  c.mutable_interactive()->set_body("Pick one");
  c.mutable_interactive()->mutable_buttons();
  for (const auto& [id, title] : buttons) {
    auto* b = c.mutable_interactive()->mutable_buttons()->add_buttons();
    b->set_id(id);
    b->set_title(title);
  }
  return c;
}

v1::MessageContent ListOf(int sections, int rows_each) {
  v1::MessageContent c;
  c.mutable_interactive()->set_body("Menu");
  auto* list = c.mutable_interactive()->mutable_list();
  list->set_button_text("See menu");
  for (int s = 0; s < sections; ++s) {
    auto* section = list->add_sections();
    section->set_title("S" + std::to_string(s));
    for (int r = 0; r < rows_each; ++r) {
      auto* row = section->add_rows();
      row->set_id("r" + std::to_string(s) + "_" + std::to_string(r));
      row->set_title("Row");
    }
  }
  return c;
}

TEST(RichContent, LocationsWithinRangeAreAccepted) {
  v1::MessageContent c;
  c.mutable_location()->set_latitude(-6.2);
  c.mutable_location()->set_longitude(106.8);
  c.mutable_location()->set_name("Toko Ibu Ani");
  EXPECT_EQ(Refusal(c, Party::kUser), "ok");
  c.mutable_location()->set_latitude(90.5);
  EXPECT_EQ(Refusal(c), "content.location.latitude out_of_range");
  c.mutable_location()->set_latitude(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(Refusal(c), "content.location.latitude out_of_range");
  c.mutable_location()->set_latitude(0);
  c.mutable_location()->set_longitude(-180.01);
  EXPECT_EQ(Refusal(c), "content.location.longitude out_of_range");
  c.mutable_location()->set_longitude(std::numeric_limits<double>::infinity());
  EXPECT_EQ(Refusal(c), "content.location.longitude out_of_range");
  c.mutable_location()->set_longitude(0);
  c.mutable_location()->set_name(std::string(257, 'a'));
  EXPECT_EQ(Refusal(c), "content.location.name too_long");
}

TEST(RichContent, ButtonsAreLimitedUniqueAndShort) {
  EXPECT_EQ(Refusal(Buttons({{"yes", "Yes"}, {"no", "No"}, {"later", "Later"}})), "ok");
  EXPECT_EQ(Refusal(Buttons({{"a", "A"}, {"b", "B"}, {"c", "C"}, {"d", "D"}})),
            "content.interactive.buttons.buttons too_many");
  EXPECT_EQ(Refusal(Buttons({{"a", "A"}, {"a", "B"}})),
            "content.interactive.buttons.buttons[1].id duplicate");
  EXPECT_EQ(Refusal(Buttons({{"a", std::string(21, 'x')}})),
            "content.interactive.buttons.buttons[0].title too_long");
  EXPECT_EQ(Refusal(Buttons({{"", "A"}})), "content.interactive.buttons.buttons[0].id required");
  EXPECT_EQ(Refusal(Buttons({})), "content.interactive.buttons.buttons required");
  v1::MessageContent no_action;
  no_action.mutable_interactive()->set_body("Pick one");
  EXPECT_EQ(Refusal(no_action), "content.interactive.action required");
  // Only a business sends them.
  EXPECT_EQ(Refusal(Buttons({{"a", "A"}}), Party::kUser), "content.interactive not_allowed");
}

TEST(RichContent, ListsHoldAtMostTenRowsWithUniqueIds) {
  EXPECT_EQ(Refusal(ListOf(2, 5)), "ok");
  EXPECT_EQ(Refusal(ListOf(1, 11)), "content.interactive.list.sections[0].rows[10] too_many");
  EXPECT_EQ(Refusal(ListOf(3, 4)), "content.interactive.list.sections[2].rows[2] too_many");
  auto dup = ListOf(2, 2);
  dup.mutable_interactive()->mutable_list()->mutable_sections(1)->mutable_rows(0)->set_id("r0_0");
  EXPECT_EQ(Refusal(dup), "content.interactive.list.sections[1].rows[0].id duplicate");
  auto untitled = ListOf(2, 1);
  untitled.mutable_interactive()->mutable_list()->mutable_sections(1)->clear_title();
  EXPECT_EQ(Refusal(untitled), "content.interactive.list.sections[1].title required");
  auto long_row = ListOf(1, 1);
  long_row.mutable_interactive()->mutable_list()->mutable_sections(0)->mutable_rows(0)->set_title(
      std::string(25, 'x'));
  EXPECT_EQ(Refusal(long_row), "content.interactive.list.sections[0].rows[0].title too_long");
}

TEST(RichContent, ContactCardsAreValidated) {
  v1::MessageContent c;
  auto* card = c.mutable_contacts()->add_cards();
  card->set_name("Ani");
  card->add_phones()->set_number("+62 21 555-0100");
  card->add_emails()->set_address("ani@example.com");
  EXPECT_EQ(Refusal(c, Party::kUser), "ok");
  card->mutable_phones(0)->set_number("call me");
  EXPECT_EQ(Refusal(c), "content.contacts.cards[0].phones[0].number malformed");
  card->mutable_phones(0)->set_number("+62 21 555-0100");
  card->mutable_emails(0)->set_address("ani.example.com");
  EXPECT_EQ(Refusal(c), "content.contacts.cards[0].emails[0].address malformed");
  card->clear_emails();
  card->clear_phones();
  EXPECT_EQ(Refusal(c), "content.contacts.cards[0].phones required");
  v1::MessageContent none;
  none.mutable_contacts();
  EXPECT_EQ(Refusal(none), "content.contacts.cards required");
}

TEST(RichContent, ChoicesAreTheUsersAndNeedContent) {
  v1::MessageContent c;
  c.mutable_interactive_reply()->set_message_id("0190d3e4-7b1c-7000-8000-000000000001");
  c.mutable_interactive_reply()->set_reply_id("yes");
  EXPECT_EQ(Refusal(c, Party::kUser), "ok");
  EXPECT_EQ(Refusal(c, Party::kBusiness), "content.interactive_reply not_allowed");
  EXPECT_EQ(Refusal(v1::MessageContent()), "content required");
}

TEST(RichContent, OneEmojiExactly) {
  for (const char* ok : {"👍", "❤️", "👍🏽", "🇮🇩", "1️⃣", "👨‍👩‍👧‍👦",
                         "🏳️‍🌈", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "☕"}) {
    EXPECT_TRUE(IsOneEmoji(ok)) << ok;
  }
  for (const char* bad : {"", "👍👍", "a", "👍 ", "🇮", "ok👍", "\xF0\x9F", "1", "\u200D👍"}) {
    EXPECT_FALSE(IsOneEmoji(bad)) << bad;
  }
  EXPECT_NO_THROW(CheckReactionEmoji(""));  // removal
  try {
    CheckReactionEmoji("👍👎");
    ADD_FAILURE() << "two emoji accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason(), "INVALID_FIELD");
    EXPECT_EQ(e.metadata().at("rule"), "not_one_emoji");
    EXPECT_EQ(e.metadata().at("field"), "emoji");
  }
}

TEST(RichContent, PlainTextBodiesAreStoredAsTheyWereAndRichOnesRoundTrip) {
  // A plain text body without a quote is its text: the form of rows written before rich
  // content, which must keep reading.
  EXPECT_EQ(EncodeBody({"Halo", "", ""}), "Halo");
  auto old = DecodeBody("Halo, kue bolu masih ada?");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->text, "Halo, kue bolu masih ada?");
  EXPECT_TRUE(old->content.empty());

  v1::MessageContent c = Buttons({{"yes", "Yes"}});
  std::string bytes = c.SerializeAsString();
  std::string body = EncodeBody({"Pick one", bytes, "0190d3e4-7b1c-7000-8000-000000000001"});
  EXPECT_TRUE(body.starts_with(kRichBodyMarker));
  auto back = DecodeBody(body);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->text, "Pick one");
  EXPECT_EQ(back->content, bytes);
  EXPECT_EQ(back->reply_to_message_id, "0190d3e4-7b1c-7000-8000-000000000001");
  EXPECT_FALSE(DecodeBody(body.substr(0, body.size() - 1)));
  EXPECT_FALSE(DecodeBody(body + "x"));
}

TEST(RichContent, RenderingsAndOfferedIds) {
  v1::MessageContent loc;
  loc.mutable_location()->set_latitude(-6.175392);
  loc.mutable_location()->set_longitude(106.827153);
  loc.mutable_location()->set_name("Monas");
  EXPECT_EQ(PlainRendering(loc), "Location: Monas, -6.175392, 106.827153");
  auto list = ListOf(2, 2);
  EXPECT_EQ(OfferedTitle(list, "r1_1"), "Row");
  EXPECT_EQ(OfferedTitle(list, "r2_0"), std::nullopt);
  EXPECT_EQ(OfferedTitle(Buttons({{"yes", "Yes"}}), "yes"), "Yes");
  EXPECT_EQ(OfferedTitle(loc, "yes"), std::nullopt);
}

TEST(RichContent, SealedReactionsHaveOneLength) {
  EXPECT_EQ(PadEmoji("👍").size(), PadEmoji("👨‍👩‍👧‍👦").size());
  EXPECT_EQ(UnpadEmoji(PadEmoji("👨‍👩‍👧‍👦")), "👨‍👩‍👧‍👦");
}

}  // namespace
}  // namespace bizrelay::hosting

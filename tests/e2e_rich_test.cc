// End-to-end: structured messages (interactive buttons and lists, choices, reactions, quoted
// replies, locations, contact cards) through real bizrelayd processes and real clients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/platform/token.h"
#include "tests/harness/clients.h"
#include "tests/harness/command.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The ErrorInfo metadata of a failed call (field, rule, ...).
std::map<std::string, std::string> ErrorMetadata(const grpc::Status& status) {
  google::rpc::Status details;
  std::map<std::string, std::string> out;
  if (!details.ParseFromString(status.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) out.insert(info.metadata().begin(), info.metadata().end());
  }
  return out;
}

std::string NewKey() { return ToHex(RandomBytes(8)); }

// One relay, one business and one user with an open chat, and the calls both sides make.
class Chat {
 public:
  Chat(DaemonProcess& d, Biz biz, Usr user)
      : d_(d),
        biz_(std::move(biz)),
        user_(std::move(user)),
        conv_(StartChat(d_, user_, biz_)),
        chat_stub_(v1::UserChatService::NewStub(d_.PublicChannel())),
        biz_stub_(v1::BusinessService::NewStub(d_.PublicChannel())) {}

  const Biz& biz() const { return biz_; }
  const Usr& user() const { return user_; }
  const std::string& conv() const { return conv_; }

  grpc::Status UserSend(v1::SendMessageRequest req, v1::HostedMessage* out = nullptr) {
    grpc::ClientContext ctx;
    Authorize(&ctx, user_.token);
    req.set_business_id(biz_.id);
    if (req.idempotency_key().empty()) req.set_idempotency_key(NewKey());
    v1::SendMessageResponse resp;
    auto s = chat_stub_->SendMessage(&ctx, req, &resp);
    if (out != nullptr) *out = resp.message();
    return s;
  }
  v1::HostedMessage UserText(const std::string& text, const std::string& reply_to = "") {
    v1::SendMessageRequest req;
    req.set_text(text);
    req.set_reply_to_message_id(reply_to);
    v1::HostedMessage m;
    auto s = UserSend(req, &m);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return m;
  }
  grpc::Status BizSend(v1::SendReplyRequest req, v1::HostedMessage* out = nullptr) {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz_.key);
    if (req.conversation_id().empty()) req.set_conversation_id(conv_);
    if (req.idempotency_key().empty()) req.set_idempotency_key(NewKey());
    v1::SendReplyResponse resp;
    auto s = biz_stub_->SendReply(&ctx, req, &resp);
    if (out != nullptr) *out = resp.message();
    return s;
  }
  grpc::Status UserReact(const std::string& message_id, const std::string& emoji,
                         const std::string& conversation = "") {
    grpc::ClientContext ctx;
    Authorize(&ctx, user_.token);
    v1::ReactToChatMessageRequest req;
    req.set_conversation_id(conversation.empty() ? conv_ : conversation);
    req.set_message_id(message_id);
    req.set_emoji(emoji);
    v1::ReactToChatMessageResponse resp;
    return chat_stub_->ReactToChatMessage(&ctx, req, &resp);
  }
  grpc::Status BizReact(const std::string& message_id, const std::string& emoji,
                        const std::string& conversation = "") {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz_.key);
    v1::ReactToMessageRequest req;
    req.set_conversation_id(conversation.empty() ? conv_ : conversation);
    req.set_message_id(message_id);
    req.set_emoji(emoji);
    v1::ReactToMessageResponse resp;
    return biz_stub_->ReactToMessage(&ctx, req, &resp);
  }
  std::vector<v1::HostedMessage> UserHistory() {
    grpc::ClientContext ctx;
    Authorize(&ctx, user_.token);
    v1::ListChatMessagesRequest req;
    req.set_conversation_id(conv_);
    v1::ListChatMessagesResponse resp;
    EXPECT_TRUE(chat_stub_->ListChatMessages(&ctx, req, &resp).ok());
    return {resp.messages().begin(), resp.messages().end()};
  }
  std::vector<v1::HostedMessage> BizHistory() {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz_.key);
    v1::ListMessagesRequest req;
    req.set_conversation_id(conv_);
    v1::ListMessagesResponse resp;
    EXPECT_TRUE(biz_stub_->ListMessages(&ctx, req, &resp).ok());
    return {resp.messages().begin(), resp.messages().end()};
  }
  nlohmann::json Export() {
    grpc::ClientContext ctx;
    Authorize(&ctx, user_.token);
    v1::ExportMyDataResponse resp;
    EXPECT_TRUE(v1::AccountService::NewStub(d_.PublicChannel())
                    ->ExportMyData(&ctx, v1::ExportMyDataRequest(), &resp)
                    .ok());
    return nlohmann::json::parse(resp.json());
  }
  // Every inbox event held, read until `count` events came.
  std::vector<v1::StreamInboxResponse> Inbox(size_t count) {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz_.key);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    auto stream = biz_stub_->StreamInbox(&ctx, v1::StreamInboxRequest());
    std::vector<v1::StreamInboxResponse> out;
    v1::StreamInboxResponse e;
    while (out.size() < count && stream->Read(&e)) out.push_back(e);
    ctx.TryCancel();
    return out;
  }
  std::vector<v1::StreamEventsResponse> UserEvents(size_t count) {
    grpc::ClientContext ctx;
    Authorize(&ctx, user_.token);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    auto stream = chat_stub_->StreamEvents(&ctx, v1::StreamEventsRequest());
    std::vector<v1::StreamEventsResponse> out;
    v1::StreamEventsResponse e;
    while (out.size() < count && stream->Read(&e)) out.push_back(e);
    ctx.TryCancel();
    return out;
  }

 private:
  DaemonProcess& d_;
  Biz biz_;
  Usr user_;
  std::string conv_;
  std::unique_ptr<v1::UserChatService::Stub> chat_stub_;
  std::unique_ptr<v1::BusinessService::Stub> biz_stub_;
};

v1::SendReplyRequest ButtonsReply(const std::string& body,
                                  std::vector<std::pair<std::string, std::string>> buttons) {
  v1::SendReplyRequest req;
  auto* in = req.mutable_content()->mutable_interactive();
  in->set_body(body);
  for (const auto& [id, title] : buttons) {
    auto* b = in->mutable_buttons()->add_buttons();
    b->set_id(id);
    b->set_title(title);
  }
  return req;
}

v1::SendReplyRequest ListReply(int sections, int rows_each) {
  v1::SendReplyRequest req;
  auto* in = req.mutable_content()->mutable_interactive();
  in->set_body("Menu hari ini");
  in->set_header("Toko Ibu Ani");
  auto* list = in->mutable_list();
  list->set_button_text("Lihat menu");
  for (int s = 0; s < sections; ++s) {
    auto* section = list->add_sections();
    section->set_title("Kue " + std::to_string(s));
    for (int r = 0; r < rows_each; ++r) {
      auto* row = section->add_rows();
      row->set_id("row" + std::to_string(s) + "_" + std::to_string(r));
      row->set_title("Kue " + std::to_string(s) + "." + std::to_string(r));
      row->set_description("Rp 50.000");
    }
  }
  return req;
}

v1::SendMessageRequest Choice(const std::string& message_id, const std::string& reply_id) {
  v1::SendMessageRequest req;
  req.mutable_content()->mutable_interactive_reply()->set_message_id(message_id);
  req.mutable_content()->mutable_interactive_reply()->set_reply_id(reply_id);
  return req;
}

v1::MessageContent LocationContent(double lat, double lng) {
  v1::MessageContent c;
  c.mutable_location()->set_latitude(lat);
  c.mutable_location()->set_longitude(lng);
  c.mutable_location()->set_name("Monas");
  c.mutable_location()->set_address("Gambir, Jakarta Pusat");
  return c;
}

v1::MessageContent ContactContent() {
  v1::MessageContent c;
  auto* card = c.mutable_contacts()->add_cards();
  card->set_name("Ibu Ani");
  card->add_phones()->set_number("+62 21 555 0100");
  card->add_emails()->set_address("ani@toko.example");
  return c;
}

const v1::HostedMessage* ById(const std::vector<v1::HostedMessage>& messages,
                              const std::string& id) {
  for (const auto& m : messages) {
    if (m.message_id() == id) return &m;
  }
  return nullptr;
}

TEST(RichE2E, EveryTypeRoundTripsThroughStreamsHistoryAndExport) {
  DaemonProcess d;
  Chat chat(d, CreateBusiness(d, "Toko Ibu Ani"), Register(d, "Siti"));
  v1::HostedMessage hello = chat.UserText("Halo, ada kue apa?");

  // Business side: buttons quoting the user, a list, a location and a contact card.
  v1::HostedMessage buttons, list, biz_location, biz_contact;
  auto breq = ButtonsReply("Mau pesan?", {{"yes", "Ya"}, {"no", "Tidak"}});
  breq.set_reply_to_message_id(hello.message_id());
  ASSERT_TRUE(chat.BizSend(breq, &buttons).ok());
  EXPECT_EQ(buttons.text(), "Mau pesan?");
  EXPECT_EQ(buttons.reply_to_message_id(), hello.message_id());
  ASSERT_TRUE(chat.BizSend(ListReply(2, 2), &list).ok());
  v1::SendReplyRequest lreq;
  *lreq.mutable_content() = LocationContent(-6.175392, 106.827153);
  ASSERT_TRUE(chat.BizSend(lreq, &biz_location).ok());
  v1::SendReplyRequest creq;
  *creq.mutable_content() = ContactContent();
  ASSERT_TRUE(chat.BizSend(creq, &biz_contact).ok());

  // User side: a location, a contact card, a button and a row chosen, a quoted text.
  v1::HostedMessage location, contact, chose_button, chose_row, quoted;
  v1::SendMessageRequest ureq;
  *ureq.mutable_content() = LocationContent(-6.2, 106.8);
  auto s = chat.UserSend(ureq, &location);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(location.text(), "Location: Monas, Gambir, Jakarta Pusat, -6.200000, 106.800000");
  *ureq.mutable_content() = ContactContent();
  ASSERT_TRUE(chat.UserSend(ureq, &contact).ok());
  s = chat.UserSend(Choice(buttons.message_id(), "yes"), &chose_button);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(chose_button.content().interactive_reply().title(), "Ya");
  EXPECT_EQ(chose_button.text(), "Ya");
  ASSERT_TRUE(chat.UserSend(Choice(list.message_id(), "row1_0"), &chose_row).ok());
  EXPECT_EQ(chose_row.content().interactive_reply().title(), "Kue 1.0");
  quoted = chat.UserText("Yang ini ya", biz_location.message_id());
  EXPECT_EQ(quoted.reply_to_message_id(), biz_location.message_id());

  // Reactions: the user sets, then replaces one; the business sets, removes, sets again.
  ASSERT_TRUE(chat.UserReact(buttons.message_id(), "👍").ok());
  ASSERT_TRUE(chat.UserReact(buttons.message_id(), "🎉").ok());
  ASSERT_TRUE(chat.BizReact(location.message_id(), "❤️").ok());
  ASSERT_TRUE(chat.BizReact(location.message_id(), "").ok());
  ASSERT_TRUE(chat.BizReact(location.message_id(), "🙏").ok());

  // The inbox: notice, 6 user messages, 2 reaction events (each shows the current reaction).
  auto inbox = chat.Inbox(9);
  ASSERT_EQ(inbox.size(), 9u);
  EXPECT_TRUE(inbox[0].has_notice());
  EXPECT_EQ(inbox[2].message().content().location().latitude(), -6.2);
  EXPECT_EQ(inbox[3].message().content().contacts().cards(0).emails(0).address(),
            "ani@toko.example");
  EXPECT_EQ(inbox[4].message().content().interactive_reply().message_id(), buttons.message_id());
  EXPECT_EQ(inbox[4].message().content().interactive_reply().reply_id(), "yes");
  EXPECT_EQ(inbox[5].message().content().interactive_reply().title(), "Kue 1.0");
  EXPECT_EQ(inbox[6].message().reply_to_message_id(), biz_location.message_id());
  for (int i : {7, 8}) {
    ASSERT_TRUE(inbox[i].has_reaction()) << i;
    EXPECT_EQ(inbox[i].reaction().message_id(), buttons.message_id());
    EXPECT_EQ(inbox[i].reaction().reactor(), v1::CHAT_PARTY_USER);
    EXPECT_EQ(inbox[i].reaction().emoji(), "🎉");
    EXPECT_EQ(inbox[i].reaction().conversation_id(), chat.conv());
    EXPECT_EQ(inbox[i].user_id(), chat.user().id);
  }

  // The user's events: 4 business messages, then 3 reaction events (set, removed, set).
  auto events = chat.UserEvents(7);
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events[0].message().content().interactive().buttons().buttons(1).title(), "Tidak");
  EXPECT_EQ(events[0].message().reply_to_message_id(), hello.message_id());
  EXPECT_EQ(events[1].message().content().interactive().list().sections(1).rows(0).id(), "row1_0");
  EXPECT_EQ(events[2].message().content().location().name(), "Monas");
  EXPECT_EQ(events[3].message().content().contacts().cards(0).phones(0).number(),
            "+62 21 555 0100");
  for (int i : {4, 5, 6}) {
    ASSERT_TRUE(events[i].has_reaction()) << i;
    EXPECT_EQ(events[i].reaction().reactor(), v1::CHAT_PARTY_BUSINESS);
    EXPECT_EQ(events[i].reaction().message_id(), location.message_id());
    EXPECT_EQ(events[i].reaction().emoji(), "🙏");  // what holds when the event is read
  }

  // History, both sides: every type, the quotes and the current reactions.
  for (const auto& history : {chat.UserHistory(), chat.BizHistory()}) {
    ASSERT_EQ(history.size(), 10u);
    const auto* b = ById(history, buttons.message_id());
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->content().interactive().buttons().buttons_size(), 2);
    ASSERT_EQ(b->reactions_size(), 1);
    EXPECT_EQ(b->reactions(0).emoji(), "🎉");
    EXPECT_EQ(b->reactions(0).reactor(), v1::CHAT_PARTY_USER);
    const auto* l = ById(history, location.message_id());
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->content().location().longitude(), 106.8);
    ASSERT_EQ(l->reactions_size(), 1);
    EXPECT_EQ(l->reactions(0).emoji(), "🙏");
    EXPECT_EQ(ById(history, chose_row.message_id())->content().interactive_reply().reply_id(),
              "row1_0");
    EXPECT_EQ(ById(history, quoted.message_id())->reply_to_message_id(), biz_location.message_id());
    EXPECT_EQ(ById(history, biz_contact.message_id())->content().contacts().cards(0).name(),
              "Ibu Ani");
    EXPECT_EQ(ById(history, hello.message_id())->text(), "Halo, ada kue apa?");
    EXPECT_FALSE(ById(history, hello.message_id())->has_content());
  }

  // Download your data: every type, in the API's own JSON form.
  auto doc = chat.Export();
  ASSERT_EQ(doc["chats"].size(), 1u);
  std::map<std::string, nlohmann::json> exported;
  for (const auto& m : doc["chats"][0]["messages"]) exported[m["message_id"]] = m;
  ASSERT_EQ(exported.size(), 10u);
  EXPECT_EQ(exported[location.message_id()]["content"]["location"]["latitude"], -6.2);
  EXPECT_EQ(exported[location.message_id()]["reactions"][0]["emoji"], "🙏");
  EXPECT_EQ(exported[location.message_id()]["reactions"][0]["from"], "business");
  EXPECT_EQ(exported[contact.message_id()]["content"]["contacts"]["cards"][0]["name"], "Ibu Ani");
  EXPECT_EQ(exported[buttons.message_id()]["content"]["interactive"]["buttons"]["buttons"][0]["id"],
            "yes");
  EXPECT_EQ(exported[chose_button.message_id()]["content"]["interactive_reply"]["title"], "Ya");
  EXPECT_EQ(exported[list.message_id()]["content"]["interactive"]["list"]["button_text"],
            "Lihat menu");
  EXPECT_EQ(exported[quoted.message_id()]["reply_to_message_id"], biz_location.message_id());
  EXPECT_EQ(exported[hello.message_id()]["text"], "Halo, ada kue apa?");
  EXPECT_TRUE(exported[hello.message_id()]["content"].is_null());

  // A retry of a rich send stores nothing new and answers with the original.
  v1::SendMessageRequest retry = Choice(buttons.message_id(), "yes");
  retry.set_idempotency_key("choice-1");
  v1::HostedMessage first, again;
  ASSERT_TRUE(chat.UserSend(retry, &first).ok());
  ASSERT_TRUE(chat.UserSend(retry, &again).ok());
  EXPECT_EQ(first.message_id(), again.message_id());
  retry.mutable_content()->mutable_interactive_reply()->set_reply_id("no");
  EXPECT_EQ(ErrorReason(chat.UserSend(retry)), "IDEMPOTENCY_KEY_REUSED");

  // Fields the API does not define (a newer client's) are not stored.
  v1::SendMessageRequest newer;
  *newer.mutable_content() = LocationContent(1, 2);
  auto* newer_location = newer.mutable_content()->mutable_location();
  newer_location->GetReflection()
      ->MutableUnknownFields(newer_location)
      ->AddLengthDelimited(99, std::string(1000, 'x'));
  v1::HostedMessage stored;
  ASSERT_TRUE(chat.UserSend(newer, &stored).ok());
  for (const auto& m : chat.BizHistory()) {
    if (m.message_id() != stored.message_id()) continue;
    EXPECT_EQ(m.content().location().latitude(), 1);
    EXPECT_TRUE(
        m.content().location().GetReflection()->GetUnknownFields(m.content().location()).empty());
  }
}

TEST(RichE2E, QuotedAndAnsweredIdsOfOtherConversationsAnswerLikeUnknownOnes) {
  DaemonProcess d;
  Biz shop = CreateBusiness(d, "Toko");
  Biz other_shop = CreateBusiness(d, "Toko Lain");
  Usr siti = Register(d, "Siti");
  Chat mine(d, shop, siti);
  Chat neighbour(d, shop, Register(d, "Budi"));  // same business, another user
  Chat elsewhere(d, other_shop, siti);           // same user, another business
  mine.UserText("halo");
  neighbour.UserText("halo");
  elsewhere.UserText("halo");
  v1::HostedMessage own_buttons, neighbour_buttons, elsewhere_buttons;
  ASSERT_TRUE(mine.BizSend(ButtonsReply("?", {{"yes", "Ya"}}), &own_buttons).ok());
  ASSERT_TRUE(neighbour.BizSend(ButtonsReply("?", {{"yes", "Ya"}}), &neighbour_buttons).ok());
  ASSERT_TRUE(elsewhere.BizSend(ButtonsReply("?", {{"yes", "Ya"}}), &elsewhere_buttons).ok());
  const std::string unknown = "0190d3e4-7b1c-7000-8000-00000000abcd";

  struct Probe {
    std::string name;
    std::function<grpc::Status(const std::string& id)> call;
  };
  std::vector<Probe> probes = {
      {"user quotes",
       [&](const std::string& id) {
         v1::SendMessageRequest req;
         req.set_text("ini");
         req.set_reply_to_message_id(id);
         return mine.UserSend(req);
       }},
      {"user chooses", [&](const std::string& id) { return mine.UserSend(Choice(id, "yes")); }},
      {"user reacts", [&](const std::string& id) { return mine.UserReact(id, "👍"); }},
      {"business quotes",
       [&](const std::string& id) {
         v1::SendReplyRequest req;
         req.set_text("ini");
         req.set_reply_to_message_id(id);
         return mine.BizSend(req);
       }},
      {"business reacts", [&](const std::string& id) { return mine.BizReact(id, "👍"); }},
  };
  for (const auto& p : probes) {
    // Sanity: the same call on the caller's own message works.
    EXPECT_TRUE(p.call(own_buttons.message_id()).ok()) << p.name;
    auto missing = p.call(unknown);
    EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << p.name;
    EXPECT_EQ(ErrorReason(missing), "NOT_FOUND") << p.name;
    for (const auto& foreign : {neighbour_buttons.message_id(), elsewhere_buttons.message_id()}) {
      auto s = p.call(foreign);
      EXPECT_EQ(s.error_code(), missing.error_code()) << p.name;
      EXPECT_EQ(ErrorReason(s), ErrorReason(missing)) << p.name;
      EXPECT_EQ(s.error_message(), missing.error_message()) << p.name;
      EXPECT_EQ(ErrorMetadata(s), ErrorMetadata(missing)) << p.name;
    }
  }
  // Reacting in someone else's conversation is like an unknown conversation.
  auto unknown_conv = mine.BizReact(own_buttons.message_id(), "👍", unknown);
  auto foreign_conv = mine.BizReact(elsewhere_buttons.message_id(), "👍", elsewhere.conv());
  EXPECT_EQ(unknown_conv.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(foreign_conv.error_code(), unknown_conv.error_code());
  EXPECT_EQ(foreign_conv.error_message(), unknown_conv.error_message());
  auto user_foreign_conv = mine.UserReact(neighbour_buttons.message_id(), "👍", neighbour.conv());
  EXPECT_EQ(user_foreign_conv.error_code(), grpc::StatusCode::NOT_FOUND);
  // Nothing reached the other conversations.
  for (const auto& m : neighbour.BizHistory()) EXPECT_EQ(m.reactions_size(), 0);
  EXPECT_EQ(neighbour.BizHistory().size(), 2u);
}

TEST(RichE2E, ChoicesMustBeOfferedAndFreeFormInteractiveNeedsTheWindow) {
  DaemonProcess d(DaemonProcess::Options{.extra_args = {"--hosting-service-window-seconds", "1"}});
  Chat chat(d, CreateBusiness(d, "Toko"), Register(d, "Siti"));
  v1::HostedMessage hello = chat.UserText("halo");
  v1::HostedMessage buttons, text;
  ASSERT_TRUE(
      chat.BizSend(ButtonsReply("Jadi pesan?", {{"yes", "Ya"}, {"no", "Tidak"}}), &buttons).ok());
  v1::SendReplyRequest plain;
  plain.set_text("Baik");
  ASSERT_TRUE(chat.BizSend(plain, &text).ok());

  // A button the message does not offer, or a message that offers none, is refused.
  for (const auto& [message, id] : std::vector<std::pair<std::string, std::string>>{
           {buttons.message_id(), "maybe"}, {text.message_id(), "yes"}}) {
    auto s = chat.UserSend(Choice(message, id));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ErrorReason(s), "REPLY_NOT_OFFERED");
    EXPECT_EQ(ErrorMetadata(s)["field"], "content.interactive_reply.reply_id");
  }
  // The user's own message offers nothing to choose: it answers like an unknown message.
  EXPECT_EQ(chat.UserSend(Choice(hello.message_id(), "yes")).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // A template with quick replies, made while the window is open.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, chat.biz().key);
    v1::CreateTemplateRequest req;
    req.set_name("konfirmasi");
    req.set_body("Pesanan {{order}} siap. Ambil hari ini?");
    auto* b = req.add_quick_replies();
    b->set_id("today");
    b->set_title("Hari ini");
    b = req.add_quick_replies();
    b->set_id("tomorrow");
    b->set_title("Besok");
    v1::CreateTemplateResponse resp;
    ASSERT_TRUE(
        v1::BusinessService::NewStub(d.PublicChannel())->CreateTemplate(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.template_().quick_replies_size(), 2);
  }

  std::this_thread::sleep_for(1500ms);  // the 1-second window closes
  for (const auto& req : {ButtonsReply("Masih mau?", {{"yes", "Ya"}}), ListReply(1, 2)}) {
    auto s = chat.BizSend(req);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(ErrorReason(s), "OUTSIDE_SERVICE_WINDOW");
  }
  EXPECT_EQ(ErrorReason(chat.BizReact(hello.message_id(), "👍")), "OUTSIDE_SERVICE_WINDOW");

  // Templates work any time, quick replies included, and the user can answer them.
  v1::SendReplyRequest tmpl;
  tmpl.set_template_name("konfirmasi");
  (*tmpl.mutable_template_parameters())["order"] = "42";
  v1::HostedMessage sent;
  auto s = chat.BizSend(tmpl, &sent);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sent.text(), "Pesanan 42 siap. Ambil hari ini?");
  EXPECT_EQ(sent.template_name(), "konfirmasi");
  EXPECT_EQ(sent.content().interactive().buttons().buttons(1).id(), "tomorrow");
  v1::HostedMessage answer;
  ASSERT_TRUE(chat.UserSend(Choice(sent.message_id(), "tomorrow"), &answer).ok());
  EXPECT_EQ(answer.content().interactive_reply().title(), "Besok");
  EXPECT_EQ(ErrorReason(chat.UserSend(Choice(sent.message_id(), "never"))), "REPLY_NOT_OFFERED");
}

TEST(RichE2E, InvalidContentIsInvalidArgumentWithFieldAndRule) {
  DaemonProcess d;
  Chat chat(d, CreateBusiness(d, "Toko"), Register(d, "Siti"));
  v1::HostedMessage hello = chat.UserText("halo");
  auto expect = [](const grpc::Status& s, const std::string& field, const std::string& rule) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_EQ(ErrorReason(s), "INVALID_FIELD") << field;
    auto metadata = ErrorMetadata(s);
    EXPECT_EQ(metadata["field"], field);
    EXPECT_EQ(metadata["rule"], rule) << field;
  };
  v1::SendMessageRequest bad_location;
  *bad_location.mutable_content() = LocationContent(91, 10);
  expect(chat.UserSend(bad_location), "content.location.latitude", "out_of_range");
  *bad_location.mutable_content() = LocationContent(10, -200);
  expect(chat.UserSend(bad_location), "content.location.longitude", "out_of_range");
  expect(chat.BizSend(ButtonsReply("?", {{"a", "A"}, {"b", "B"}, {"c", "C"}, {"d", "D"}})),
         "content.interactive.buttons.buttons", "too_many");
  expect(chat.BizSend(ListReply(2, 6)), "content.interactive.list.sections[1].rows[4]", "too_many");
  expect(chat.BizSend(ButtonsReply("?", {{"a", "A"}, {"a", "B"}})),
         "content.interactive.buttons.buttons[1].id", "duplicate");
  expect(chat.BizSend(ButtonsReply("?", {{"a", "Ini judul yang terlalu panjang"}})),
         "content.interactive.buttons.buttons[0].title", "too_long");
  auto dup_rows = ListReply(2, 1);
  dup_rows.mutable_content()
      ->mutable_interactive()
      ->mutable_list()
      ->mutable_sections(1)
      ->mutable_rows(0)
      ->set_id("row0_0");
  expect(chat.BizSend(dup_rows), "content.interactive.list.sections[1].rows[0].id", "duplicate");
  expect(chat.UserReact(hello.message_id(), "👍👍"), "emoji", "not_one_emoji");
  expect(chat.BizReact(hello.message_id(), "ok"), "emoji", "not_one_emoji");
  // A user cannot send buttons; a business cannot choose.
  v1::SendMessageRequest user_buttons;
  *user_buttons.mutable_content() = ButtonsReply("?", {{"a", "A"}}).content();
  expect(chat.UserSend(user_buttons), "content.interactive", "not_allowed");
  v1::SendReplyRequest biz_choice;
  *biz_choice.mutable_content() = Choice(hello.message_id(), "a").content();
  expect(chat.BizSend(biz_choice), "content.interactive_reply", "not_allowed");
  // Text and content together.
  v1::SendMessageRequest both;
  both.set_text("x");
  *both.mutable_content() = LocationContent(1, 1);
  auto s = chat.UserSend(both);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorMetadata(s)["field"], "text");
  // Nothing of it was stored.
  EXPECT_EQ(chat.BizHistory().size(), 1u);
}

TEST(RichE2E, ClientsOfTheOldApiKeepWorking) {
  DaemonProcess d;
  Chat chat(d, CreateBusiness(d, "Toko"), Register(d, "Siti"));
  chat.UserText("halo");
  v1::SendMessageRequest loc;
  *loc.mutable_content() = LocationContent(-6.2, 106.8);
  ASSERT_TRUE(chat.UserSend(loc).ok());
  ASSERT_TRUE(chat.BizSend(ButtonsReply("Jadi pesan?", {{"yes", "Ya"}})).ok());
  // buf curl with the API as it was before rich messages (a text-only client): it sends text as
  // before and reads every message, rich ones as their plain rendering.
  std::string schema = std::string(BIZRELAY_SOURCE_DIR) + "/tests/api_baseline/4ea16fd";
  auto send = BufCurl(d.public_port(), "bizrelay.v1.UserChatService/SendMessage",
                      {"--schema", schema, "-H", "authorization: Bearer " + chat.user().token, "-d",
                       R"({"business_id":")" + chat.biz().id +
                           R"(","text":"dari klien lama","idempotency_key":"old-1"})"});
  ASSERT_EQ(send.exit_code, 0) << send.err;
  auto history = BufCurl(d.public_port(), "bizrelay.v1.BusinessService/ListMessages",
                         {"--schema", schema, "-H", "authorization: Bearer " + chat.biz().key, "-d",
                          R"({"conversation_id":")" + chat.conv() + R"("})"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr(R"("text": "halo")"));
  EXPECT_THAT(
      history.out,
      HasSubstr(R"("text": "Location: Monas, Gambir, Jakarta Pusat, -6.200000, 106.800000")"));
  EXPECT_THAT(history.out, HasSubstr(R"("text": "Jadi pesan?")"));
  EXPECT_THAT(history.out, HasSubstr(R"("text": "dari klien lama")"));
  EXPECT_EQ(history.out.find("latitude"), std::string::npos);  // unknown to the old schema
}

TEST(RichE2E, TheCliSendsEveryTypeAndReacts) {
  DaemonProcess d;
  Chat chat(d, CreateBusiness(d, "Toko"), Register(d, "Siti"));
  auto cli = [&](const std::string& token, std::vector<std::string> args) {
    args.insert(args.begin(), {BIZRELAY_CLI_PATH, "--addr",
                               "127.0.0.1:" + std::to_string(d.public_port()), "--token", token});
    auto r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.out;
  };
  auto id_in = [](const std::string& out) {
    auto at = out.find("message_id: ");
    return at == std::string::npos ? std::string() : out.substr(at + 12, 36);
  };
  const std::string& user = chat.user().token;
  const std::string& biz = chat.biz().key;
  std::string hello = id_in(cli(user, {"send", chat.biz().id, "Halo"}));
  ASSERT_EQ(hello.size(), 36u);
  std::string buttons = id_in(cli(biz, {"buttons", chat.conv(), "Jadi pesan?", "--button", "yes=Ya",
                                        "--button", "no=Tidak", "--to", hello}));
  ASSERT_EQ(buttons.size(), 36u);
  std::string list =
      id_in(cli(biz, {"list", chat.conv(), "Menu", "--button-text", "Lihat", "--row",
                      "Kue|bolu|Kue bolu|Rp 50.000", "--row", "Roti|tawar|Roti tawar"}));
  cli(user, {"choose", chat.biz().id, buttons, "yes"});
  cli(user, {"choose", chat.biz().id, list, "tawar"});
  cli(user, {"location", chat.biz().id, "--lat", "-6.175", "--lng", "106.827", "--name", "Monas"});
  cli(user, {"contact", chat.biz().id, "Ibu Ani", "--phone", "+62 21 555 0100"});
  cli(user, {"react", chat.conv(), buttons, "👍"});
  cli(biz, {"business-react", chat.conv(), hello, "🙏"});
  cli(biz, {"reply", chat.conv(), "Siap", "--to", hello});
  cli(biz, {"business-location", chat.conv(), "--lat", "-6.2", "--lng", "106.8"});
  cli(biz, {"business-contact", chat.conv(), "Kurir", "--email", "kurir@toko.example"});
  std::string history = cli(user, {"history", chat.conv()});
  EXPECT_THAT(history, HasSubstr("[buttons: yes=Ya no=Tidak]"));
  EXPECT_THAT(history, HasSubstr("[reply to " + hello + "]"));
  EXPECT_THAT(history, HasSubstr("[list Lihat: bolu=Kue bolu tawar=Roti tawar]"));
  EXPECT_THAT(history, HasSubstr("Ya  [chose yes of " + buttons + "]"));
  EXPECT_THAT(history, HasSubstr("Roti tawar  [chose tawar of " + list + "]"));
  EXPECT_THAT(history, HasSubstr("Location: Monas, -6.175000, 106.827000"));
  EXPECT_THAT(history, HasSubstr("Contact: Ibu Ani  [Ibu Ani +62 21 555 0100]"));
  EXPECT_THAT(history, HasSubstr("[user reacted 👍]"));
  EXPECT_THAT(history, HasSubstr("[business reacted 🙏]"));
  EXPECT_THAT(history, HasSubstr("[Kurir kurir@toko.example]"));
  std::string inbox = cli(biz, {"inbox", "--count", "7"});
  EXPECT_THAT(inbox, HasSubstr("reaction " + chat.conv() + " " + buttons + " user 👍"));
  // Removing a reaction.
  EXPECT_THAT(cli(user, {"react", chat.conv(), buttons}), HasSubstr("reaction: removed"));
  // A refused choice exits 1 with the reason.
  auto refused =
      RunCommand({BIZRELAY_CLI_PATH, "--addr", "127.0.0.1:" + std::to_string(d.public_port()),
                  "--token", user, "choose", chat.biz().id, buttons, "maybe"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("REPLY_NOT_OFFERED"));
}

}  // namespace
}  // namespace bizrelay::e2e

#include "services/account/data_rights.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <nlohmann/json.hpp>

#include "bizrelay/v1/rich_types.pb.h"
#include "services/account/policies.h"
#include "services/hosting/chats.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/media_repository.h"
#include "services/hosting/message_repository.h"

namespace bizrelay::account {
namespace {

using nlohmann::json;

#define MICROS(col) "(extract(epoch from " col ") * 1000000)::bigint"

constexpr const char* kProfile =
    "SELECT display_name, " MICROS("created_at") ", to_char(last_active_day, 'YYYY-MM-DD') "
    "FROM core.users WHERE user_id = $1::uuid";
constexpr const char* kChats =
    "SELECT c.conversation_id::text, c.business_id::text, b.display_name, c.state, "
    "  c.consent_version, " MICROS("c.consented_at") ", c.label "
    "FROM hosting.conversations c JOIN core.businesses b USING (business_id) "
    "WHERE c.user_id = $1::uuid ORDER BY c.consented_at";
constexpr const char* kIssuance =
    "SELECT to_char(day, 'YYYY-MM-DD'), issued FROM core.send_token_issuance "
    "WHERE user_id = $1::uuid ORDER BY day";

constexpr const char* kOpenChats =
    "SELECT conversation_id::text, business_id::text FROM hosting.conversations "
    "WHERE user_id = $1::uuid AND state <> 2 ORDER BY business_id";
constexpr const char* kEraseMessages =
    "DELETE FROM hosting.messages m USING hosting.conversations c "
    "WHERE c.conversation_id = m.conversation_id AND c.user_id = $1::uuid";
constexpr const char* kCloseChats =
    "UPDATE hosting.conversations SET state = 2, label = '', last_user_message_at = NULL "
    "WHERE user_id = $1::uuid";
constexpr const char* kEraseLog = "DELETE FROM hosting.events WHERE owner_id = $1::uuid";
constexpr const char* kEraseHead = "DELETE FROM hosting.mailbox_heads WHERE owner_id = $1::uuid";
constexpr const char* kEraseAcks = "DELETE FROM hosting.mailbox_acks WHERE owner_id = $1::uuid";
// Credentials, then the user row, which takes acceptances, the opt-out and issuance counts with
// it and sets the chats' user to NULL (the only way this role may delete a user).
constexpr const char* kEraseAccount = "SELECT core.erase_user($1::uuid)";

#undef MICROS

std::string Time(int64_t micros) {
  return google::protobuf::util::TimeUtil::ToString(
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros));
}

const char* StateName(int state) {
  switch (state) {
    case 1:
      return "open";
    case 2:
      return "left";
    case 3:
      return "blocked";
  }
  return "unknown";
}

const char* StatusName(hosting::MessageStatus s) {
  switch (s) {
    case hosting::MessageStatus::kSent:
      return "sent";
    case hosting::MessageStatus::kDelivered:
      return "delivered";
    case hosting::MessageStatus::kRead:
      return "read";
  }
  return "unknown";
}

const char* KindName(int kind) {
  switch (kind) {
    case 1:
      return "image";
    case 2:
      return "audio";
    case 3:
      return "video";
    case 4:
      return "document";
  }
  return "unknown";
}

// Media is listed, not inlined: the content is fetched with DownloadMedia while the message
// is kept, so an export stays small and the bytes never pass through a JSON document.
json MediaJson(const hosting::MediaRow& media) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string sha;
  for (unsigned char c : media.sha256) {
    sha += kHex[c >> 4];
    sha += kHex[c & 15];
  }
  return {{"media_id", media.media_id},
          {"mime_type", media.mime_type},
          {"kind", KindName(media.kind)},
          {"size_bytes", media.size_bytes},
          {"sha256", sha},
          {"download", "bizrelay.v1.UserChatService/DownloadMedia {\"media_id\": \"" +
                           media.media_id + "\"} (CLI: bizrelay download " + media.media_id +
                           " --out FILE), while the message is kept"}};
}

// A message's content as its proto3 JSON mapping (the API's own form, documented with
// bizrelay.v1.MessageContent); null for plain text.
json ContentJson(const std::string& content) {
  v1::MessageContent parsed;
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (content.empty() || !parsed.ParseFromString(content) ||
      !google::protobuf::util::MessageToJsonString(parsed, &out, options).ok()) {
    return nullptr;
  }
  return json::parse(out);
}

json ReactionsJson(const std::vector<hosting::ReactionRow>& reactions) {
  json out = json::array();
  for (const auto& r : reactions) {
    out.push_back({{"from", r.party == hosting::Party::kUser ? "user" : "business"},
                   {"emoji", r.emoji},
                   {"updated_at", Time(r.updated_unix_micros)}});
  }
  return out;
}

}  // namespace

std::string DataRights::Export(pqxx::transaction_base& tx, hosting::KeyRing& keys,
                               const std::string& user_id, int64_t) {
  json doc;
  doc["format"] = "bizrelay.export.v1";
  auto profile = tx.exec_params1(kProfile, user_id);
  doc["profile"] = {{"user_id", user_id},
                    {"display_name", profile[0].as<std::string>()},
                    {"created_at", Time(profile[1].as<int64_t>())},
                    {"last_active_day", profile[2].as<std::string>()}};

  PolicyStatusView policy = Policies::Status(tx, user_id);
  json acceptances = json::array();
  for (const auto& v : policy.versions) {
    if (v.accepted_micros) {
      acceptances.push_back({{"version", v.version}, {"accepted_at", Time(*v.accepted_micros)}});
    }
  }
  doc["policy"] = {{"acceptances", acceptances},
                   {"required_version", policy.required_version},
                   {"limited", !policy.required_version.empty()}};
  doc["data_sharing_opt_out"] = {{"opted_out", policy.opted_out_micros.has_value()}};
  if (policy.opted_out_micros) {
    doc["data_sharing_opt_out"]["opted_out_at"] = Time(*policy.opted_out_micros);
  }

  json chats = json::array();
  for (const auto& c : tx.exec_params(kChats, user_id)) {
    std::string conversation = c[0].as<std::string>();
    json messages = json::array();
    int64_t after = 0;
    while (true) {
      int64_t last = after;
      auto rows = hosting::MessageRepository::Messages(tx, conversation, after, 200, &last);
      bool more = rows.size() == 200;
      hosting::OpenBodies(tx, keys, &rows);
      hosting::AttachReactions(tx, keys, &rows);
      for (const auto& m : rows) {
        json message = {
            {"message_id", m.message_id},
            {"from", m.direction == hosting::Direction::kUserToBusiness ? "user" : "business"},
            {"text", m.text},
            {"template_name", m.template_name},
            {"status", StatusName(m.status)},
            {"created_at", Time(m.created_unix_micros)},
            {"content", ContentJson(m.content)},
            {"reply_to_message_id", m.reply_to_message_id},
            {"reactions", ReactionsJson(m.reactions)}};
        if (m.media) message["media"] = MediaJson(*m.media);
        messages.push_back(std::move(message));
      }
      if (!more) break;
      after = last;
    }
    chats.push_back({{"conversation_id", conversation},
                     {"business_id", c[1].as<std::string>()},
                     {"business_name", c[2].as<std::string>()},
                     {"state", StateName(c[3].as<int>())},
                     {"consented_disclosure_version", c[4].as<int64_t>()},
                     {"consented_at", Time(c[5].as<int64_t>())},
                     {"label", c[6].as<std::string>()},
                     {"messages", messages}});
  }
  doc["chats"] = chats;
  json issuance = json::array();
  for (const auto& r : tx.exec_params(kIssuance, user_id)) {
    issuance.push_back({{"day", r[0].as<std::string>()}, {"count", r[1].as<int>()}});
  }
  doc["send_tokens_issued"] = issuance;
  doc["personal"] =
      "Held apart from this account: export it with PersonalRelayService.ExportMailbox using "
      "the mailbox's owner secret (the relay cannot link a mailbox to an account).";
  return doc.dump(2);
}

void DataRights::Erase(pqxx::transaction_base& tx, const std::string& user_id) {
  // Business heads first (lock order), then conversations.
  for (const auto& r : tx.exec_params(kOpenChats, user_id)) {
    hosting::EventRepository::AppendEvent(tx, r[1].as<std::string>(), hosting::EventKind::kNotice,
                                          r[0].as<std::string>(), "", 0,
                                          static_cast<int>(hosting::NoticeKind::kChatLeft));
  }
  // Media attached to these messages goes with them; uploads never attached go here.
  tx.exec_params0(kEraseMessages, user_id);
  hosting::MediaRepository::DeletePendingOfUploader(tx, user_id);
  tx.exec_params0(kCloseChats, user_id);
  for (const char* sql : {kEraseLog, kEraseHead, kEraseAcks}) {
    tx.exec_params0(sql, user_id);
  }
  tx.exec_params1(kEraseAccount, user_id);
}

}  // namespace bizrelay::account

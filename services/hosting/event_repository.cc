#include "services/hosting/event_repository.h"

#include "services/store/sql_array.h"

namespace bizrelay::hosting {
namespace {

constexpr const char* kTakePositions = "SELECT hosting.take_positions($1::uuid, $2)";

constexpr const char* kInsertEvent =
    "INSERT INTO hosting.events (owner_id, position, kind, conversation_id, message_id, status, "
    "  notice_kind) VALUES ($1::uuid, $2, $3, $4::uuid, nullif($5, '')::uuid, nullif($6, 0), "
    "  nullif($7, 0))";

constexpr const char* kNotify = "SELECT pg_notify('bizrelay_mailbox', $1)";

constexpr const char* kEvents = "SELECT * FROM hosting.read_events($1::uuid, $2, $3, $4)";

constexpr const char* kAppendStatusEvents =
    "SELECT hosting.append_status_events($1::uuid[], $2::uuid[], $3::uuid[], $4::smallint)";
constexpr const char* kAcknowledge = "SELECT hosting.acknowledge($1::uuid, $2, $3)";

// Read: moves the read (and delivered) watermark of one side of a conversation up to a
// message; returns that message, the sender to tell and how many messages became read.
constexpr const char* kMarkRead =
    "WITH target AS ("
    "  SELECT seq FROM hosting.messages "
    "  WHERE message_id = $3::uuid AND conversation_id = $1::uuid AND direction = $2::smallint), "
    "before AS ("
    "  SELECT coalesce((SELECT CASE WHEN $2::smallint = 1 THEN user_msgs_read_seq "
    "                               ELSE biz_msgs_read_seq END "
    "                   FROM hosting.conversation_marks WHERE conversation_id = $1::uuid), 0) AS "
    "r), "
    "moved AS ("
    "  INSERT INTO hosting.conversation_marks AS k (conversation_id, user_msgs_delivered_seq, "
    "    user_msgs_read_seq, biz_msgs_delivered_seq, biz_msgs_read_seq) "
    "  SELECT $1::uuid, CASE WHEN $2::smallint = 1 THEN t.seq ELSE 0 END, "
    "    CASE WHEN $2::smallint = 1 THEN t.seq ELSE 0 END, "
    "    CASE WHEN $2::smallint = 2 THEN t.seq ELSE 0 END, "
    "    CASE WHEN $2::smallint = 2 THEN t.seq ELSE 0 END "
    "  FROM target t WHERE t.seq > (SELECT r FROM before) "
    "  ON CONFLICT (conversation_id) DO UPDATE SET "
    "    user_msgs_delivered_seq = greatest(k.user_msgs_delivered_seq, "
    "excluded.user_msgs_delivered_seq), "
    "    user_msgs_read_seq = greatest(k.user_msgs_read_seq, excluded.user_msgs_read_seq), "
    "    biz_msgs_delivered_seq = greatest(k.biz_msgs_delivered_seq, "
    "excluded.biz_msgs_delivered_seq), "
    "    biz_msgs_read_seq = greatest(k.biz_msgs_read_seq, excluded.biz_msgs_read_seq) "
    "  RETURNING k.conversation_id) "
    "SELECT $3::text, $1::text, "
    "  coalesce((CASE WHEN $2::smallint = 1 THEN c.user_id ELSE c.business_id END)::text, ''), "
    "  (SELECT count(*) FROM hosting.messages m WHERE m.conversation_id = $1::uuid "
    "     AND m.direction = $2::smallint AND m.seq > (SELECT r FROM before) "
    "     AND m.seq <= (SELECT seq FROM target)) "
    "FROM moved JOIN hosting.conversations c ON c.conversation_id = moved.conversation_id";

}  // namespace

int64_t EventRepository::TakePositions(pqxx::transaction_base& tx, const std::string& owner,
                                       int64_t n) {
  return tx.exec_params1(kTakePositions, owner, n)[0].as<int64_t>();
}

void EventRepository::InsertEvent(pqxx::transaction_base& tx, const std::string& owner,
                                  int64_t position, EventKind kind,
                                  const std::string& conversation_id, const std::string& message_id,
                                  int status, int notice) {
  tx.exec_params0(kInsertEvent, owner, position, static_cast<int>(kind), conversation_id,
                  message_id, status, notice);
  tx.exec_params(kNotify, owner);
}

void EventRepository::AppendEvent(pqxx::transaction_base& tx, const std::string& owner,
                                  EventKind kind, const std::string& conversation_id,
                                  const std::string& message_id, int status, int notice) {
  InsertEvent(tx, owner, TakePositions(tx, owner, 1), kind, conversation_id, message_id, status,
              notice);
}

std::vector<EventRow> EventRepository::Events(pqxx::transaction_base& tx, const std::string& owner,
                                              int64_t after, int limit, int64_t default_lifetime,
                                              int64_t* last_read) {
  std::vector<EventRow> out;
  if (last_read != nullptr) *last_read = after;
  for (const auto& r : tx.exec_params(kEvents, owner, after, limit, default_lifetime)) {
    if (last_read != nullptr) *last_read = r[0].as<int64_t>();
    if (auto e = FromRow(r, owner)) out.push_back(std::move(*e));
  }
  return out;
}

std::optional<EventRow> EventRepository::FromRow(const pqxx::row& row, const std::string& owner,
                                                 pqxx::row::size_type first) {
  auto r = [&](pqxx::row::size_type column) { return row[first + column]; };
  EventRow e;
  e.position = r(0).as<int64_t>();
  e.kind = static_cast<EventKind>(r(1).as<int>());
  e.conversation_id = r(2).as<std::string>();
  e.user_id = r(3).as<std::string>();
  e.business_id = r(4).as<std::string>();
  e.message_id = r(5).as<std::string>();
  e.status = static_cast<MessageStatus>(r(6).as<int>());
  e.notice = static_cast<NoticeKind>(r(7).as<int>());
  if (e.kind == EventKind::kMessage) {
    if (r(8).is_null()) return std::nullopt;  // the message is gone (expired or erased)
    e.message = MessageRow{.message_id = e.message_id,
                           .conversation_id = e.conversation_id,
                           .business_id = e.business_id,
                           .sealed = pqxx::binarystring(r(9)).str(),
                           .direction = static_cast<Direction>(r(8).as<int>()),
                           .text = "",
                           .template_name = r(10).as<std::string>(),
                           .status = static_cast<MessageStatus>(r(11).as<int>()),
                           .created_unix_micros = r(12).as<int64_t>(),
                           .may_have_media = r(24).as<bool>()};
  }
  if (e.kind == EventKind::kReaction) {
    // The message reacted to is gone, and the reaction with it.
    if (r(8).is_null()) return std::nullopt;
    e.reaction = ReactionRow{.message_id = e.message_id,
                             .conversation_id = e.conversation_id,
                             // The event goes to the other side of the one that reacted.
                             .party = owner == e.business_id ? Party::kUser : Party::kBusiness,
                             .sealed = r(18).is_null() ? "" : pqxx::binarystring(r(18)).str(),
                             .emoji = "",
                             .updated_unix_micros = r(19).is_null() ? 0 : r(19).as<int64_t>()};
  }
  e.terms = TermsRow{
      e.business_id,    r(13).as<std::string>(), "", "", r(14).as<int64_t>(), r(15).as<int64_t>(),
      r(17).as<bool>(), r(16).as<std::string>(), {}};
  if (e.kind == EventKind::kEndpointNotice) {
    e.endpoint = EndpointNoticeRow{.endpoint_id = r(20).as<std::string>(),
                                   .url = r(21).as<std::string>(),
                                   .reason = r(22).as<std::string>(),
                                   .last_error = r(23).as<std::string>()};
  }
  return e;
}

void EventRepository::AppendStatusEvents(pqxx::transaction_base& tx,
                                         const std::vector<StatusChange>& changes, int status) {
  if (changes.empty()) return;
  std::vector<std::string> owners, conversations, messages;
  for (const auto& c : changes) {
    owners.push_back(c.notify_owner);
    conversations.push_back(c.conversation_id);
    messages.push_back(c.message_id);
  }
  tx.exec_params(kAppendStatusEvents, store::SqlArray(owners), store::SqlArray(conversations),
                 store::SqlArray(messages), status);
}

int64_t EventRepository::Acknowledge(pqxx::transaction_base& tx, const std::string& owner,
                                     int64_t position, int64_t no_storage_grace) {
  // Touches the owner's acks row, conversation marks, message rows and then the heads of the
  // senders told; never the owner's own head, so it does not wait for writers appending to the
  // same log.
  return tx.exec_params1(kAcknowledge, owner, position, no_storage_grace)[0].as<int64_t>();
}

std::vector<StatusChange> EventRepository::MarkRead(pqxx::transaction_base& tx,
                                                    const std::string& conversation_id,
                                                    Direction direction,
                                                    const std::string& message_id, int* marked) {
  *marked = 0;
  std::vector<StatusChange> changes;
  for (const auto& r :
       tx.exec_params(kMarkRead, conversation_id, static_cast<int>(direction), message_id)) {
    *marked = r[3].as<int>();
    if (!r[2].as<std::string>().empty()) {
      changes.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()});
    }
  }
  return changes;
}

}  // namespace bizrelay::hosting

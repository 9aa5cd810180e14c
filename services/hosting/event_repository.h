#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "services/hosting/rows.h"

namespace bizrelay::hosting {

// A message whose status changed, with the owner to tell.
struct StatusChange {
  std::string message_id;
  std::string conversation_id;
  std::string notify_owner;
};

// Each owner's (user's or business's) event log: appending, reading, acknowledging, and the
// delivered and read watermarks that acknowledgements and read marks move. Every function runs
// in the caller's transaction.
class EventRepository {
 public:
  // Reserves `n` positions in the owner's log (locking its head); returns the first.
  static int64_t TakePositions(pqxx::transaction_base& tx, const std::string& owner, int64_t n);
  static void InsertEvent(pqxx::transaction_base& tx, const std::string& owner, int64_t position,
                          EventKind kind, const std::string& conversation_id,
                          const std::string& message_id, int status, int notice);
  // Appends one event at the next position and wakes the owner's streams at commit.
  static void AppendEvent(pqxx::transaction_base& tx, const std::string& owner, EventKind kind,
                          const std::string& conversation_id, const std::string& message_id = "",
                          int status = 0, int notice = 0);

  // Up to `limit` events after `after`, skipping those whose message is gone or unreadable;
  // `last_read` (if given) gets the position of the last event read, skipped or not.
  static std::vector<EventRow> Events(pqxx::transaction_base& tx, const std::string& owner,
                                      int64_t after, int limit, int64_t default_lifetime,
                                      int64_t* last_read = nullptr);
  // The columns of hosting.read_events in a result row from `first` on: the event of `owner`'s
  // log, or nothing if its message is gone (expired or erased).
  static std::optional<EventRow> FromRow(const pqxx::row& r, const std::string& owner,
                                         pqxx::row::size_type first = 0);
  // One status event per change, to the owner it names, in one statement.
  static void AppendStatusEvents(pqxx::transaction_base& tx,
                                 const std::vector<StatusChange>& changes, int status);
  // In one statement: marks delivered the messages behind the owner's message events up to
  // `position` and tells each conversation's sender (a status event), lets delivered messages
  // of no-storage businesses expire after `no_storage_grace` seconds, moves the acknowledged
  // position forward and drops the acknowledged events. Returns the acknowledged position.
  static int64_t Acknowledge(pqxx::transaction_base& tx, const std::string& owner, int64_t position,
                             int64_t no_storage_grace);
  // Marks read the messages of `direction` in the conversation up to `message_id` (inclusive).
  // `marked` gets how many became read; the change names `message_id` (every earlier message of
  // that side is read too).
  static std::vector<StatusChange> MarkRead(pqxx::transaction_base& tx,
                                            const std::string& conversation_id, Direction direction,
                                            const std::string& message_id, int* marked);
};

}  // namespace bizrelay::hosting

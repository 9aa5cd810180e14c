-- The sweeper removes old events that name no message (notices and statuses) every few
-- seconds. Without an index it read all of hosting.events each time, most of it message
-- events, so a sweep took longer the more messages were kept. This index holds only the
-- events it looks for, in the order it takes them.
CREATE INDEX events_without_message_by_age ON hosting.events (created_at)
  WHERE message_id IS NULL;

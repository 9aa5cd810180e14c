-- Deleting messages (expiry, erasure) deletes the events that point at them: a lookup in
-- events_by_message per deleted message, never a pass over the whole events table (which a
-- hash join would make for every sweeper batch).
CREATE OR REPLACE FUNCTION hosting.drop_events_of_gone_messages() RETURNS trigger
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
  DELETE FROM hosting.events e USING gone_messages g WHERE e.message_id = g.message_id;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER messages_take_their_events AFTER DELETE ON hosting.messages
  REFERENCING OLD TABLE AS gone_messages
  FOR EACH STATEMENT EXECUTE FUNCTION hosting.drop_events_of_gone_messages();

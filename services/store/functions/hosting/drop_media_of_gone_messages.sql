-- Deleting messages (expiry, "no storage" acknowledgement, erasure, offboarding) deletes the
-- media attached to them, and so their chunks: a lookup in hosting.media's message_id index per
-- deleted message, never a pass over the media table.
CREATE OR REPLACE FUNCTION hosting.drop_media_of_gone_messages() RETURNS trigger
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
  DELETE FROM hosting.media md USING gone_messages g WHERE md.message_id = g.message_id;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER messages_take_their_media AFTER DELETE ON hosting.messages
  REFERENCING OLD TABLE AS gone_messages
  FOR EACH STATEMENT EXECUTE FUNCTION hosting.drop_media_of_gone_messages();

-- Deleting messages (expiry, erasure, a business's deletion) deletes their reactions: a lookup
-- by primary key per deleted message.
CREATE OR REPLACE FUNCTION hosting.drop_reactions_of_gone_messages() RETURNS trigger
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
  DELETE FROM hosting.message_reactions r USING gone_messages g WHERE r.message_id = g.message_id;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER messages_take_their_reactions AFTER DELETE ON hosting.messages
  REFERENCING OLD TABLE AS gone_messages
  FOR EACH STATEMENT EXECUTE FUNCTION hosting.drop_reactions_of_gone_messages();

-- Deleting conversations (only when a business itself is deleted) deletes their messages and
-- events.
CREATE OR REPLACE FUNCTION hosting.drop_rows_of_gone_conversations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM hosting.messages m USING gone_conversations g
    WHERE m.conversation_id = g.conversation_id;
  DELETE FROM hosting.events e USING gone_conversations g
    WHERE e.conversation_id = g.conversation_id;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER conversations_take_their_rows AFTER DELETE ON hosting.conversations
  REFERENCING OLD TABLE AS gone_conversations
  FOR EACH STATEMENT EXECUTE FUNCTION hosting.drop_rows_of_gone_conversations();

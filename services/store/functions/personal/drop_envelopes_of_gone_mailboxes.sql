-- Deleting a mailbox takes its envelopes along, in one set-based statement per DELETE.
-- Envelopes have no foreign key to their mailbox: post_envelopes only inserts for mailboxes it
-- has just locked, so a per-row check could never fail, yet it ran a query per envelope.
CREATE OR REPLACE FUNCTION personal.drop_envelopes_of_gone_mailboxes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM personal.envelopes e USING gone_mailboxes g WHERE e.mailbox_id = g.mailbox_id;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER mailboxes_take_their_envelopes AFTER DELETE ON personal.mailboxes
  REFERENCING OLD TABLE AS gone_mailboxes
  FOR EACH STATEMENT EXECUTE FUNCTION personal.drop_envelopes_of_gone_mailboxes();

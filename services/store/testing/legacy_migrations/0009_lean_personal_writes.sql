-- Sealed sends without a per-row foreign-key check: post_envelopes only inserts envelopes for
-- mailboxes its caller has just locked (LockMailboxes) and whose next_seq it has just moved, so
-- the check could never fail, yet it ran a query per envelope. Deleting a mailbox still takes
-- its envelopes along, in one set-based statement per DELETE.
ALTER TABLE personal.envelopes DROP CONSTRAINT envelopes_mailbox_id_fkey;

CREATE FUNCTION personal.drop_envelopes_of_gone_mailboxes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM personal.envelopes e USING gone_mailboxes g WHERE e.mailbox_id = g.mailbox_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER mailboxes_take_their_envelopes AFTER DELETE ON personal.mailboxes
  REFERENCING OLD TABLE AS gone_mailboxes
  FOR EACH STATEMENT EXECUTE FUNCTION personal.drop_envelopes_of_gone_mailboxes();

-- Planned for each batch (see 0008): a plan kept from when the envelopes table was small, or
-- just emptied, went on scanning it whole for every batch once it had grown.
ALTER FUNCTION personal.post_envelopes(uuid[], bytea[], text[], bytea[], integer, integer)
  SET plan_cache_mode = force_custom_plan;

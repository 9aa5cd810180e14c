-- Rich messages (issue 18). Message content beyond plain text (locations, contact cards,
-- interactive buttons and lists, the user's choice, quoted message ids) needs no column: it is
-- serialized and sealed into hosting.messages.body exactly like a text body, with a format
-- marker that no text body can start with (see services/hosting/rich_content.h), so rows
-- written before this migration read as they always did.

-- kind 4: a reaction. The event names the message reacted to (message_id), so it goes with
-- the message (functions/hosting/drop_events_of_gone_messages.sql); the reaction itself is read
-- from hosting.message_reactions when the event is delivered.
ALTER TABLE hosting.events DROP CONSTRAINT events_kind_check;
ALTER TABLE hosting.events ADD CONSTRAINT events_kind_check CHECK (kind IN (1, 2, 3, 4));

-- Each side's current reaction to a message (party: 1 user, 2 business). The emoji is sealed
-- (AES-256-GCM) under the business's data key, padded to a fixed length first so that its
-- ciphertext does not reveal which emoji it is by its size; associated data binds business,
-- conversation, message and party. No foreign key, as for events: deleting messages deletes
-- their reactions by a statement-level trigger
-- (functions/hosting/drop_reactions_of_gone_messages.sql), and every read joins the message
-- and its expiry, so a reaction is never seen after its message expired.
CREATE TABLE hosting.message_reactions (
  message_id uuid NOT NULL,
  party      smallint NOT NULL CHECK (party IN (1, 2)),
  emoji      bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, party)
);

-- Quick-reply buttons of a template: a serialized bizrelay.v1.ReplyButtons (NULL: none). Like
-- the template's body, a business's registered template is not chat content and is kept as is.
ALTER TABLE hosting.templates ADD COLUMN quick_replies bytea;

-- The schema's tables, indexes and grants as of the first release: everything that must run
-- exactly once. Functions, trigger functions with their triggers, and views live in
-- services/store/functions/ and are applied after the migrations on every start.
--
-- A database made by the migrations that came before this baseline (0001_core.sql to
-- 0019_packed_sealed_sends_bounded_by_their_mailbox.sql) already has all of this: the migrator
-- records this file as applied there instead of running it.

-- Roles of the two paths. bizrelayd connects to each path as that path's role (see
-- database.*_role); objects belong to the migrating role.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['bizrelay_hosting', 'bizrelay_personal'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- made meanwhile
      END;
    END IF;
  END LOOP;
END $$;

-------------------------------------------------------------------------------------------------
-- core: accounts shared by every path.
-------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS core;

CREATE TABLE core.users (
  user_id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name    text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_active_day date NOT NULL DEFAULT current_date
);

CREATE TABLE core.businesses (
  business_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name  text NOT NULL,
  description   text NOT NULL DEFAULT '',
  website       text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  disabled_at   timestamptz,
  offboarded_at timestamptz
);

-- Bearer credentials, stored only as SHA-256 hashes of the token. kind: 1 user token,
-- 2 business API key.
CREATE TABLE core.credentials (
  token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  kind         smallint NOT NULL CHECK (kind IN (1, 2)),
  principal_id uuid NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX credentials_principal ON core.credentials (principal_id) WHERE revoked_at IS NULL;

-- How many send tokens each user got per day (the issuance limit). Hosting side: it knows
-- users, and learns nothing of the tokens.
CREATE TABLE core.send_token_issuance (
  user_id uuid NOT NULL REFERENCES core.users (user_id) ON DELETE CASCADE,
  day     date NOT NULL,
  issued  integer NOT NULL,
  PRIMARY KEY (user_id, day)
);

-- Policy versions, acceptances and the legacy data-sharing opt-out.
CREATE TABLE core.policy_versions (
  version      text PRIMARY KEY,
  seq          bigserial UNIQUE,
  text_sha256  text NOT NULL,
  text_url     text NOT NULL DEFAULT '',
  effective_at timestamptz NOT NULL,
  accept_by    timestamptz NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.policy_acceptances (
  user_id     uuid NOT NULL REFERENCES core.users (user_id) ON DELETE CASCADE,
  version     text NOT NULL REFERENCES core.policy_versions (version),
  accepted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, version)
);

-- One row: whether the operator's opt-out offer is open.
CREATE TABLE core.opt_out_offer (
  id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  open       boolean NOT NULL DEFAULT false,
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO core.opt_out_offer (open) VALUES (false);

-- An opt-out is permanent (trigger in functions/core/keep_opt_out.sql).
CREATE TABLE core.data_sharing_opt_outs (
  user_id      uuid PRIMARY KEY REFERENCES core.users (user_id) ON DELETE CASCADE,
  opted_out_at timestamptz NOT NULL DEFAULT now()
);

-------------------------------------------------------------------------------------------------
-- hosting: chats between users and businesses, stored on the businesses' behalf.
-------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS hosting;

-- What a business tells users before they start a chat. `version` grows on every change of
-- terms; a chat records the version its user consented to. lifetime_seconds NULL: the
-- operator's default. no_storage: a message is kept only until its recipient acknowledges it,
-- plus the operator's grace.
CREATE TABLE hosting.business_terms (
  business_id        uuid PRIMARY KEY REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  version            bigint NOT NULL DEFAULT 1,
  data_use_statement text NOT NULL DEFAULT '',
  updated_at         timestamptz NOT NULL DEFAULT now(),
  lifetime_seconds   bigint CHECK (lifetime_seconds > 0),
  no_storage         boolean NOT NULL DEFAULT false
);

CREATE TABLE hosting.retention_labels (
  business_id      uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  label            text NOT NULL,
  lifetime_seconds bigint NOT NULL CHECK (lifetime_seconds > 0),
  PRIMARY KEY (business_id, label)
);

-- Per-business data keys, wrapped (AES-256-GCM) by the operator's master key, which never
-- enters the database. master_key_id names the master key that wrapped it. Deleting the row
-- is crypto-shredding: nothing the business stored can be read again.
CREATE TABLE hosting.business_keys (
  business_id   uuid PRIMARY KEY REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  wrapped_key   bytea NOT NULL,
  master_key_id text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- state: 1 open, 2 left, 3 blocked. Erasing a user closes its chats for the businesses (user
-- gone) instead of deleting them. Conversations are updated on every batch of sends: fillfactor
-- leaves room on each page for the new versions.
CREATE TABLE hosting.conversations (
  conversation_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id          uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  user_id              uuid REFERENCES core.users (user_id) ON DELETE SET NULL,
  state                smallint NOT NULL CHECK (state IN (1, 2, 3)),
  consent_version      bigint NOT NULL,
  consented_at         timestamptz NOT NULL DEFAULT now(),
  last_user_message_at timestamptz,
  last_activity_at     timestamptz NOT NULL DEFAULT now(),
  next_seq             bigint NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  label                text NOT NULL DEFAULT '',
  UNIQUE (business_id, user_id)
) WITH (fillfactor = 70);
CREATE INDEX conversations_by_user ON hosting.conversations (user_id, conversation_id);
CREATE INDEX conversations_by_activity
  ON hosting.conversations (business_id, last_activity_at DESC, conversation_id);

-- The one value a chat is looked up by in the group commit, so that a plan kept per connection
-- has a single index to choose. Built from the two ids' fixed-length text, it is one-to-one;
-- it compares bytewise (collation "C"). An index is built on it: it stays here, with the index,
-- and must never change.
CREATE FUNCTION hosting.chat_ref(p_business uuid, p_user uuid)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (p_business::text || p_user::text) COLLATE "C" $$;

CREATE UNIQUE INDEX conversations_by_pair
  ON hosting.conversations (hosting.chat_ref(business_id, user_id));

-- Delivered and read watermarks per conversation, apart from the conversation rows that
-- writers lock. A message's status derives from them (read if its seq is at or below the read
-- watermark of its side, delivered if at or below the delivered one, sent otherwise). No row:
-- all zero.
CREATE TABLE hosting.conversation_marks (
  conversation_id         uuid PRIMARY KEY REFERENCES hosting.conversations ON DELETE CASCADE,
  user_msgs_delivered_seq bigint NOT NULL DEFAULT 0,
  user_msgs_read_seq      bigint NOT NULL DEFAULT 0,
  biz_msgs_delivered_seq  bigint NOT NULL DEFAULT 0,
  biz_msgs_read_seq       bigint NOT NULL DEFAULT 0
);

-- direction: 1 user to business, 2 business to user. body: sealed with the business's data
-- key, nonce (12) || ciphertext || tag (16), with business, conversation and message ids as
-- associated data. request_hash is SHA-256 of what the sender asked to send, to tell a retry
-- (same key, same request) from a reused key (same key, different request). Every message
-- carries its expiry, computed when it is written; reads never return a message at or past
-- it, and the sweeper deletes it.
--
-- No foreign key to the conversation: a per-row check cost about as much as the insert, and
-- writers only insert for a conversation their transaction has just locked. Deleting
-- conversations deletes their messages by a statement-level trigger instead
-- (functions/hosting/drop_rows_of_gone_conversations.sql).
CREATE TABLE hosting.messages (
  message_id      uuid PRIMARY KEY,
  conversation_id uuid NOT NULL,
  seq             bigint NOT NULL,
  direction       smallint NOT NULL CHECK (direction IN (1, 2)),
  template_name   text,
  idempotency_key text NOT NULL,
  request_hash    bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  body            bytea NOT NULL,
  UNIQUE (conversation_id, seq)
);
CREATE INDEX messages_by_expiry ON hosting.messages (expires_at);

-- The one value earlier sends of an idempotency key are found by: the conversation id's 36
-- characters, the direction's one digit and the key. The fixed-length prefix makes it
-- one-to-one, so the unique index on it is exactly the uniqueness of (conversation, direction,
-- key); only that index fits the probe (see functions/hosting/post_user_messages.sql). An
-- index is built on it: it stays here, with the index, and must never change.
CREATE FUNCTION hosting.idempotency_ref(p_conversation uuid, p_direction smallint, p_key text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (p_conversation::text || p_direction::text || p_key) COLLATE "C" $$;

CREATE UNIQUE INDEX messages_idempotency
  ON hosting.messages (hosting.idempotency_ref(conversation_id, direction, idempotency_key));

-- Per-owner (user or business) event logs with increasing positions. A position is taken from
-- mailbox_heads under its row lock, so positions of one owner commit in order and a reader
-- resuming after position P never misses an event that commits later.
CREATE TABLE hosting.mailbox_heads (
  owner_id      uuid PRIMARY KEY,
  last_position bigint NOT NULL DEFAULT 0
);

-- The acknowledged position of each log, apart from mailbox_heads so that acknowledging never
-- waits for (or blocks) the writers appending to the same log.
CREATE TABLE hosting.mailbox_acks (
  owner_id       uuid PRIMARY KEY,
  acked_position bigint NOT NULL DEFAULT 0
);

-- kind: 1 message, 2 status change, 3 notice (notice_kind: 1 terms changed, 2 chat started,
-- 3 chat left, 4 blocked, 5 unblocked). No foreign keys, as for messages: deleting messages
-- or conversations deletes their events by statement-level triggers.
CREATE TABLE hosting.events (
  owner_id        uuid NOT NULL,
  position        bigint NOT NULL,
  kind            smallint NOT NULL CHECK (kind IN (1, 2, 3)),
  conversation_id uuid NOT NULL,
  message_id      uuid,
  status          smallint,
  notice_kind     smallint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (owner_id, position)
);
CREATE INDEX events_by_message ON hosting.events (message_id) WHERE message_id IS NOT NULL;
-- The sweeper removes old events that name no message (notices and statuses): this index holds
-- only those, in the order it takes them.
CREATE INDEX events_without_message_by_age ON hosting.events (created_at)
  WHERE message_id IS NULL;

CREATE TABLE hosting.templates (
  business_id uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  name        text NOT NULL,
  body        text NOT NULL,
  parameters  text[] NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, name)
);

-------------------------------------------------------------------------------------------------
-- personal: the opaque person-to-person path.
-------------------------------------------------------------------------------------------------
CREATE SCHEMA personal;

-- A mailbox is an opaque address. The relay keeps no owner, no creation time and no contact
-- list: only hashes of the owner secret and of the access key senders present, and the
-- owner's public keys. first_seq is a lower bound of the oldest envelope's number (see
-- functions/personal/post_envelopes.sql).
CREATE TABLE personal.mailboxes (
  mailbox_id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_secret_hash       bytea NOT NULL UNIQUE,
  access_key_hash         bytea NOT NULL,
  identity_key            bytea,
  signed_prekey           bytea,
  signed_prekey_signature bytea,
  signed_prekey_id        bigint,
  next_seq                bigint NOT NULL DEFAULT 0,
  first_seq               bigint NOT NULL DEFAULT 1
);

CREATE TABLE personal.prekeys (
  mailbox_id uuid NOT NULL REFERENCES personal.mailboxes ON DELETE CASCADE,
  prekey_id  bigint NOT NULL,
  public_key bytea NOT NULL,
  PRIMARY KEY (mailbox_id, prekey_id)
);

-- Per envelope only: mailbox, order number, ciphertext and an expiry day. No sender, no
-- timestamp, no client address. No foreign key: deleting a mailbox deletes its envelopes by a
-- statement-level trigger (functions/personal/drop_envelopes_of_gone_mailboxes.sql).
CREATE TABLE personal.envelopes (
  mailbox_id  uuid NOT NULL,
  seq         bigint NOT NULL,
  ciphertext  bytea NOT NULL,
  expires_day date NOT NULL,
  PRIMARY KEY (mailbox_id, seq)
);
CREATE INDEX envelopes_by_expiry ON personal.envelopes (expires_day);

-- Hashes of spent send tokens, kept while their issuer key is accepted.
CREATE TABLE personal.spent_tokens (
  token_hash bytea PRIMARY KEY,
  key_id     text NOT NULL
);

-- The keys that have spent tokens (a handful of rows), so the sweeper finds retired keys'
-- tokens without reading all of spent_tokens.
CREATE TABLE personal.spent_token_keys (
  key_id text PRIMARY KEY
);

-------------------------------------------------------------------------------------------------
-- Grants: each role reaches its own path only; PUBLIC gets nothing on the schemas.
-------------------------------------------------------------------------------------------------
REVOKE ALL ON SCHEMA core, hosting, personal FROM PUBLIC;
GRANT USAGE ON SCHEMA core, hosting TO bizrelay_hosting;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA core, hosting TO bizrelay_hosting;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA core TO bizrelay_hosting;
GRANT USAGE ON SCHEMA personal TO bizrelay_personal;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA personal TO bizrelay_personal;
ALTER DEFAULT PRIVILEGES IN SCHEMA core, hosting
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bizrelay_hosting;
ALTER DEFAULT PRIVILEGES IN SCHEMA personal
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bizrelay_personal;

-- The personal path: its own schema and database role, and the separation of the two paths
-- by grants. bizrelayd connects to each path as that path's role (see database.*_role).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizrelay_hosting') THEN
    CREATE ROLE bizrelay_hosting LOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizrelay_personal') THEN
    CREATE ROLE bizrelay_personal LOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE SCHEMA personal;

-- A mailbox is an opaque address. The relay keeps no owner, no creation time and no contact
-- list: only hashes of the owner secret and of the access key senders present, and the
-- owner's public keys.
CREATE TABLE personal.mailboxes (
  mailbox_id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_secret_hash       bytea NOT NULL UNIQUE,
  access_key_hash         bytea NOT NULL,
  identity_key            bytea,
  signed_prekey           bytea,
  signed_prekey_signature bytea,
  signed_prekey_id        bigint,
  next_seq                bigint NOT NULL DEFAULT 0
);

CREATE TABLE personal.prekeys (
  mailbox_id uuid NOT NULL REFERENCES personal.mailboxes ON DELETE CASCADE,
  prekey_id  bigint NOT NULL,
  public_key bytea NOT NULL,
  PRIMARY KEY (mailbox_id, prekey_id)
);

-- Per envelope only: mailbox, order number, ciphertext and an expiry day. No sender, no
-- timestamp, no client address.
CREATE TABLE personal.envelopes (
  mailbox_id  uuid NOT NULL REFERENCES personal.mailboxes ON DELETE CASCADE,
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

-- How many send tokens each user got per day (the issuance limit). Hosting side: it knows
-- users, and learns nothing of the tokens.
CREATE TABLE core.send_token_issuance (
  user_id uuid NOT NULL REFERENCES core.users (user_id) ON DELETE CASCADE,
  day     date NOT NULL,
  issued  integer NOT NULL,
  PRIMARY KEY (user_id, day)
);

-- Grants: each role reaches its own path only. Objects belong to the migrating role; PUBLIC
-- gets nothing on the schemas.
REVOKE ALL ON SCHEMA core, hosting, personal FROM PUBLIC;
GRANT USAGE ON SCHEMA core, hosting TO bizrelay_hosting;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA core, hosting TO bizrelay_hosting;
GRANT USAGE ON SCHEMA personal TO bizrelay_personal;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA personal TO bizrelay_personal;
ALTER DEFAULT PRIVILEGES IN SCHEMA core, hosting
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bizrelay_hosting;
ALTER DEFAULT PRIVILEGES IN SCHEMA personal
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bizrelay_personal;

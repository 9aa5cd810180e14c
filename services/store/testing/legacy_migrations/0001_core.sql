-- Accounts shared by every path: users, businesses and their bearer credentials.
-- Credentials are stored only as SHA-256 hashes of the token.
CREATE SCHEMA IF NOT EXISTS core;

CREATE TABLE core.users (
  user_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.businesses (
  business_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name text NOT NULL,
  description  text NOT NULL DEFAULT '',
  website      text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  disabled_at  timestamptz
);

-- kind: 1 user token, 2 business API key.
CREATE TABLE core.credentials (
  token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  kind         smallint NOT NULL CHECK (kind IN (1, 2)),
  principal_id uuid NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX credentials_principal ON core.credentials (principal_id) WHERE revoked_at IS NULL;

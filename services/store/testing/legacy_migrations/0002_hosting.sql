-- The hosting path: chats between users and businesses, stored on the businesses' behalf.
CREATE SCHEMA IF NOT EXISTS hosting;

-- What a business tells users before they start a chat. `version` grows on every change of
-- terms; a chat records the version its user consented to.
CREATE TABLE hosting.business_terms (
  business_id        uuid PRIMARY KEY REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  version            bigint NOT NULL DEFAULT 1,
  retention_days     integer NOT NULL,
  data_use_statement text NOT NULL DEFAULT '',
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- state: 1 open, 2 left, 3 blocked.
CREATE TABLE hosting.conversations (
  conversation_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id          uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  user_id              uuid NOT NULL REFERENCES core.users (user_id) ON DELETE CASCADE,
  state                smallint NOT NULL CHECK (state IN (1, 2, 3)),
  consent_version      bigint NOT NULL,
  consented_at         timestamptz NOT NULL DEFAULT now(),
  last_user_message_at timestamptz,
  last_activity_at     timestamptz NOT NULL DEFAULT now(),
  next_seq             bigint NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, user_id)
);
CREATE INDEX conversations_by_user ON hosting.conversations (user_id, conversation_id);
CREATE INDEX conversations_by_activity
  ON hosting.conversations (business_id, last_activity_at DESC, conversation_id);

-- direction: 1 user to business, 2 business to user. status: 1 sent, 2 delivered, 3 read.
-- request_hash is SHA-256 of what the sender asked to send, to tell a retry (same key, same
-- request) from a reused key (same key, different request).
CREATE TABLE hosting.messages (
  message_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES hosting.conversations ON DELETE CASCADE,
  seq             bigint NOT NULL,
  direction       smallint NOT NULL CHECK (direction IN (1, 2)),
  body            text NOT NULL,
  template_name   text,
  status          smallint NOT NULL DEFAULT 1 CHECK (status IN (1, 2, 3)),
  idempotency_key text NOT NULL,
  request_hash    bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (conversation_id, direction, idempotency_key),
  UNIQUE (conversation_id, seq)
);

-- Per-owner (user or business) event logs with increasing positions. A position is taken from
-- mailbox_heads under its row lock, so positions of one owner commit in order and a reader
-- resuming after position P never misses an event that commits later.
CREATE TABLE hosting.mailbox_heads (
  owner_id       uuid PRIMARY KEY,
  last_position  bigint NOT NULL DEFAULT 0,
  acked_position bigint NOT NULL DEFAULT 0
);

-- kind: 1 message, 2 status change, 3 notice (notice_kind: 1 terms changed, 2 chat started,
-- 3 chat left, 4 blocked, 5 unblocked).
CREATE TABLE hosting.events (
  owner_id        uuid NOT NULL,
  position        bigint NOT NULL,
  kind            smallint NOT NULL CHECK (kind IN (1, 2, 3)),
  conversation_id uuid NOT NULL REFERENCES hosting.conversations ON DELETE CASCADE,
  message_id      uuid REFERENCES hosting.messages ON DELETE CASCADE,
  status          smallint,
  notice_kind     smallint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (owner_id, position)
);
CREATE INDEX events_by_message ON hosting.events (message_id) WHERE message_id IS NOT NULL;

CREATE TABLE hosting.templates (
  business_id uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  name        text NOT NULL,
  body        text NOT NULL,
  parameters  text[] NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, name)
);

-- Takes `n` positions in owner's log; returns the first. Locks the owner's head row until the
-- transaction ends.
CREATE FUNCTION hosting.take_positions(p_owner uuid, n bigint) RETURNS bigint
LANGUAGE sql AS $$
  INSERT INTO hosting.mailbox_heads AS h (owner_id, last_position) VALUES (p_owner, n)
  ON CONFLICT (owner_id) DO UPDATE SET last_position = h.last_position + n
  RETURNING last_position - n + 1
$$;

-- Group commit of user-to-business messages: one call stores a whole batch. Hashes are hex. Items are
-- authenticated here (token hashes), so a revoked token stops at once. For each item returns
-- its index and an outcome:
--   0 stored, 1 replay of an earlier identical request (the original message is returned),
--   2 unauthenticated, 3 business unknown or disabled, 4 chat not started, 5 chat not open,
--   6 idempotency key reused with a different request.
CREATE FUNCTION hosting.post_user_messages(
    p_token_hash text[], p_business uuid[], p_key text[], p_body text[], p_hash text[])
RETURNS TABLE (idx integer, outcome smallint, message_id uuid, conversation_id uuid,
               seq bigint, status smallint, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  v_user uuid;
  v_conv hosting.conversations%ROWTYPE;
  v_msg hosting.messages%ROWTYPE;
  v_seq bigint;
  v_pos bigint;
  v_businesses uuid[];
BEGIN
  -- Every head lock first, in business order, before any conversation lock: a conversation
  -- of business B is only ever locked by a sender that holds B's head, so batches cannot
  -- deadlock on each other.
  SELECT array_agg(DISTINCT b ORDER BY b) INTO v_businesses FROM unnest(p_business) AS b;
  INSERT INTO hosting.mailbox_heads (owner_id)
    SELECT cb.business_id FROM core.businesses cb WHERE cb.business_id = ANY (v_businesses)
    ON CONFLICT DO NOTHING;
  PERFORM 1 FROM hosting.mailbox_heads h WHERE h.owner_id = ANY (v_businesses)
    ORDER BY h.owner_id FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_token_hash, 1), 0) LOOP
    idx := i - 1; message_id := NULL; conversation_id := NULL; seq := NULL; status := NULL;
    created_at := NULL;
    SELECT c.principal_id INTO v_user FROM core.credentials c
      WHERE c.token_hash = decode(p_token_hash[i], 'hex') AND c.revoked_at IS NULL AND c.kind = 1;
    IF NOT FOUND THEN outcome := 2; RETURN NEXT; CONTINUE; END IF;
    PERFORM 1 FROM core.businesses cb
      WHERE cb.business_id = p_business[i] AND cb.disabled_at IS NULL;
    IF NOT FOUND THEN outcome := 3; RETURN NEXT; CONTINUE; END IF;
    SELECT * INTO v_conv FROM hosting.conversations c
      WHERE c.business_id = p_business[i] AND c.user_id = v_user FOR UPDATE;
    IF NOT FOUND THEN outcome := 4; RETURN NEXT; CONTINUE; END IF;
    conversation_id := v_conv.conversation_id;
    SELECT * INTO v_msg FROM hosting.messages m
      WHERE m.conversation_id = v_conv.conversation_id AND m.direction = 1
        AND m.idempotency_key = p_key[i];
    IF FOUND THEN
      IF v_msg.request_hash = decode(p_hash[i], 'hex') THEN
        outcome := 1; message_id := v_msg.message_id; seq := v_msg.seq;
        status := v_msg.status; created_at := v_msg.created_at;
      ELSE
        outcome := 6;
      END IF;
      RETURN NEXT; CONTINUE;
    END IF;
    IF v_conv.state <> 1 THEN outcome := 5; RETURN NEXT; CONTINUE; END IF;
    UPDATE hosting.conversations c
      SET next_seq = c.next_seq + 1, last_user_message_at = now(), last_activity_at = now()
      WHERE c.conversation_id = v_conv.conversation_id RETURNING c.next_seq INTO v_seq;
    INSERT INTO hosting.messages AS m
        (conversation_id, seq, direction, body, idempotency_key, request_hash)
      VALUES (v_conv.conversation_id, v_seq, 1, p_body[i], p_key[i], decode(p_hash[i], 'hex'))
      RETURNING m.message_id, m.created_at INTO message_id, created_at;
    v_pos := hosting.take_positions(p_business[i], 1);
    INSERT INTO hosting.events (owner_id, position, kind, conversation_id, message_id)
      VALUES (p_business[i], v_pos, 1, v_conv.conversation_id, message_id);
    PERFORM pg_notify('bizrelay_mailbox', p_business[i]::text);
    outcome := 0; seq := v_seq; status := 1;
    RETURN NEXT;
  END LOOP;
END
$$;

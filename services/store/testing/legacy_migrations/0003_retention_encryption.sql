-- Business-defined retention, encryption at rest and crypto-shredding.

-- Retention rules. lifetime_seconds NULL: the operator's default. no_storage: a message is kept
-- only until its recipient acknowledges it, plus the operator's grace.
ALTER TABLE hosting.business_terms DROP COLUMN retention_days;
ALTER TABLE hosting.business_terms ADD COLUMN lifetime_seconds bigint CHECK (lifetime_seconds > 0);
ALTER TABLE hosting.business_terms ADD COLUMN no_storage boolean NOT NULL DEFAULT false;

CREATE TABLE hosting.retention_labels (
  business_id      uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  label            text NOT NULL,
  lifetime_seconds bigint NOT NULL CHECK (lifetime_seconds > 0),
  PRIMARY KEY (business_id, label)
);

ALTER TABLE hosting.conversations ADD COLUMN label text NOT NULL DEFAULT '';

-- Every message carries its expiry, computed when it is written; reads never return a message
-- at or past it, and the sweeper deletes it.
ALTER TABLE hosting.messages ADD COLUMN expires_at timestamptz;
UPDATE hosting.messages SET expires_at = created_at + interval '30 days';
ALTER TABLE hosting.messages ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX messages_by_expiry ON hosting.messages (expires_at);

-- Bodies are sealed with the business's data key: nonce (12) || ciphertext || tag (16), with
-- business, conversation and message ids as associated data. Existing plaintext rows (only
-- from development databases) cannot be sealed here and are dropped.
DELETE FROM hosting.messages;
ALTER TABLE hosting.messages DROP COLUMN body;
ALTER TABLE hosting.messages ADD COLUMN body bytea NOT NULL;
ALTER TABLE hosting.messages ALTER COLUMN message_id DROP DEFAULT;

-- Per-business data keys, wrapped (AES-256-GCM) by the operator's master key, which never
-- enters the database. master_key_id names the master key that wrapped it. Deleting the row
-- is crypto-shredding: nothing the business stored can be read again.
CREATE TABLE hosting.business_keys (
  business_id   uuid PRIMARY KEY REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  wrapped_key   bytea NOT NULL,
  master_key_id text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE core.businesses ADD COLUMN offboarded_at timestamptz;

-- The lifetime in seconds of a new message in a conversation of the business.
CREATE FUNCTION hosting.lifetime_seconds(p_business uuid, p_label text, p_default bigint)
RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT l.lifetime_seconds FROM hosting.retention_labels l
      WHERE l.business_id = p_business AND l.label = p_label AND p_label <> ''),
    (SELECT t.lifetime_seconds FROM hosting.business_terms t WHERE t.business_id = p_business),
    p_default)
$$;

DROP FUNCTION hosting.post_user_messages(text[], uuid[], text[], text[], text[]);

-- Group commit, step 1: authenticates each item (token hashes, hex), checks the business, and
-- locks the user's conversation with it. Takes every business head lock first, in order, so
-- concurrent batches cannot deadlock. outcome: 0 found (conversation_id set), 2
-- unauthenticated, 3 business unknown or disabled, 4 chat not started.
CREATE FUNCTION hosting.prepare_user_sends(p_token_hash text[], p_business uuid[])
RETURNS TABLE (idx integer, outcome smallint, conversation_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  v_user uuid;
  v_businesses uuid[];
BEGIN
  SELECT array_agg(DISTINCT b ORDER BY b) INTO v_businesses FROM unnest(p_business) AS b;
  INSERT INTO hosting.mailbox_heads (owner_id)
    SELECT cb.business_id FROM core.businesses cb WHERE cb.business_id = ANY (v_businesses)
    ON CONFLICT DO NOTHING;
  PERFORM 1 FROM hosting.mailbox_heads h WHERE h.owner_id = ANY (v_businesses)
    ORDER BY h.owner_id FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_token_hash, 1), 0) LOOP
    idx := i - 1; conversation_id := NULL;
    SELECT c.principal_id INTO v_user FROM core.credentials c
      WHERE c.token_hash = decode(p_token_hash[i], 'hex') AND c.revoked_at IS NULL AND c.kind = 1;
    IF NOT FOUND THEN outcome := 2; RETURN NEXT; CONTINUE; END IF;
    PERFORM 1 FROM core.businesses cb
      WHERE cb.business_id = p_business[i] AND cb.disabled_at IS NULL;
    IF NOT FOUND THEN outcome := 3; RETURN NEXT; CONTINUE; END IF;
    SELECT c.conversation_id INTO conversation_id FROM hosting.conversations c
      WHERE c.business_id = p_business[i] AND c.user_id = v_user FOR UPDATE;
    IF NOT FOUND THEN outcome := 4; conversation_id := NULL; RETURN NEXT; CONTINUE; END IF;
    outcome := 0;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Group commit, step 2, in the same transaction: stores the sealed messages of the items
-- step 1 found. outcome: 0 stored, 1 replay of an identical earlier request (its message id is
-- returned), 5 chat not open, 6 idempotency key reused with a different request.
CREATE FUNCTION hosting.post_user_messages(
    p_conversation uuid[], p_business uuid[], p_message uuid[], p_key text[], p_body text[],
    p_hash text[], p_default_lifetime bigint)
RETURNS TABLE (idx integer, outcome smallint, message_id uuid, status smallint,
               created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  v_conv hosting.conversations%ROWTYPE;
  v_msg hosting.messages%ROWTYPE;
  v_seq bigint;
  v_pos bigint;
  v_lifetime bigint;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_conversation, 1), 0) LOOP
    idx := i - 1; message_id := NULL; status := NULL; created_at := NULL;
    SELECT * INTO v_conv FROM hosting.conversations c
      WHERE c.conversation_id = p_conversation[i];
    SELECT * INTO v_msg FROM hosting.messages m
      WHERE m.conversation_id = p_conversation[i] AND m.direction = 1
        AND m.idempotency_key = p_key[i];
    IF FOUND THEN
      IF v_msg.request_hash = decode(p_hash[i], 'hex') THEN
        outcome := 1; message_id := v_msg.message_id; status := v_msg.status;
        created_at := v_msg.created_at;
      ELSE
        outcome := 6;
      END IF;
      RETURN NEXT; CONTINUE;
    END IF;
    IF v_conv.state <> 1 THEN outcome := 5; RETURN NEXT; CONTINUE; END IF;
    UPDATE hosting.conversations c
      SET next_seq = c.next_seq + 1, last_user_message_at = now(), last_activity_at = now()
      WHERE c.conversation_id = p_conversation[i] RETURNING c.next_seq INTO v_seq;
    v_lifetime := hosting.lifetime_seconds(p_business[i], v_conv.label, p_default_lifetime);
    INSERT INTO hosting.messages AS m
        (message_id, conversation_id, seq, direction, body, idempotency_key, request_hash,
         expires_at)
      VALUES (p_message[i], p_conversation[i], v_seq, 1, decode(p_body[i], 'hex'), p_key[i],
              decode(p_hash[i], 'hex'), now() + make_interval(secs => v_lifetime))
      RETURNING m.message_id, m.created_at INTO message_id, created_at;
    v_pos := hosting.take_positions(p_business[i], 1);
    INSERT INTO hosting.events (owner_id, position, kind, conversation_id, message_id)
      VALUES (p_business[i], v_pos, 1, p_conversation[i], message_id);
    PERFORM pg_notify('bizrelay_mailbox', p_business[i]::text);
    outcome := 0; status := 1;
    RETURN NEXT;
  END LOOP;
END
$$;

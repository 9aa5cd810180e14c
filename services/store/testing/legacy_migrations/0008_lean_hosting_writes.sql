-- Leaner user sends and inbox reads: no per-row foreign-key checks on the hot path, policy and
-- retention looked up once per batch rather than once per message, and plans that stay right
-- as the tables grow.
--
-- A PL/pgSQL function keeps one plan per connection once it has run a few times. The group
-- commit functions below are planned for each batch instead (plan_cache_mode
-- force_custom_plan): a plan kept from when the tables were small went on scanning them whole
-- for every batch once they had grown (seen: a hash join over all of hosting.messages per
-- batch, until autovacuum's next analyze).

-- A foreign key checks every inserted row with a query of its own, run by a per-row trigger;
-- for a user's message that was three checks (the message's conversation, the event's
-- conversation and the event's message), which cost about as much as the inserts themselves.
-- The writers never need them: a message is only ever inserted for a conversation its
-- transaction has just locked and updated, and an event only for a conversation or message that
-- transaction has read or written, and conversations are never deleted while a writer holds
-- them. What the keys also did, removing the dependent rows, is kept by the statement-level
-- triggers below: one set-based delete per DELETE statement, not one per row.
ALTER TABLE hosting.events DROP CONSTRAINT events_message_id_fkey;
ALTER TABLE hosting.events DROP CONSTRAINT events_conversation_id_fkey;
ALTER TABLE hosting.messages DROP CONSTRAINT messages_conversation_id_fkey;

-- Deleting messages (expiry, erasure) deletes the events that point at them: a lookup in
-- events_by_message per deleted message, never a pass over the whole events table (which a
-- hash join would make for every sweeper batch).
CREATE FUNCTION hosting.drop_events_of_gone_messages() RETURNS trigger
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
  DELETE FROM hosting.events e USING gone_messages g WHERE e.message_id = g.message_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_take_their_events AFTER DELETE ON hosting.messages
  REFERENCING OLD TABLE AS gone_messages
  FOR EACH STATEMENT EXECUTE FUNCTION hosting.drop_events_of_gone_messages();

-- Deleting conversations (only when a business itself is deleted) deletes their messages and
-- events.
CREATE FUNCTION hosting.drop_rows_of_gone_conversations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM hosting.messages m USING gone_conversations g
    WHERE m.conversation_id = g.conversation_id;
  DELETE FROM hosting.events e USING gone_conversations g
    WHERE e.conversation_id = g.conversation_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER conversations_take_their_rows AFTER DELETE ON hosting.conversations
  REFERENCING OLD TABLE AS gone_conversations
  FOR EACH STATEMENT EXECUTE FUNCTION hosting.drop_rows_of_gone_conversations();

-- Group commit, step 1 (replacing the earlier version): for each item (token hash, business),
-- who sends and to which conversation. outcome: 0 found, 2 unauthenticated, 3 business unknown
-- or disabled, 4 chat not started, 7 limited mode (required_policy names the version to
-- accept). stale_day: the sender's day of activity is not today yet (the caller records it,
-- which is rarely needed, so most batches skip that statement). The overdue policy version is
-- looked up once for the batch.
DROP FUNCTION hosting.prepare_user_sends(text[], uuid[]);
CREATE FUNCTION hosting.prepare_user_sends(p_token_hash bytea[], p_business uuid[])
RETURNS TABLE (idx integer, outcome smallint, conversation_id uuid, required_policy text,
               stale_day boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  v_due_version text;
  v_due_seq bigint;
BEGIN
  SELECT v.version, v.seq INTO v_due_version, v_due_seq FROM core.policy_versions v
    WHERE v.accept_by <= now() ORDER BY v.seq DESC LIMIT 1;
  RETURN QUERY
  SELECT (t.i - 1)::integer,
         (CASE WHEN cr.principal_id IS NULL THEN 2
               WHEN p.required IS NOT NULL THEN 7
               WHEN b.business_id IS NULL THEN 3
               WHEN c.conversation_id IS NULL THEN 4
               ELSE 0 END)::smallint,
         c.conversation_id, p.required, coalesce(u.last_active_day <> current_date, false)
  FROM unnest(p_token_hash, p_business) WITH ORDINALITY AS t(tok, biz, i)
  LEFT JOIN core.credentials cr
    ON cr.token_hash = t.tok AND cr.revoked_at IS NULL AND cr.kind = 1
  LEFT JOIN core.users u ON u.user_id = cr.principal_id
  LEFT JOIN LATERAL (
    SELECT v_due_version AS required
    WHERE v_due_version IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM core.policy_acceptances a
                      JOIN core.policy_versions av ON av.version = a.version
                      WHERE a.user_id = cr.principal_id AND av.seq >= v_due_seq)) p ON true
  LEFT JOIN core.businesses b ON b.business_id = t.biz AND b.disabled_at IS NULL
  LEFT JOIN hosting.conversations c ON c.business_id = t.biz AND c.user_id = cr.principal_id;
END
$$;

-- Group commit, step 2 (replacing the earlier version, same contract): the retention lifetime
-- is looked up once per business and label of the batch.
CREATE OR REPLACE FUNCTION hosting.post_user_messages(
    p_conversation uuid[], p_business uuid[], p_message uuid[], p_key text[], p_body text[],
    p_hash text[], p_default_lifetime bigint)
RETURNS TABLE (idx integer, outcome smallint, message_id uuid, status smallint,
               created_at timestamptz)
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
BEGIN
-- Every business head first, in order: a conversation of business B is only ever locked by a
-- writer holding B's head, so concurrent batches cannot deadlock.
INSERT INTO hosting.mailbox_heads (owner_id)
  SELECT DISTINCT b FROM unnest(p_business) AS b ORDER BY b ON CONFLICT DO NOTHING;
PERFORM 1 FROM hosting.mailbox_heads h WHERE h.owner_id = ANY (p_business)
  ORDER BY h.owner_id FOR UPDATE;
RETURN QUERY
WITH items AS (
  SELECT (t.i - 1)::integer AS idx, t.c, t.b, t.m, t.k, decode(t.body, 'hex') AS body,
         decode(t.h, 'hex') AS hash
  FROM unnest(p_conversation, p_business, p_message, p_key, p_body, p_hash)
       WITH ORDINALITY AS t(c, b, m, k, body, h, i)
),
earlier AS (
  SELECT items.idx, msg.message_id, msg.request_hash = items.hash AS same,
         hosting.message_status(msg.direction, msg.seq, mk.user_msgs_delivered_seq,
                                mk.user_msgs_read_seq, mk.biz_msgs_delivered_seq,
                                mk.biz_msgs_read_seq) AS status,
         msg.created_at
  FROM items JOIN hosting.messages msg
    ON msg.conversation_id = items.c AND msg.direction = 1 AND msg.idempotency_key = items.k
  LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = msg.conversation_id
),
fresh AS (
  SELECT items.*, conv.label
  FROM items JOIN hosting.conversations conv
    ON conv.conversation_id = items.c AND conv.state = 1
  WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.idx = items.idx)
),
lifetimes AS MATERIALIZED (
  SELECT k.b, k.label, hosting.lifetime_seconds(k.b, k.label, p_default_lifetime) AS lifetime
  FROM (SELECT DISTINCT b, label FROM fresh) k
),
per_conv AS (SELECT c, count(*) AS n FROM fresh GROUP BY c),
per_biz AS (SELECT b, count(*) AS n FROM fresh GROUP BY b),
heads AS (
  INSERT INTO hosting.mailbox_heads AS h (owner_id, last_position)
  SELECT b, n FROM per_biz ORDER BY b
  ON CONFLICT (owner_id) DO UPDATE SET last_position = h.last_position + excluded.last_position
  RETURNING h.owner_id, h.last_position
),
seqs AS (
  -- last_activity_at (indexed, for listing chats by activity) moves at most once a second,
  -- so most of these updates touch no index and stay on their page (HOT).
  UPDATE hosting.conversations conv
  SET next_seq = conv.next_seq + per_conv.n, last_user_message_at = now(),
      last_activity_at = CASE WHEN conv.last_activity_at > now() - interval '1 second'
                              THEN conv.last_activity_at ELSE now() END
  FROM per_conv WHERE conv.conversation_id = per_conv.c
  RETURNING conv.conversation_id, conv.next_seq - per_conv.n AS base
),
numbered AS (
  SELECT f.*, s.base + row_number() OVER (PARTITION BY f.c ORDER BY f.idx) AS seq,
         hd.last_position - pb.n + row_number() OVER (PARTITION BY f.b ORDER BY f.idx) AS pos,
         lt.lifetime
  FROM fresh f
  JOIN seqs s ON s.conversation_id = f.c
  JOIN heads hd ON hd.owner_id = f.b
  JOIN per_biz pb ON pb.b = f.b
  JOIN lifetimes lt ON lt.b = f.b AND lt.label = f.label
),
inserted AS (
  INSERT INTO hosting.messages AS msg
      (message_id, conversation_id, seq, direction, body, idempotency_key, request_hash,
       expires_at)
  SELECT m, c, seq, 1, body, k, hash, now() + make_interval(secs => lifetime)
  FROM numbered
  RETURNING msg.message_id, msg.created_at
),
logged AS (
  INSERT INTO hosting.events (owner_id, position, kind, conversation_id, message_id)
  SELECT b, pos, 1, c, m FROM numbered
),
woken AS (SELECT count(pg_notify('bizrelay_mailbox', b::text)) AS n FROM per_biz)
SELECT n.idx, 0::smallint, n.m, 1::smallint, i.created_at
FROM numbered n JOIN inserted i ON i.message_id = n.m CROSS JOIN woken
UNION ALL
SELECT e.idx, (CASE WHEN e.same THEN 1 ELSE 6 END)::smallint,
       CASE WHEN e.same THEN e.message_id END, e.status, e.created_at
FROM earlier e
UNION ALL
SELECT items.idx, 5::smallint, NULL::uuid, NULL::smallint, NULL::timestamptz
FROM items
WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.idx = items.idx)
  AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.idx = items.idx);
END
$$;

-- One page of an owner's event log, with what each event needs: its message (unless expired),
-- the conversation's statuses, and for notices the business's current terms. Inbox streams
-- read a page on every wake, so this one keeps its plan: planning the six-way join cost more
-- than running it. The plan is fixed to what is right at any size, a walk of the owner's log
-- in position order with a lookup by key for each event: the join methods that read a whole
-- table are ruled out.
CREATE FUNCTION hosting.read_events(p_owner uuid, p_after bigint, p_limit integer,
                                    p_default_lifetime bigint)
RETURNS TABLE (event_position bigint, kind smallint, conversation_id text, user_id text,
               business_id text, message_id text, status integer, notice_kind integer,
               direction smallint, body bytea, template_name text, message_status smallint,
               created_micros bigint, business_name text, terms_version bigint,
               lifetime_seconds bigint, data_use_statement text, no_storage boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.position, e.kind, e.conversation_id::text, coalesce(c.user_id::text, ''),
         c.business_id::text, coalesce(e.message_id::text, ''), coalesce(e.status, 0)::integer,
         coalesce(e.notice_kind, 0)::integer, m.direction, m.body,
         coalesce(m.template_name, ''),
         hosting.message_status(m.direction, m.seq, mk.user_msgs_delivered_seq,
                                mk.user_msgs_read_seq, mk.biz_msgs_delivered_seq,
                                mk.biz_msgs_read_seq),
         (extract(epoch from m.created_at) * 1000000)::bigint,
         b.display_name, coalesce(t.version, 1), coalesce(t.lifetime_seconds, p_default_lifetime),
         coalesce(t.data_use_statement, ''), coalesce(t.no_storage, false)
  FROM hosting.events e
  JOIN hosting.conversations c ON c.conversation_id = e.conversation_id
  JOIN core.businesses b ON b.business_id = c.business_id
  LEFT JOIN hosting.messages m ON m.message_id = e.message_id AND m.expires_at > now()
  LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = e.conversation_id
  LEFT JOIN hosting.business_terms t ON t.business_id = c.business_id AND e.kind = 3
  WHERE e.owner_id = p_owner AND e.position > p_after
  ORDER BY e.position LIMIT p_limit;
END
$$;

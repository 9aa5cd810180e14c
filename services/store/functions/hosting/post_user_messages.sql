-- Group commit of user sends, step 2, in the transaction of step 1: stores the sealed messages
-- of a batch in one statement. Items must have distinct (conversation, key) pairs (the caller
-- folds repeats). outcome: 0 stored, 1 replay of an identical earlier request (its message is
-- returned), 5 chat not open, 6 idempotency key reused with a different request. Sequence
-- numbers and log positions are taken per conversation and per business in item order; the
-- business heads stay locked until commit, so a reader resuming after a position never misses
-- one committed later.
--
-- Planned once per connection (see prepare_user_sends.sql for why each lookup must fit one
-- index). Earlier sends of an idempotency key are found by hosting.idempotency_ref, which only
-- messages_idempotency fits: probing by (conversation_id, direction, key) also fitted
-- (conversation_id, seq) by its first column, and a plan made while the table looked empty
-- could read every message of the conversation. Nested loops are off, so a plan made for the
-- guessed ten items joins the batch's own rows by hashing rather than comparing every pair
-- (the per-item probes stay nested loops, having no other way to run); sequential scans and
-- JIT are off as in step 1.
CREATE OR REPLACE FUNCTION hosting.post_user_messages(
    p_conversation uuid[], p_business uuid[], p_message uuid[], p_key text[], p_body text[],
    p_hash text[], p_default_lifetime bigint)
RETURNS TABLE (idx integer, outcome smallint, message_id uuid, status smallint,
               created_at timestamptz)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_nestloop = off
SET jit = off
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
  FROM items
  CROSS JOIN LATERAL (
    SELECT x.message_id, x.request_hash, x.direction, x.seq, x.created_at
    FROM hosting.messages x
    WHERE hosting.idempotency_ref(x.conversation_id, x.direction, x.idempotency_key)
          = hosting.idempotency_ref(items.c, 1::smallint, items.k)
    LIMIT 1) msg
  LEFT JOIN LATERAL (
    SELECT x.user_msgs_delivered_seq, x.user_msgs_read_seq, x.biz_msgs_delivered_seq,
           x.biz_msgs_read_seq
    FROM hosting.conversation_marks x WHERE x.conversation_id = items.c LIMIT 1) mk ON true
),
asked AS (
  SELECT items.* FROM items WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.idx = items.idx)
),
per_conv AS (SELECT c, count(*) AS n FROM asked GROUP BY c),
seqs AS (
  -- last_activity_at (indexed, for listing chats by activity) moves at most once a second,
  -- so most of these updates touch no index and stay on their page (HOT).
  UPDATE hosting.conversations conv
  SET next_seq = conv.next_seq + per_conv.n, last_user_message_at = now(),
      last_activity_at = CASE WHEN conv.last_activity_at > now() - interval '1 second'
                              THEN conv.last_activity_at ELSE now() END
  FROM per_conv
  WHERE conv.conversation_id = per_conv.c AND conv.state = 1
    AND conv.conversation_id = ANY (p_conversation)
  RETURNING conv.conversation_id, conv.label, conv.next_seq - per_conv.n AS base
),
fresh AS (
  SELECT a.*, s.label, s.base FROM asked a JOIN seqs s ON s.conversation_id = a.c
),
lifetimes AS MATERIALIZED (
  SELECT k.b, k.label,
         coalesce(l.lifetime_seconds, t.lifetime_seconds, p_default_lifetime) AS lifetime
  FROM (SELECT DISTINCT b, label FROM fresh) k
  LEFT JOIN LATERAL (
    SELECT x.lifetime_seconds FROM hosting.retention_labels x
    WHERE x.business_id = k.b AND x.label = k.label AND k.label <> '' LIMIT 1) l ON true
  LEFT JOIN LATERAL (
    SELECT x.lifetime_seconds FROM hosting.business_terms x WHERE x.business_id = k.b LIMIT 1) t
    ON true
),
per_biz AS (SELECT b, count(*) AS n FROM fresh GROUP BY b),
heads AS (
  UPDATE hosting.mailbox_heads h SET last_position = h.last_position + per_biz.n
  FROM per_biz WHERE h.owner_id = per_biz.b AND h.owner_id = ANY (p_business)
  RETURNING h.owner_id, h.last_position - per_biz.n AS base
),
numbered AS (
  SELECT f.*, f.base + row_number() OVER (PARTITION BY f.c ORDER BY f.idx) AS seq,
         hd.base + row_number() OVER (PARTITION BY f.b ORDER BY f.idx) AS pos,
         lt.lifetime
  FROM fresh f
  JOIN heads hd ON hd.owner_id = f.b
  JOIN lifetimes lt ON lt.b = f.b AND lt.label = f.label
),
inserted AS (
  INSERT INTO hosting.messages
      (message_id, conversation_id, seq, direction, body, idempotency_key, request_hash,
       expires_at)
  SELECT m, c, seq, 1, body, k, hash, now() + make_interval(secs => lifetime)
  FROM numbered
),
logged AS (
  INSERT INTO hosting.events (owner_id, position, kind, conversation_id, message_id)
  SELECT b, pos, 1, c, m FROM numbered
),
woken AS (SELECT count(pg_notify('bizrelay_mailbox', b::text)) AS n FROM per_biz)
SELECT n.idx, 0::smallint, n.m, 1::smallint, now()
FROM numbered n CROSS JOIN woken
UNION ALL
SELECT e.idx, (CASE WHEN e.same THEN 1 ELSE 6 END)::smallint,
       CASE WHEN e.same THEN e.message_id END, e.status, e.created_at
FROM earlier e
UNION ALL
SELECT a.idx, 5::smallint, NULL::uuid, NULL::smallint, NULL::timestamptz
FROM asked a
WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.idx = a.idx);
END
$$;

-- The group-commit and status-event functions as PL/pgSQL: the same single statements, but
-- their plans are cached per connection instead of being made again on every call.

CREATE OR REPLACE FUNCTION hosting.prepare_user_sends(p_token_hash text[], p_business uuid[])
RETURNS TABLE (idx integer, outcome smallint, conversation_id uuid, required_policy text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT (t.i - 1)::integer,
         (CASE WHEN cr.principal_id IS NULL THEN 2
               WHEN p.required IS NOT NULL THEN 7
               WHEN b.business_id IS NULL THEN 3
               WHEN c.conversation_id IS NULL THEN 4
               ELSE 0 END)::smallint,
         c.conversation_id, p.required
  FROM unnest(p_token_hash, p_business) WITH ORDINALITY AS t(tok, biz, i)
  LEFT JOIN core.credentials cr
    ON cr.token_hash = decode(t.tok, 'hex') AND cr.revoked_at IS NULL AND cr.kind = 1
  LEFT JOIN LATERAL (SELECT core.required_policy(cr.principal_id) AS required) p ON true
  LEFT JOIN core.businesses b ON b.business_id = t.biz AND b.disabled_at IS NULL
  LEFT JOIN hosting.conversations c ON c.business_id = t.biz AND c.user_id = cr.principal_id;
END
$$;

CREATE OR REPLACE FUNCTION hosting.post_user_messages(
    p_conversation uuid[], p_business uuid[], p_message uuid[], p_key text[], p_body text[],
    p_hash text[], p_default_lifetime bigint)
RETURNS TABLE (idx integer, outcome smallint, message_id uuid, status smallint,
               created_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH items AS (
  SELECT (t.i - 1)::integer AS idx, t.c, t.b, t.m, t.k, decode(t.body, 'hex') AS body,
         decode(t.h, 'hex') AS hash
  FROM unnest(p_conversation, p_business, p_message, p_key, p_body, p_hash)
       WITH ORDINALITY AS t(c, b, m, k, body, h, i)
),
earlier AS (
  SELECT items.idx, msg.message_id, msg.request_hash = items.hash AS same, msg.status,
         msg.created_at
  FROM items JOIN hosting.messages msg
    ON msg.conversation_id = items.c AND msg.direction = 1 AND msg.idempotency_key = items.k
),
fresh AS (
  SELECT items.*, conv.label
  FROM items JOIN hosting.conversations conv
    ON conv.conversation_id = items.c AND conv.state = 1
  WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.idx = items.idx)
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
  UPDATE hosting.conversations conv
  SET next_seq = conv.next_seq + per_conv.n, last_user_message_at = now(),
      last_activity_at = now()
  FROM per_conv WHERE conv.conversation_id = per_conv.c
  RETURNING conv.conversation_id, conv.next_seq - per_conv.n AS base
),
numbered AS (
  SELECT f.*, s.base + row_number() OVER (PARTITION BY f.c ORDER BY f.idx) AS seq,
         hd.last_position - pb.n + row_number() OVER (PARTITION BY f.b ORDER BY f.idx) AS pos
  FROM fresh f
  JOIN seqs s ON s.conversation_id = f.c
  JOIN heads hd ON hd.owner_id = f.b
  JOIN per_biz pb ON pb.b = f.b
),
inserted AS (
  INSERT INTO hosting.messages AS msg
      (message_id, conversation_id, seq, direction, body, idempotency_key, request_hash,
       expires_at)
  SELECT m, c, seq, 1, body, k, hash,
         now() + make_interval(secs => hosting.lifetime_seconds(b, label, p_default_lifetime))
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

CREATE OR REPLACE FUNCTION hosting.append_status_events(
    p_owner uuid[], p_conversation uuid[], p_message uuid[], p_status smallint)
RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_count bigint;
BEGIN
WITH items AS (
  SELECT t.o, t.c, t.m, t.i FROM unnest(p_owner, p_conversation, p_message)
       WITH ORDINALITY AS t(o, c, m, i)
),
per AS (SELECT o, count(*) AS n FROM items GROUP BY o),
heads AS (
  INSERT INTO hosting.mailbox_heads AS h (owner_id, last_position)
  SELECT o, n FROM per ORDER BY o
  ON CONFLICT (owner_id) DO UPDATE SET last_position = h.last_position + excluded.last_position
  RETURNING h.owner_id, h.last_position
),
logged AS (
  INSERT INTO hosting.events (owner_id, position, kind, conversation_id, message_id, status)
  SELECT it.o, hd.last_position - per.n + row_number() OVER (PARTITION BY it.o ORDER BY it.i),
         2, it.c, it.m, p_status
  FROM items it JOIN heads hd ON hd.owner_id = it.o JOIN per ON per.o = it.o
  RETURNING 1
)
SELECT (SELECT count(*) FROM logged) + 0 * (SELECT count(pg_notify('bizrelay_mailbox', o::text)) FROM per)
  INTO v_count;
RETURN v_count;
END
$$;

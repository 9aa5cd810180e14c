-- Set-based group commit and status events: one statement per batch instead of a loop of
-- statements per message (PL/pgSQL, so each connection plans it once). Acknowledgements and
-- read marks are kept apart from the rows writers lock: an acknowledged position per log, and
-- delivered/read watermarks per conversation, from which a message's status is derived (read
-- if its seq is at or below the read watermark of its side, delivered if at or below the
-- delivered one, sent otherwise).

-- The acknowledged position of each log, apart from mailbox_heads so that acknowledging never
-- waits for (or blocks) the writers appending to the same log.
CREATE TABLE hosting.mailbox_acks (
  owner_id       uuid PRIMARY KEY,
  acked_position bigint NOT NULL DEFAULT 0
);
INSERT INTO hosting.mailbox_acks (owner_id, acked_position)
  SELECT owner_id, acked_position FROM hosting.mailbox_heads WHERE acked_position > 0;
ALTER TABLE hosting.mailbox_heads DROP COLUMN acked_position;
GRANT SELECT, INSERT, UPDATE, DELETE ON hosting.mailbox_acks TO bizrelay_hosting;

-- Watermarks live in their own table, so acknowledging and reading never lock the
-- conversation rows that writers lock for sequence numbers. No row: all zero.
CREATE TABLE hosting.conversation_marks (
  conversation_id         uuid PRIMARY KEY REFERENCES hosting.conversations ON DELETE CASCADE,
  user_msgs_delivered_seq bigint NOT NULL DEFAULT 0,
  user_msgs_read_seq      bigint NOT NULL DEFAULT 0,
  biz_msgs_delivered_seq  bigint NOT NULL DEFAULT 0,
  biz_msgs_read_seq       bigint NOT NULL DEFAULT 0
);
GRANT SELECT, INSERT, UPDATE, DELETE ON hosting.conversation_marks TO bizrelay_hosting;

INSERT INTO hosting.conversation_marks
  SELECT c.conversation_id,
    coalesce((SELECT max(seq) FROM hosting.messages m
      WHERE m.conversation_id = c.conversation_id AND m.direction = 1 AND m.status >= 2), 0),
    coalesce((SELECT max(seq) FROM hosting.messages m
      WHERE m.conversation_id = c.conversation_id AND m.direction = 1 AND m.status >= 3), 0),
    coalesce((SELECT max(seq) FROM hosting.messages m
      WHERE m.conversation_id = c.conversation_id AND m.direction = 2 AND m.status >= 2), 0),
    coalesce((SELECT max(seq) FROM hosting.messages m
      WHERE m.conversation_id = c.conversation_id AND m.direction = 2 AND m.status >= 3), 0)
  FROM hosting.conversations c;

-- A message's status from its conversation's watermarks (NULL: no marks yet).
CREATE FUNCTION hosting.message_status(p_direction smallint, p_seq bigint,
    p_user_delivered bigint, p_user_read bigint, p_biz_delivered bigint, p_biz_read bigint)
RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
  SELECT (CASE WHEN p_direction = 1 THEN
            CASE WHEN p_seq <= coalesce(p_user_read, 0) THEN 3
                 WHEN p_seq <= coalesce(p_user_delivered, 0) THEN 2 ELSE 1 END
          ELSE
            CASE WHEN p_seq <= coalesce(p_biz_read, 0) THEN 3
                 WHEN p_seq <= coalesce(p_biz_delivered, 0) THEN 2 ELSE 1 END
          END)::smallint
$$;


DROP FUNCTION hosting.post_user_messages(uuid[], uuid[], uuid[], text[], text[], text[], bigint);

-- Group commit, step 2: stores the sealed messages of a batch in one statement. Items must
-- have distinct (conversation, key) pairs (the caller folds repeats). outcome: 0 stored,
-- 1 replay of an identical earlier request (its message is returned), 5 chat not open,
-- 6 idempotency key reused with a different request. Sequence numbers and log positions are
-- taken per conversation and per business in item order; the business heads stay locked
-- until commit, so a reader resuming after a position never misses one committed later.
-- Conversations are updated on every batch: leave room on each page for the new versions.
ALTER TABLE hosting.conversations SET (fillfactor = 70);

CREATE FUNCTION hosting.post_user_messages(
    p_conversation uuid[], p_business uuid[], p_message uuid[], p_key text[], p_body text[],
    p_hash text[], p_default_lifetime bigint)
RETURNS TABLE (idx integer, outcome smallint, message_id uuid, status smallint,
               created_at timestamptz)
LANGUAGE plpgsql AS $$
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



ALTER TABLE hosting.messages DROP COLUMN status;

-- Appends one status event per item (owner, conversation, message) to the owners' logs, and
-- wakes them, in one statement. Returns how many were appended.
CREATE FUNCTION hosting.append_status_events(
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

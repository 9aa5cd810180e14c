-- Appends one status event per item (owner, conversation, message) to the owners' logs, and
-- wakes them, in one statement. Returns how many were appended.
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

-- Sealed sends (replacing the earlier version), planned once per connection as the user sends
-- are since 0013, and run as one statement that needs no transaction around it:
-- * the function locks the batch's mailboxes itself, in order, before counting what they hold
--   (its caller used to, with a statement of its own inside a transaction);
-- * a mailbox deleted since its caller read its access key gets outcome 3 (gone) and spends
--   no token;
-- * what a mailbox holds is no longer counted envelope by envelope on every batch, which made a
--   batch's cost grow with the depth of its mailboxes (see `live`);
-- * every table is reached by keys taken from the batch's arrays, sequential scans and nested
--   loops are off and so is JIT (see 0013), so a plan made while the tables were small stays
--   good when they have grown.
-- outcome: 0 stored, 1 token already spent, 2 mailbox full, 3 mailbox gone.
CREATE OR REPLACE FUNCTION personal.post_envelopes(
  p_mailbox uuid[], p_token_hash bytea[], p_key_id text[], p_ciphertext bytea[],
  p_ttl_days integer, p_max_depth integer)
RETURNS TABLE (item integer, outcome smallint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_nestloop = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
  PERFORM 1 FROM personal.mailboxes m WHERE m.mailbox_id = ANY (p_mailbox)
    ORDER BY m.mailbox_id FOR UPDATE;
  RETURN QUERY
  WITH sends AS (
    SELECT s.n::integer AS n, s.mailbox, s.token_hash, s.key_id, s.ciphertext
    FROM unnest(p_mailbox, p_token_hash, p_key_id, p_ciphertext) WITH ORDINALITY
         AS s(mailbox, token_hash, key_id, ciphertext, n)
  ), live AS (
    -- The batch's mailboxes that exist, with how many envelopes each holds. A mailbox's
    -- envelopes are numbered up to next_seq and removed oldest first (acknowledged, or expired:
    -- the expiry day grows with the number), so they hold at most next_seq - (oldest) + 1.
    -- When that bound leaves room for all of the batch's sends, it serves as the count;
    -- otherwise, with the mailbox near full, the envelopes are counted.
    SELECT m.mailbox_id,
           CASE WHEN b.bound + w.n <= p_max_depth THEN b.bound
                ELSE (SELECT count(*) FROM personal.envelopes e
                      WHERE e.mailbox_id = m.mailbox_id) END AS depth
    FROM personal.mailboxes m
    JOIN (SELECT mailbox, count(*) AS n FROM sends GROUP BY mailbox) w ON w.mailbox = m.mailbox_id
    CROSS JOIN LATERAL (
      SELECT coalesce(m.next_seq + 1 - (SELECT e.seq FROM personal.envelopes e
                                        WHERE e.mailbox_id = m.mailbox_id
                                        ORDER BY e.seq LIMIT 1), 0) AS bound) b
    WHERE m.mailbox_id = ANY (p_mailbox)
  ), first_use AS (
    SELECT DISTINCT ON (token_hash) n FROM sends ORDER BY token_hash, n
  ), fits AS (
    SELECT r.* FROM (
      SELECT s.*, l.depth + row_number() OVER (PARTITION BY s.mailbox ORDER BY s.n) AS depth_after
      FROM sends s
      JOIN first_use f ON f.n = s.n
      JOIN live l ON l.mailbox_id = s.mailbox) r
    WHERE r.depth_after <= p_max_depth
  ), spent AS (
    INSERT INTO personal.spent_tokens (token_hash, key_id)
    SELECT token_hash, key_id FROM fits
    ON CONFLICT DO NOTHING
    RETURNING token_hash, key_id
  ), keys_noted AS (
    INSERT INTO personal.spent_token_keys (key_id)
    SELECT DISTINCT key_id FROM spent
    ON CONFLICT DO NOTHING
  ), stored AS (
    SELECT f.*, row_number() OVER (PARTITION BY f.mailbox ORDER BY f.n) AS k
    FROM fits f JOIN spent USING (token_hash)
  ), bumped AS (
    UPDATE personal.mailboxes m SET next_seq = m.next_seq + c.added
    FROM (SELECT mailbox, count(*) AS added FROM stored GROUP BY mailbox) c
    WHERE m.mailbox_id = c.mailbox AND m.mailbox_id = ANY (p_mailbox)
    RETURNING m.mailbox_id, m.next_seq - c.added AS base
  ), inserted AS (
    INSERT INTO personal.envelopes (mailbox_id, seq, ciphertext, expires_day)
    SELECT s.mailbox, b.base + s.k, s.ciphertext, current_date + p_ttl_days
    FROM stored s JOIN bumped b ON b.mailbox_id = s.mailbox
    RETURNING 1
  )
  SELECT s.n,
         (CASE WHEN st.n IS NOT NULL THEN 0
               WHEN l.mailbox_id IS NULL THEN 3
               WHEN f.n IS NULL AND u.n IS NOT NULL THEN 2
               ELSE 1 END)::smallint
  FROM sends s
  LEFT JOIN stored st ON st.n = s.n
  LEFT JOIN fits f ON f.n = s.n
  LEFT JOIN first_use u ON u.n = s.n
  LEFT JOIN live l ON l.mailbox_id = s.mailbox
  ORDER BY s.n;

  -- One wake per mailbox of the batch; a refused send only costs its reader a page read.
  PERFORM pg_notify('bizrelay_personal', m::text)
  FROM (SELECT DISTINCT unnest(p_mailbox) AS m) d;
END $$;

-- Sealed sends in batches: one statement stores every send of a group commit. The caller has
-- already locked the batch's mailboxes (in mailbox order) and checked each access key.
--
-- Per send (p_*[i]), outcome 0: stored; 1: the token was spent before (or earlier in this
-- batch); 2: the mailbox holds p_max_depth envelopes already. A refused send spends nothing.
CREATE FUNCTION personal.post_envelopes(
  p_mailbox uuid[], p_token_hash bytea[], p_key_id text[], p_ciphertext bytea[],
  p_ttl_days integer, p_max_depth integer)
RETURNS TABLE (item integer, outcome smallint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH sends AS (
    SELECT s.n::integer AS n, s.mailbox, s.token_hash, s.key_id, s.ciphertext
    FROM unnest(p_mailbox, p_token_hash, p_key_id, p_ciphertext) WITH ORDINALITY
         AS s(mailbox, token_hash, key_id, ciphertext, n)
  ), first_use AS (
    SELECT DISTINCT ON (token_hash) n FROM sends ORDER BY token_hash, n
  ), held AS (
    SELECT e.mailbox_id, count(*) AS depth FROM personal.envelopes e
    WHERE e.mailbox_id = ANY (p_mailbox) GROUP BY e.mailbox_id
  ), fits AS (
    SELECT r.* FROM (
      SELECT s.*, coalesce(h.depth, 0)
                  + row_number() OVER (PARTITION BY s.mailbox ORDER BY s.n) AS depth_after
      FROM sends s JOIN first_use f ON f.n = s.n
      LEFT JOIN held h ON h.mailbox_id = s.mailbox) r
    WHERE r.depth_after <= p_max_depth
  ), spent AS (
    INSERT INTO personal.spent_tokens (token_hash, key_id)
    SELECT token_hash, key_id FROM fits
    ON CONFLICT DO NOTHING
    RETURNING token_hash
  ), stored AS (
    SELECT f.*, row_number() OVER (PARTITION BY f.mailbox ORDER BY f.n) AS k
    FROM fits f JOIN spent USING (token_hash)
  ), bumped AS (
    UPDATE personal.mailboxes m SET next_seq = m.next_seq + c.added
    FROM (SELECT mailbox, count(*) AS added FROM stored GROUP BY mailbox) c
    WHERE m.mailbox_id = c.mailbox
    RETURNING m.mailbox_id, m.next_seq - c.added AS base
  ), inserted AS (
    INSERT INTO personal.envelopes (mailbox_id, seq, ciphertext, expires_day)
    SELECT s.mailbox, b.base + s.k, s.ciphertext, current_date + p_ttl_days
    FROM stored s JOIN bumped b ON b.mailbox_id = s.mailbox
    RETURNING 1
  )
  SELECT s.n,
         (CASE WHEN st.n IS NOT NULL THEN 0
               WHEN f.n IS NULL AND u.n IS NOT NULL THEN 2
               ELSE 1 END)::smallint
  FROM sends s
  LEFT JOIN stored st ON st.n = s.n
  LEFT JOIN fits f ON f.n = s.n
  LEFT JOIN first_use u ON u.n = s.n
  ORDER BY s.n;

  -- One wake per mailbox of the batch; a refused send only costs its reader a page read.
  PERFORM pg_notify('bizrelay_personal', m::text)
  FROM (SELECT DISTINCT unnest(p_mailbox) AS m) d;
END $$;

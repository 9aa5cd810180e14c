-- Sealed sends, replacing the version of 0014 in two ways.
--
-- 1. They take their ciphertexts and token hashes packed in one binary bytea each, with each
-- ciphertext's start and length, instead of arrays of hex text: parsing those arrays (hex digit
-- by hex digit) was about a seventh of the writer's time. Token hashes are SHA-256, 32 bytes
-- each, one after the other.
--
-- 2. They find how many envelopes a mailbox may hold from the mailbox's own row in the common
-- case. 0014 looked up each mailbox's oldest envelope in the envelope index on every batch,
-- twice, which was about a third of the statement's time.
--
-- `first_seq` is a lower bound of the mailbox's oldest envelope number: every envelope it
-- holds is numbered in [first_seq, next_seq], so it holds at most next_seq - first_seq + 1.
-- Envelopes are only ever removed below next_seq (acknowledged or expired) and new ones are
-- numbered above it, so a bound that was true stays true; 1 is true for every existing
-- mailbox. Acknowledgements and the sweeper leave it alone. When the bound leaves no room for
-- a batch's sends, the batch counts the envelopes and finds the oldest, and raises
-- `first_seq` to it, so the exact count runs again only once that much traffic has come in
-- since, or while the mailbox really is near full.
ALTER TABLE personal.mailboxes ADD COLUMN first_seq bigint NOT NULL DEFAULT 1;

DROP FUNCTION personal.post_envelopes(uuid[], bytea[], text[], bytea[], integer, integer);

-- outcome: 0 stored, 1 token already spent, 2 mailbox full, 3 mailbox gone.
CREATE FUNCTION personal.post_envelopes(
  p_mailbox uuid[], p_token_hashes bytea, p_key_id text[], p_ciphertexts bytea,
  p_ciphertext_start integer[], p_ciphertext_length integer[],
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
    SELECT s.n::integer AS n, s.mailbox,
           substring(p_token_hashes FROM (s.n::integer - 1) * 32 + 1 FOR 32) AS token_hash,
           s.key_id, substring(p_ciphertexts FROM s.start + 1 FOR s.length) AS ciphertext
    FROM unnest(p_mailbox, p_key_id, p_ciphertext_start, p_ciphertext_length) WITH ORDINALITY
         AS s(mailbox, key_id, start, length, n)
  ), live AS (
    -- The batch's mailboxes that exist, with how many envelopes each holds: the bound of its
    -- row when that leaves room for all of the batch's sends, otherwise counted (and then
    -- `oldest` is the number the next envelope kept will be at least).
    SELECT m.mailbox_id,
           CASE WHEN m.next_seq - m.first_seq + 1 + w.n <= p_max_depth
                THEN m.next_seq - m.first_seq + 1
                ELSE (SELECT count(*) FROM personal.envelopes e
                      WHERE e.mailbox_id = m.mailbox_id) END AS depth,
           CASE WHEN m.next_seq - m.first_seq + 1 + w.n > p_max_depth
                THEN coalesce((SELECT e.seq FROM personal.envelopes e
                               WHERE e.mailbox_id = m.mailbox_id
                               ORDER BY e.seq LIMIT 1), m.next_seq + 1) END AS oldest
    FROM personal.mailboxes m
    JOIN (SELECT mailbox, count(*) AS n FROM sends GROUP BY mailbox) w ON w.mailbox = m.mailbox_id
    WHERE m.mailbox_id = ANY (p_mailbox)
  ), first_use AS (
    SELECT DISTINCT ON (token_hash) n FROM sends ORDER BY token_hash, n
  ), fits AS (
    SELECT r.* FROM (
      SELECT s.*, l.oldest,
             l.depth + row_number() OVER (PARTITION BY s.mailbox ORDER BY s.n) AS depth_after
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
    UPDATE personal.mailboxes m
    SET next_seq = m.next_seq + c.added, first_seq = coalesce(c.oldest, m.first_seq)
    FROM (SELECT mailbox, count(*) AS added, min(oldest) AS oldest
          FROM stored GROUP BY mailbox) c
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

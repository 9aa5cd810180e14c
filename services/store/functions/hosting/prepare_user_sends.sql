-- Group commit of user sends, step 1: for each item (token hash, business), who sends and to
-- which conversation. outcome: 0 found, 2 unauthenticated, 3 business unknown or disabled,
-- 4 chat not started, 7 limited mode (required_policy names the version to accept).
-- stale_day: the sender's day of activity is not today yet (the caller records it, which is
-- rarely needed, so most batches skip that statement). The overdue policy version is looked up
-- once for the batch.
--
-- Planned once per connection. A plan made once has to stay good whatever the tables hold
-- later, so each lookup fits exactly one index and is bounded by the batch (a LATERAL probe
-- with LIMIT 1 per item):
-- * a token is looked up by its hash alone; whether it is revoked or of the right kind is read
--   from the row found (asking for unrevoked tokens in the lookup also fitted the partial index
--   of credentials by principal, which would be read whole);
-- * a chat is looked up by hosting.chat_ref(business, user), which only conversations_by_pair
--   fits (by the two ids, conversations_by_activity fitted too and reads every chat of the
--   business).
-- Sequential scans are off, so a table that was small when the plan was made is never read
-- whole once it has grown; such switched-off paths make a plan look costly enough to start JIT
-- compilation (hundreds of milliseconds), so JIT is off too.
CREATE OR REPLACE FUNCTION hosting.prepare_user_sends(p_token_hash bytea[], p_business uuid[])
RETURNS TABLE (idx integer, outcome smallint, conversation_id uuid, required_policy text,
               stale_day boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  v_due_version text;
  v_due_seq bigint;
  v_current text[];  -- versions at least as new as the overdue one: accepting any will do
BEGIN
  SELECT v.version, v.seq INTO v_due_version, v_due_seq FROM core.policy_versions v
    WHERE v.accept_by <= now() ORDER BY v.seq DESC LIMIT 1;
  IF v_due_version IS NOT NULL THEN
    SELECT array_agg(v.version) INTO v_current FROM core.policy_versions v
      WHERE v.seq >= v_due_seq;
  END IF;
  RETURN QUERY
  SELECT (t.i - 1)::integer,
         (CASE WHEN cr.principal_id IS NULL THEN 2
               WHEN p.required IS NOT NULL THEN 7
               WHEN b.business_id IS NULL THEN 3
               WHEN c.conversation_id IS NULL THEN 4
               ELSE 0 END)::smallint,
         c.conversation_id, p.required, coalesce(u.last_active_day <> current_date, false)
  FROM unnest(p_token_hash, p_business) WITH ORDINALITY AS t(tok, biz, i)
  LEFT JOIN LATERAL (
    SELECT CASE WHEN x.revoked_at IS NULL AND x.kind = 1 THEN x.principal_id END AS principal_id
    FROM core.credentials x WHERE x.token_hash = t.tok LIMIT 1) cr ON true
  LEFT JOIN LATERAL (
    SELECT x.last_active_day FROM core.users x WHERE x.user_id = cr.principal_id LIMIT 1) u
    ON true
  LEFT JOIN LATERAL (
    SELECT v_due_version AS required
    WHERE v_due_version IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM core.policy_acceptances a
                      WHERE a.user_id = cr.principal_id AND a.version = ANY (v_current))) p
    ON true
  LEFT JOIN LATERAL (
    SELECT x.business_id FROM core.businesses x
    WHERE x.business_id = t.biz AND x.disabled_at IS NULL LIMIT 1) b ON true
  LEFT JOIN LATERAL (
    SELECT x.conversation_id FROM hosting.conversations x
    WHERE hosting.chat_ref(x.business_id, x.user_id) = hosting.chat_ref(t.biz, cr.principal_id)
    LIMIT 1) c ON true;
END
$$;

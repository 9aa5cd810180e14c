-- prepare_user_sends keeps one plan per connection again, like post_user_messages (0016): each of
-- its lookups now fits a single index, so a plan made while the tables look empty cannot pick
-- one that reads many rows.
-- * A token is looked up by its hash alone; whether it is revoked or of the right kind is read
--   from the row found. Asking for unrevoked tokens in the lookup also fitted the partial index
--   of credentials by principal, which has no key for the hash and would be read whole.
-- * A chat is looked up by one value built from its business and user ids, which only the new
--   index fits; by the two ids, the indexes of a user's chats and of a business's chats by
--   activity fitted too, the latter reading every chat of the business. Built from the two
--   ids' fixed-length text, the value is one-to-one; the index changes nothing for the chat
--   rows' updates, which never change either id.

CREATE FUNCTION hosting.chat_ref(p_business uuid, p_user uuid)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (p_business::text || p_user::text) COLLATE "C" $$;

CREATE UNIQUE INDEX conversations_by_pair
  ON hosting.conversations (hosting.chat_ref(business_id, user_id));

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

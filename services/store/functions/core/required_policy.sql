-- The overdue version a user must accept before sending again (NULL: none). Accepting a later
-- version covers earlier ones.
CREATE OR REPLACE FUNCTION core.required_policy(p_user uuid) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT v.version FROM core.policy_versions v
  WHERE v.seq = (SELECT max(seq) FROM core.policy_versions WHERE accept_by <= now())
    AND NOT EXISTS (SELECT 1 FROM core.policy_acceptances a
                    JOIN core.policy_versions av ON av.version = a.version
                    WHERE a.user_id = p_user AND av.seq >= v.seq)
$$;

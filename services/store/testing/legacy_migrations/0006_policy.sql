-- Policy versions, acceptances, the legacy data-sharing opt-out and users' data rights.

CREATE TABLE core.policy_versions (
  version        text PRIMARY KEY,
  seq            bigserial UNIQUE,
  text_sha256    text NOT NULL,
  text_url       text NOT NULL DEFAULT '',
  effective_at   timestamptz NOT NULL,
  accept_by      timestamptz NOT NULL,
  published_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.policy_acceptances (
  user_id     uuid NOT NULL REFERENCES core.users (user_id) ON DELETE CASCADE,
  version     text NOT NULL REFERENCES core.policy_versions (version),
  accepted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, version)
);

-- One row: whether the operator's opt-out offer is open.
CREATE TABLE core.opt_out_offer (
  id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  open       boolean NOT NULL DEFAULT false,
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO core.opt_out_offer (open) VALUES (false);

CREATE TABLE core.data_sharing_opt_outs (
  user_id      uuid PRIMARY KEY REFERENCES core.users (user_id) ON DELETE CASCADE,
  opted_out_at timestamptz NOT NULL DEFAULT now()
);

-- An opt-out, once set, is never changed or removed, whatever is accepted later; only erasing
-- the account (which deletes the user first) takes it away.
CREATE FUNCTION core.keep_opt_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM core.users u WHERE u.user_id = OLD.user_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'a data-sharing opt-out is permanent' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER opt_outs_are_permanent BEFORE UPDATE OR DELETE ON core.data_sharing_opt_outs
  FOR EACH ROW EXECUTE FUNCTION core.keep_opt_out();

ALTER TABLE core.users ADD COLUMN last_active_day date NOT NULL DEFAULT current_date;

-- The overdue version a user must accept before sending again (NULL: none). Accepting a later
-- version covers earlier ones.
CREATE FUNCTION core.required_policy(p_user uuid) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT v.version FROM core.policy_versions v
  WHERE v.seq = (SELECT max(seq) FROM core.policy_versions WHERE accept_by <= now())
    AND NOT EXISTS (SELECT 1 FROM core.policy_acceptances a
                    JOIN core.policy_versions av ON av.version = a.version
                    WHERE a.user_id = p_user AND av.seq >= v.seq)
$$;

-- Erasing a user closes its chats for the businesses (state left, user gone) instead of
-- deleting them.
ALTER TABLE hosting.conversations ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE hosting.conversations DROP CONSTRAINT conversations_user_id_fkey;
ALTER TABLE hosting.conversations ADD CONSTRAINT conversations_user_id_fkey
  FOREIGN KEY (user_id) REFERENCES core.users (user_id) ON DELETE SET NULL;

-- Group commit, step 1 (replacing the earlier version): for each item (token hash in hex,
-- business), who sends and to which conversation. outcome: 0 found, 2 unauthenticated, 3
-- business unknown or disabled, 4 chat not started, 7 limited mode (required_policy names the
-- version to accept).
DROP FUNCTION hosting.prepare_user_sends(text[], uuid[]);
CREATE FUNCTION hosting.prepare_user_sends(p_token_hash text[], p_business uuid[])
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


GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA core TO bizrelay_hosting;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA core TO bizrelay_hosting;

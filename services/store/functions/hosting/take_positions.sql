-- Takes `n` positions in owner's log; returns the first. Locks the owner's head row until the
-- transaction ends.
CREATE OR REPLACE FUNCTION hosting.take_positions(p_owner uuid, n bigint) RETURNS bigint
LANGUAGE sql AS $$
  INSERT INTO hosting.mailbox_heads AS h (owner_id, last_position) VALUES (p_owner, n)
  ON CONFLICT (owner_id) DO UPDATE SET last_position = h.last_position + n
  RETURNING last_position - n + 1
$$;

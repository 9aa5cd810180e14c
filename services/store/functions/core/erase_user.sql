-- Erases a user's account: every credential, then the user row, whose deletion takes the
-- policy acceptances, the data-sharing opt-out and the issuance counts with it and leaves the
-- user's chats without a user. The only way a path role can delete a user (see migration
-- 0002_accounts_kept_whole.sql): it runs with the rights of the schema's owner.
-- The user row is locked first, so a credential being inserted for it at the same time
-- (credential_names_a_principal.sql) either commits before and is deleted here, or waits and is
-- refused. The hosting path's own rows (messages, event logs) are the caller's to delete.
-- Returns whether the user existed.
CREATE OR REPLACE FUNCTION core.erase_user(p_user uuid) RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM 1 FROM core.users u WHERE u.user_id = p_user FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  DELETE FROM core.credentials c WHERE c.principal_id = p_user;
  DELETE FROM core.users u WHERE u.user_id = p_user;
  RETURN true;
END
$$;
REVOKE ALL ON FUNCTION core.erase_user(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.erase_user(uuid) TO bizrelay_hosting;

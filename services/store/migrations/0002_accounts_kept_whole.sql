-- The path roles get only what their code needs of the account tables, so that no sequence of
-- statements they may run can separate an account from its data-sharing opt-out (P8) or bring
-- an erased account back:
-- * no role may delete a user: erasure goes through core.erase_user
--   (functions/core/erase_user.sql), which runs as the schema's owner and removes the
--   credentials with the user;
-- * no role may choose or change a user id: users are inserted with their display name only
--   (the id is drawn by the database), and only their day of activity is updated, so an erased
--   id can never be inserted again;
-- * opt-outs, policy acceptances and credentials are inserted, never updated or deleted, except
--   a credential's revocation time; a credential must name an existing principal
--   (functions/core/credential_names_a_principal.sql);
-- * nothing in core is ever deleted by a path role.
-- Disabling or dropping a trigger, TRUNCATE and session_replication_role need ownership,
-- privileges or superuser rights these roles never have.
REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA core FROM bizrelay_hosting;
GRANT INSERT (display_name), UPDATE (last_active_day) ON core.users TO bizrelay_hosting;
GRANT INSERT, UPDATE (revoked_at) ON core.credentials TO bizrelay_hosting;
GRANT INSERT ON core.data_sharing_opt_outs, core.policy_acceptances TO bizrelay_hosting;
GRANT INSERT, UPDATE (issued) ON core.send_token_issuance TO bizrelay_hosting;
GRANT INSERT, UPDATE ON core.businesses, core.policy_versions TO bizrelay_hosting;
GRANT UPDATE ON core.opt_out_offer TO bizrelay_hosting;

-- A new core table grants the hosting role reading only, unless its migration says more.
ALTER DEFAULT PRIVILEGES IN SCHEMA core
  REVOKE INSERT, UPDATE, DELETE ON TABLES FROM bizrelay_hosting;

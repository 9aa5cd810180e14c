-- An opt-out, once set, is never changed or removed, whatever is accepted later; only erasing
-- the account (which deletes the user first) takes it away.
CREATE OR REPLACE FUNCTION core.keep_opt_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM core.users u WHERE u.user_id = OLD.user_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'a data-sharing opt-out is permanent' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE OR REPLACE TRIGGER opt_outs_are_permanent BEFORE UPDATE OR DELETE ON core.data_sharing_opt_outs
  FOR EACH ROW EXECUTE FUNCTION core.keep_opt_out();

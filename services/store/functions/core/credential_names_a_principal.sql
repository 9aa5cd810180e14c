-- A credential names an existing principal of its kind (1 user, 2 business): a token can never
-- be made for an erased user's id, or any id the database did not draw. The principal's row is
-- share-locked until commit, so it cannot be erased in between (core.erase_user locks it first,
-- and a credential inserted after that finds it gone).
CREATE OR REPLACE FUNCTION core.credential_names_a_principal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.kind = 1 THEN
    PERFORM 1 FROM core.users u WHERE u.user_id = NEW.principal_id FOR KEY SHARE;
  ELSE
    PERFORM 1 FROM core.businesses b WHERE b.business_id = NEW.principal_id FOR KEY SHARE;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'a credential must name an existing principal'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER credentials_name_a_principal
  BEFORE INSERT OR UPDATE OF kind, principal_id ON core.credentials
  FOR EACH ROW EXECUTE FUNCTION core.credential_names_a_principal();

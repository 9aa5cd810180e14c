-- Drops the events of an owner's log that every reader is done with: those up to its
-- acknowledged position and, while the owner (a business) has enabled webhook endpoints, up to
-- the lowest position all of them delivered. Used instead of the acknowledgement's own range
-- delete for owners with webhook endpoints, and when an endpoint is disabled or deleted (so
-- events kept for it go). Returns how many events were dropped.
CREATE OR REPLACE FUNCTION hosting.drop_delivered_events(p_owner uuid)
RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_upto bigint;
  v_count bigint;
BEGIN
  SELECT least(coalesce((SELECT a.acked_position FROM hosting.mailbox_acks a
                         WHERE a.owner_id = p_owner), 0),
               coalesce((SELECT min(w.delivered_position) FROM hosting.webhook_endpoints w
                         WHERE w.business_id = p_owner AND w.enabled), 9223372036854775807))
    INTO v_upto;
  DELETE FROM hosting.events e WHERE e.owner_id = p_owner AND e.position <= v_upto;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

-- Takes or renews the leases of up to p_max enabled endpoints for instance p_holder, for
-- p_lease_ms: those it holds already and those whose lease ran out (their instance died or let
-- go). Endpoints of disabled or offboarded businesses are not taken. Free rows another instance
-- is claiming at the same moment are skipped, not waited for. Rows are locked in (business,
-- endpoint) order, the order the progress writer (hosting.webhook_delivered) takes them in.
-- Returns every endpoint the caller holds after the call.
CREATE OR REPLACE FUNCTION hosting.webhook_claim(p_holder uuid, p_lease_ms bigint, p_max integer)
RETURNS TABLE (endpoint_id text, business_id text, url text, event_kinds smallint,
               generation bigint, verified boolean, secret bytea, previous_secret bytea,
               delivered_position bigint)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH mine AS (
    -- Renewed even while the caller's own progress writer holds the row (waited for, not
    -- skipped: a skipped row would read as a lost lease).
    SELECT w.endpoint_id FROM hosting.webhook_endpoints w
    JOIN core.businesses b ON b.business_id = w.business_id
    WHERE w.lease_holder = p_holder
      AND w.enabled AND b.disabled_at IS NULL AND b.offboarded_at IS NULL
    ORDER BY w.business_id, w.endpoint_id
    LIMIT p_max
    FOR UPDATE OF w
  ), free AS (
    SELECT w.endpoint_id FROM hosting.webhook_endpoints w
    JOIN core.businesses b ON b.business_id = w.business_id
    WHERE w.lease_holder IS DISTINCT FROM p_holder
      AND (w.lease_until IS NULL OR w.lease_until < now())
      AND w.enabled AND b.disabled_at IS NULL AND b.offboarded_at IS NULL
    ORDER BY w.business_id, w.endpoint_id
    LIMIT greatest(0, p_max - (SELECT count(*) FROM mine))
    FOR UPDATE OF w SKIP LOCKED
  ), candidates AS (
    SELECT m.endpoint_id FROM mine m UNION ALL SELECT f.endpoint_id FROM free f
  )
  UPDATE hosting.webhook_endpoints w
  SET lease_holder = p_holder, lease_until = now() + make_interval(secs => p_lease_ms / 1000.0)
  FROM candidates c WHERE w.endpoint_id = c.endpoint_id
  RETURNING w.endpoint_id::text, w.business_id::text, w.url, w.event_kinds, w.generation,
            w.verified_at IS NOT NULL,
            w.secret,
            CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END,
            w.delivered_position;
END
$$;

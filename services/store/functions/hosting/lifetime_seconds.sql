-- The lifetime in seconds of a new message in a conversation of the business.
CREATE OR REPLACE FUNCTION hosting.lifetime_seconds(p_business uuid, p_label text, p_default bigint)
RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT l.lifetime_seconds FROM hosting.retention_labels l
      WHERE l.business_id = p_business AND l.label = p_label AND p_label <> ''),
    (SELECT t.lifetime_seconds FROM hosting.business_terms t WHERE t.business_id = p_business),
    p_default)
$$;

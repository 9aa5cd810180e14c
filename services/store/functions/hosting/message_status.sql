-- A message's status from its conversation's watermarks (NULL: no marks yet).
CREATE OR REPLACE FUNCTION hosting.message_status(p_direction smallint, p_seq bigint,
    p_user_delivered bigint, p_user_read bigint, p_biz_delivered bigint, p_biz_read bigint)
RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
  SELECT (CASE WHEN p_direction = 1 THEN
            CASE WHEN p_seq <= coalesce(p_user_read, 0) THEN 3
                 WHEN p_seq <= coalesce(p_user_delivered, 0) THEN 2 ELSE 1 END
          ELSE
            CASE WHEN p_seq <= coalesce(p_biz_read, 0) THEN 3
                 WHEN p_seq <= coalesce(p_biz_delivered, 0) THEN 2 ELSE 1 END
          END)::smallint
$$;

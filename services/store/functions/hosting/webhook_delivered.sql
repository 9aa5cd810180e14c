-- Records what the instance holding an endpoint's lease delivered: every event of the
-- business's log up to p_floor is done for the endpoint, and p_messages (user messages that got
-- a 2xx) count as acknowledged by the business, exactly as hosting.acknowledge does: their
-- conversations' delivered watermarks move (only up) and the users are told, once. The
-- business's acknowledged position moves up to the lowest position every enabled endpoint
-- delivered, and the events every reader is done with are dropped. p_succeeded: a 2xx came
-- back since the last call (last success now, failures cleared).
-- Returns false, changing nothing, if the caller no longer holds the lease.
CREATE OR REPLACE FUNCTION hosting.webhook_delivered(
    p_endpoint uuid, p_holder uuid, p_floor bigint, p_messages uuid[], p_succeeded boolean,
    p_no_storage_grace bigint)
RETURNS boolean
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
  v_business uuid;
  v_floor bigint;
  v_conversations uuid[];
  v_directions smallint[];
  v_seqs bigint[];
  v_tell uuid[];
  v_messages uuid[];
BEGIN
  UPDATE hosting.webhook_endpoints w
  SET delivered_position = greatest(w.delivered_position, p_floor),
      last_success_at = CASE WHEN p_succeeded THEN now() ELSE w.last_success_at END,
      failing_since = CASE WHEN p_succeeded THEN NULL ELSE w.failing_since END
  WHERE w.endpoint_id = p_endpoint AND w.lease_holder = p_holder AND w.lease_until > now()
  RETURNING w.business_id INTO v_business;
  IF v_business IS NULL THEN
    RETURN false;
  END IF;

  IF cardinality(p_messages) > 0 THEN
    SELECT array_agg(a.conversation_id ORDER BY a.conversation_id, a.direction),
           array_agg(a.direction ORDER BY a.conversation_id, a.direction),
           array_agg(a.seq ORDER BY a.conversation_id, a.direction)
    INTO v_conversations, v_directions, v_seqs
    FROM (SELECT m.conversation_id, m.direction, max(m.seq) AS seq
          FROM hosting.messages m
          JOIN hosting.conversations c ON c.conversation_id = m.conversation_id
          WHERE m.message_id = ANY (p_messages) AND c.business_id = v_business
            AND m.direction = 1
          GROUP BY m.conversation_id, m.direction) a;
    IF v_conversations IS NOT NULL THEN
      SELECT d.o_tell, d.o_conversations, d.o_messages INTO v_tell, v_conversations, v_messages
      FROM hosting.move_delivered_marks(v_conversations, v_directions, v_seqs,
                                        p_no_storage_grace) d;
    END IF;
  END IF;

  SELECT min(w.delivered_position) INTO v_floor
  FROM hosting.webhook_endpoints w WHERE w.business_id = v_business AND w.enabled;
  IF v_floor IS NOT NULL THEN
    INSERT INTO hosting.mailbox_acks AS a (owner_id, acked_position)
    VALUES (v_business, v_floor)
    ON CONFLICT (owner_id) DO UPDATE SET
      acked_position = greatest(a.acked_position, excluded.acked_position);
    PERFORM hosting.drop_delivered_events(v_business);
  END IF;

  IF v_conversations IS NOT NULL THEN
    PERFORM hosting.append_status_events(v_tell, v_conversations, v_messages, 2::smallint);
  END IF;
  RETURN true;
END
$$;

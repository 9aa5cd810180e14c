-- Acknowledging an event log is one statement: the five statements it took (and their round
-- trips, each a wake-up of the server process on a busy machine) run inside this function,
-- in the same order and with the same effects:
-- * the acknowledged message events move each conversation's delivered watermark for the
--   senders' side, and one status event per conversation (naming its latest message) goes to
--   the sender to tell, if any (none for an erased user);
-- * delivered messages of no-storage businesses expire after the grace;
-- * the log's acknowledged position moves up, never past its last event, never back;
-- * the events up to it are dropped, starting after the previous acknowledgement.
-- Planned on each call, as those statements were: which conversations and how many messages an
-- acknowledgement covers varies widely.
CREATE FUNCTION hosting.acknowledge(p_owner uuid, p_position bigint, p_no_storage_grace bigint)
RETURNS bigint
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  v_before bigint;
  v_acked bigint;
  v_tell uuid[];
  v_conversations uuid[];
  v_messages uuid[];
BEGIN
  SELECT coalesce((SELECT a.acked_position FROM hosting.mailbox_acks a
                   WHERE a.owner_id = p_owner), 0) INTO v_before;

  WITH acked AS (
    SELECT m.conversation_id, m.direction, max(m.seq) AS seq
    FROM hosting.events e JOIN hosting.messages m ON m.message_id = e.message_id
    WHERE e.owner_id = p_owner AND e.position > v_before AND e.position <= p_position
      AND e.kind = 1
    GROUP BY m.conversation_id, m.direction ORDER BY m.conversation_id
  ),
  moved AS (
    INSERT INTO hosting.conversation_marks AS k
      (conversation_id, user_msgs_delivered_seq, biz_msgs_delivered_seq)
    SELECT a.conversation_id, CASE WHEN a.direction = 1 THEN a.seq ELSE 0 END,
           CASE WHEN a.direction = 2 THEN a.seq ELSE 0 END
    FROM acked a
    ON CONFLICT (conversation_id) DO UPDATE SET
      user_msgs_delivered_seq = greatest(k.user_msgs_delivered_seq,
                                         excluded.user_msgs_delivered_seq),
      biz_msgs_delivered_seq = greatest(k.biz_msgs_delivered_seq,
                                        excluded.biz_msgs_delivered_seq)
    RETURNING k.conversation_id
  )
  SELECT array_agg(CASE WHEN a.direction = 1 THEN c.user_id ELSE c.business_id END
                   ORDER BY a.conversation_id, a.direction),
         array_agg(a.conversation_id ORDER BY a.conversation_id, a.direction),
         array_agg(m.message_id ORDER BY a.conversation_id, a.direction)
  INTO v_tell, v_conversations, v_messages
  FROM acked a
  JOIN moved ON moved.conversation_id = a.conversation_id
  JOIN hosting.conversations c ON c.conversation_id = a.conversation_id
  JOIN hosting.messages m ON m.conversation_id = a.conversation_id
    AND m.direction = a.direction AND m.seq = a.seq
  WHERE (CASE WHEN a.direction = 1 THEN c.user_id ELSE c.business_id END) IS NOT NULL;

  IF v_conversations IS NOT NULL THEN
    UPDATE hosting.messages m
    SET expires_at = least(m.expires_at, now() + make_interval(secs => p_no_storage_grace))
    FROM hosting.conversations c JOIN hosting.business_terms t USING (business_id)
    LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = c.conversation_id
    WHERE c.conversation_id = ANY (v_conversations) AND m.conversation_id = c.conversation_id
      AND t.no_storage
      AND hosting.message_status(m.direction, m.seq, mk.user_msgs_delivered_seq,
                                 mk.user_msgs_read_seq, mk.biz_msgs_delivered_seq,
                                 mk.biz_msgs_read_seq) >= 2;
  END IF;

  INSERT INTO hosting.mailbox_acks AS a (owner_id, acked_position)
  VALUES (p_owner, least(p_position, coalesce((SELECT h.last_position FROM hosting.mailbox_heads h
                                               WHERE h.owner_id = p_owner), 0)))
  ON CONFLICT (owner_id) DO UPDATE SET
    acked_position = greatest(a.acked_position, excluded.acked_position)
  RETURNING a.acked_position INTO v_acked;

  DELETE FROM hosting.events e
  WHERE e.owner_id = p_owner AND e.position > v_before AND e.position <= v_acked;

  IF v_conversations IS NOT NULL THEN
    PERFORM hosting.append_status_events(v_tell, v_conversations, v_messages, 2::smallint);
  END IF;
  RETURN v_acked;
END
$$;

-- Moves the delivered watermarks of conversations to (at least) the given seqs, one item per
-- (conversation, direction), items in conversation order (the order marks are locked in).
-- Watermarks only move up, with greatest(); an item that moves nothing is dropped, so an
-- acknowledgement through the inbox stream and a webhook delivery of the same message tell its
-- sender once. Delivered messages of no-storage businesses expire after p_no_storage_grace.
-- Returns, per conversation whose watermark moved (and whose sender still exists), the owner
-- to tell, the conversation and the latest message now delivered, for
-- hosting.append_status_events, which the caller runs when its lock order allows.
CREATE OR REPLACE FUNCTION hosting.move_delivered_marks(
    p_conversations uuid[], p_directions smallint[], p_seqs bigint[], p_no_storage_grace bigint,
    OUT o_tell uuid[], OUT o_conversations uuid[], OUT o_messages uuid[])
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
BEGIN
  WITH acked AS (
    SELECT t.conversation_id, t.direction, t.seq
    FROM unnest(p_conversations, p_directions, p_seqs) AS t(conversation_id, direction, seq)
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
    WHERE k.user_msgs_delivered_seq < excluded.user_msgs_delivered_seq
       OR k.biz_msgs_delivered_seq < excluded.biz_msgs_delivered_seq
    RETURNING k.conversation_id
  )
  SELECT array_agg(CASE WHEN a.direction = 1 THEN c.user_id ELSE c.business_id END
                   ORDER BY a.conversation_id, a.direction),
         array_agg(a.conversation_id ORDER BY a.conversation_id, a.direction),
         array_agg(m.message_id ORDER BY a.conversation_id, a.direction)
  INTO o_tell, o_conversations, o_messages
  FROM acked a
  JOIN moved ON moved.conversation_id = a.conversation_id
  JOIN hosting.conversations c ON c.conversation_id = a.conversation_id
  JOIN hosting.messages m ON m.conversation_id = a.conversation_id
    AND m.direction = a.direction AND m.seq = a.seq
  WHERE (CASE WHEN a.direction = 1 THEN c.user_id ELSE c.business_id END) IS NOT NULL;

  IF o_conversations IS NOT NULL THEN
    UPDATE hosting.messages m
    SET expires_at = least(m.expires_at, now() + make_interval(secs => p_no_storage_grace))
    FROM hosting.conversations c JOIN hosting.business_terms t USING (business_id)
    LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = c.conversation_id
    WHERE c.conversation_id = ANY (o_conversations) AND m.conversation_id = c.conversation_id
      AND t.no_storage
      AND hosting.message_status(m.direction, m.seq, mk.user_msgs_delivered_seq,
                                 mk.user_msgs_read_seq, mk.biz_msgs_delivered_seq,
                                 mk.biz_msgs_read_seq) >= 2;
  END IF;
END
$$;
